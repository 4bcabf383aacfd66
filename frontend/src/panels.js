/** The measurements list: every saved annotation, jump to it, export it as DICOM SR, delete. */
import { annotation as toolAnnotation } from '@cornerstonejs/tools';

import { el } from './layout.js';

const TOOL_LABELS = {
  length: 'Length', angle: 'Angle', ellipse_roi: 'Ellipse', rectangle_roi: 'Rect', probe: 'Probe',
  arrow: 'Arrow',
};

function summarizeMeasurement(record) {
  const m = record.measurements || {};
  const v = (name, digits = 1) =>
    m[name] ? `${Number(m[name].value).toFixed(digits)}${m[name].unit ? ` ${m[name].unit}` : ''}` : '';
  switch (record.tool) {
    case 'length':
      return v('length');
    case 'angle':
      return m.angle ? `${Number(m.angle.value).toFixed(1)}°` : '';
    case 'ellipse_roi':
    case 'rectangle_roi':
      return [m.mean && `mean ${v('mean')}`, m.std_dev && `SD ${v('std_dev')}`].filter(Boolean).join(', ');
    case 'probe':
      return v('value');
    case 'arrow':
      return record.text || record.label || '';
    default:
      return record.label || '';
  }
}

/** "S2 Im 14" for the record's image (series and instance numbers), once its series is known. */
function imageRef(viewer, record) {
  const series = viewer.findSeries(record.series_instance_uid);
  if (!series) return '';
  const meta = [...series.instances.values()].find(
    (m) => m?.['00080018']?.Value?.[0] === record.sop_instance_uid,
  );
  const number = meta?.['00200013']?.Value?.[0];
  const frame = record.frame_number > 1 ? ` f${record.frame_number}` : '';
  return `S${series.number ?? '?'}${number !== undefined ? ` Im ${number}` : ''}${frame}`;
}

function authorOf(record) {
  const a = record.author;
  if (!a) return record.source === 'ai' ? 'AI' : '';
  return a.display_name || a.username || '';
}

export const panelMethods = {
  /**
   * The saved measurements, each told apart by tool, label, value, image (series and
   * image number) and author: jump to the image, export as DICOM SR, delete (after asking;
   * neither is offered read-only).
   */
  renderAnnotationList() {
    if (!this.annotationList) return;
    const records = this.annotations.records();
    if (!records.length) {
      this.annotationList.replaceChildren(el('li', { class: 'muted' }, 'None yet'));
      return;
    }
    const readonly = Boolean(this.config.readonly);
    this.annotationList.replaceChildren(
      ...records.map((r) => {
        const label = r.tool === 'arrow' ? '' : r.label || '';
        const actions = readonly
          ? []
          : [
              r.sr_sop_instance_uid
                ? el('span', { class: 'ok', title: `DICOM SR ${r.sr_sop_instance_uid}` }, 'SR ✓')
                : el('button', { type: 'button', title: 'Export as DICOM SR (TID 1500) into the study',
                    dataset: { action: 'export-sr' }, onclick: () => this.exportSr(r) }, 'SR'),
              el('button', { type: 'button', title: 'Delete (asks first)', dataset: { action: 'delete-annotation' },
                onclick: () => this.confirmDeleteAnnotation(r) }, '×'),
            ];
        return el(
          'li',
          { class: 'vw-annotation', dataset: { annotationId: r.id } },
          el(
            'button',
            { type: 'button', class: 'link', title: 'Show this image', onclick: () => this.showAnnotation(r) },
            `${TOOL_LABELS[r.tool] || r.tool} `,
            label ? el('span', { class: 'label' }, `${label} `) : null,
            el('span', { class: 'value' }, summarizeMeasurement(r)),
            el('span', { class: 'where muted' }, ` ${imageRef(this, r)}`),
            el('span', { class: 'author muted' }, authorOf(r) ? ` · ${authorOf(r)}` : ''),
          ),
          el('span', { class: 'actions' }, actions),
        );
      }),
    );
  },
  /** Turn a row's actions into "Delete? [Delete] [Keep]"; only "Delete" removes it. */
  confirmDeleteAnnotation(record) {
    if (this.config.readonly) return;
    const row = this.annotationList?.querySelector(`.vw-annotation[data-annotation-id="${record.id}"]`);
    const actions = row?.querySelector('.actions');
    if (!actions) return;
    const keep = el('button', { type: 'button', dataset: { action: 'keep-annotation' },
      onclick: () => this.renderAnnotationList() }, 'Keep');
    actions.replaceChildren(
      el('span', { class: 'ask' }, 'Delete?'),
      el('button', { type: 'button', class: 'danger', dataset: { action: 'confirm-delete' },
        onclick: () => this.deleteAnnotation(record) }, 'Delete'),
      keep,
    );
    keep.focus();
  },
  async showAnnotation(record) {
    const imageId = await this.findImageId(record.series_instance_uid, record.sop_instance_uid, record.frame_number);
    const series = this.findSeries(record.series_instance_uid);
    if (!imageId || !series) return;
    const index = series.imageIds.indexOf(imageId);
    const c = this.cells.find((x) => x.enabled && x.series === series);
    if (c) this.jumpTo(c.id, index);
    else await this.displaySeries(this.activeIndex(), series, index);
  },
  async exportSr(record) {
    const uid = this.annotations.byServer.get(String(record.id));
    try {
      const result = await this.annotations.exportSr(uid);
      this.annotations._remember(uid, result.annotation);
      this.notify(`Stored as DICOM SR ${result.sop_instance_uid}`);
      this.renderAnnotationList();
      // The new SR series shows in the series list now, not after a reload.
      await this.refreshSeriesList();
      return result;
    } catch (err) {
      this.notify(`SR export failed (${err.status || err.message})`);
      return null;
    }
  },
  deleteAnnotation(record) {
    const uid = this.annotations.byServer.get(String(record.id));
    // Removing it from Cornerstone's state fires ANNOTATION_REMOVED, which DELETEs it.
    if (uid) toolAnnotation.state.removeAnnotation(uid);
    this.renderAll();
  },
};
