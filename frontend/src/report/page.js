/** The full-page report view (/reports/<id>/): the same editor, versions and diff. */
const root = document.getElementById('rr-report-page');
const config = JSON.parse(document.getElementById('report-config').textContent);

// Loaded lazily so Vite injects its stylesheet like the viewer's features.
import('./page_main.js')
  .then((m) => m.start(root, config))
  .catch((err) => {
    console.error('report page: failed to start', err);
    root.dataset.error = String(err?.message || err);
    root.textContent = `The report could not start: ${err?.message || err}`;
  });
