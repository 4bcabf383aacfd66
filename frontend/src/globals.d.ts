// What the pages put on ``window`` for tests, the benchmark and debugging.
interface Window {
  readingViewer?: import('./viewer.js').Viewer;
  readingSession?: unknown;
  readingSessionLauncher?: unknown;
}
