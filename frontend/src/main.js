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
  .catch((err) => {
    console.error('viewer: failed to start', err);
    root.dataset.error = String(err?.message || err);
    window.readingViewer?.notify(`The viewer could not start: ${err?.message || err}`);
  });
