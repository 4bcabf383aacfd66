/** Starts the full-page report: a small event source in place of the viewer. */
import { Emitter } from '../emitter.js';
import { connect } from './index.js';
import { ReportPanel } from './report_ui.js';

export function start(root, config) {
  /** @type {any} */
  const page = new Emitter();
  page.config = config;
  const panel = new ReportPanel(root, { viewer: page, reportId: config.reportId, studyUid: config.studyUid, page: true });
  connect(panel, page);
  /** @type {any} */ (window).reportPage = { panel, emit: (type, detail) => page.emit(type, detail) };
  return panel.load();
}
