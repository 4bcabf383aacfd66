/** Entry point of the viewer page: start the network work, then load and start the viewer. */
import './viewer.css';

import { Dock } from './dock.js';
import { startEarly } from './early.js';

/**
 * The features beside the images, each in its own folder with a data part and a UI part,
 * each adding one panel to the dock. They talk to each other only through viewer events:
 *
 *   'session-event'   envelope       a session event of a type the session client does not
 *                                    handle itself (dictation.*, ai.*, report.*)
 *   'report-insert'   { text, source, section? }   put text at the report's cursor
 *                                    (dictation finals, accepted AI findings, measurements)
 *   'report-command'  { op, ... }    an editing command (next field, go to section, ...)
 *   'dictation-state' { state }      the microphone's state (idle, listening, error, ...)
 */
function installFeatures(viewer, options) {
  viewer.dock = new Dock(viewer);
  const features = [
    import('./report/index.js'),
    import('./dictation/index.js'),
    import('./ai/index.js'),
  ];
  for (const feature of features) {
    feature
      .then((m) => m.install(viewer, options))
      .catch((err) => {
        console.error('viewer: a feature failed to start', err);
        viewer.notify(`A panel failed to start: ${err?.message || err}`);
      });
  }
}

const root = document.getElementById('rr-viewer');
const config = JSON.parse(document.getElementById('viewer-config').textContent);
startEarly(config);

import('./viewer.js')
  .then(({ Viewer }) => {
    const viewer = new Viewer(root, config);
    window.readingViewer = viewer;
    return viewer.start();
  })
  .then((viewer) => {
    // A live reading session (docs/realtime.md): loaded only when the URL names one.
    const params = new URLSearchParams(window.location.search);
    const sessionId = params.get('session');
    installFeatures(viewer, { sessionId });
    const control = import('./session/launcher.js').then((m) => m.installSessionControl(viewer, { sessionId }));
    if (sessionId) return import('./session/session.js').then((m) => m.startSession(viewer, sessionId));
    // ?join=1 (the worklist's "Join reading session"): the study's active session, if any.
    if (params.get('join')) return control.then((launcher) => launcher.joinActive());
    return control;
  })
  .catch((err) => {
    console.error('viewer: failed to start', err);
    root.dataset.error = String(err?.message || err);
    window.readingViewer?.notify(`The viewer could not start: ${err?.message || err}`);
  });
