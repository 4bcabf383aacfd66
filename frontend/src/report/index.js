/**
 * The report feature: the Report dock panel (report_ui.js and the feature modules it lays
 * out) with its co-edited editor, joined to the viewer's events:
 *
 *   'report-insert'   { text, source, meta }  text at the local cursor (dictation finals,
 *                     accepted AI findings, measurements, macros); starts the draft when
 *                     the study has none yet
 *   'report-command'  { op, ... }  next_field / prev_field / section {name} / scratch /
 *                     macro {name} / sign
 *   'dictation-state' { state }    the microphone button follows it
 *   'session-event'   report.status (refetch) and report.suggestion (show it)
 *
 * ``viewer.report`` exposes ``panel`` and ``focus()`` (and the editor, for tests).
 */
import './report.css';

import { ReportPanel } from './report_ui.js';

/** Wire a panel to an event source (the viewer, or the full page's own emitter). */
export function connect(panel, viewer) {
  const ready = async () => {
    if (!panel.report && panel.studyUid) await panel.start();
    await panel.whenSynced();
    return panel.editor;
  };
  viewer.on('report-insert', async (detail) => {
    const editor = await ready();
    if (!editor) return;
    if (!editor.insert(detail || {})) panel.say('The report is read-only: the text was not inserted.');
  });
  viewer.on('report-command', async (detail = {}) => {
    const editor = await ready();
    if (!editor) return;
    switch (detail.op) {
      case 'next_field': editor.jumpField(1); break;
      case 'prev_field': editor.jumpField(-1); break;
      case 'section': editor.goToSection(detail.name); break;
      case 'scratch': editor.scratch(); break;
      case 'macro': await editor.expandMacro(detail.name); break;
      case 'sign': {
        const level = panel.signoff.level();
        if (level) panel.signoff.confirm(level);
        break;
      }
      default: break;
    }
  });
  viewer.on('dictation-state', (detail) => panel.header.setDictationState(detail?.state || detail));
  viewer.on('session-event', (envelope) => {
    const type = envelope?.type;
    const payload = envelope?.payload || {};
    if (type === 'report.status') {
      const ids = [panel.report?.id, panel.original?.id];
      if (!panel.report || ids.includes(payload.id) || ids.includes(payload.parent_id)) {
        panel.refresh().catch(() => {});
      }
    } else if (type === 'report.suggestion' && payload.report_id === panel.report?.id) {
      panel.impression.show(payload.suggestion);
    }
  });
}

export function install(viewer) {
  const content = viewer.dock.addPanel('report', 'Report', { order: 10 });
  const panel = new ReportPanel(content, { viewer, studyUid: viewer.config.studyUid });
  connect(panel, viewer);
  viewer.report = {
    panel,
    focus: () => {
      viewer.dock.show('report');
      panel.editor?.focus();
    },
  };
  panel.load();
}
