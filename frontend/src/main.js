/** Entry point of the viewer page bundle: read the page's config and start the viewer. */
import './viewer.css';

import { Viewer } from './viewer.js';

const root = document.getElementById('rr-viewer');
const config = JSON.parse(document.getElementById('viewer-config').textContent);
const viewer = new Viewer(root, config);
window.readingViewer = viewer;
viewer.start().catch((err) => {
  console.error('viewer: failed to start', err);
  root.dataset.error = String(err?.message || err);
  viewer.notify(`The viewer could not start: ${err?.message || err}`);
});
