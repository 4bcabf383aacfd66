/** Entry point of the viewer page: start the network work, then load and start the viewer. */
import './viewer.css';

import { startEarly } from './early.js';

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
