/**
 * AI findings in the viewer: the data part (ai_data.js: jobs and findings over REST and
 * ``ai.*`` session events), the UI part (ai_ui.js: the AI panel) and the boxes drawn on
 * the images (boxes.js), joined to the viewer's events:
 *
 *   'session-event'   ``ai.*`` envelopes forwarded by the session client
 *   'report-insert'   { text, source: 'ai', meta: { annotation, job } } for accepted findings
 *   'viewport-changed' the series in view changed: the panel's estimate follows it
 *
 * Outside a session the study's AI socket (``/ws/ai/studies/<uid>/``) carries the same
 * ``ai.*`` envelopes, so other readers' jobs and reviews show without a reload.
 *
 * ``viewer.ai``: ``read(task?)`` (the "AI read" button and its shortcut), ``state()``,
 * ``data`` and ``boxes`` (where a box is drawn: tests grab its corners).
 */
import './ai.css';

import { AiData } from './ai_data.js';
import { AiPanel } from './ai_ui.js';
import { AiBoxes } from './boxes.js';

/**
 * @param {any} viewer
 * @param {{sessionId?: string | null}} [options]
 */
export function install(viewer, { sessionId = null } = {}) {
  const data = new AiData({ api: viewer.config.api, studyUid: viewer.config.studyUid, sessionId });
  const boxes = new AiBoxes(viewer);
  const panel = new AiPanel(viewer, data, boxes, { readonly: Boolean(viewer.config.readonly) });
  panel.install();
  viewer.on('session-event', (envelope) => {
    if (envelope?.type?.startsWith('ai.')) data.onEvent(envelope);
  });
  viewer.ai = {
    read: (task) => panel.read(task),
    state: () => data.snapshot(),
    data,
    boxes,
  };
  data.load();
  data.listen();
}
