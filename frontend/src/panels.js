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

export const panelMethods = {
  /** The saved measurements: jump to the image, export as DICOM SR, delete. */
  renderAnnotationList() {
    if (!this.annotationList) return;
    const records = this.annotations.records();
    if (!records.length) {
      this.annotationList.replaceChildren(el('li', { class: 'muted' }, 'None yet'));
      return;
    }
    this.annotationList.replaceChildren(
      ...records.map((r) =>
        el(
          'li',
          { class: 'vw-annotation', dataset: { annotationId: r.id } },
          el(
            'button',
            { type: 'button', class: 'link', title: 'Show this image', onclick: () => this.showAnnotation(r) },
            `${TOOL_LABELS[r.tool] || r.tool} `,
            el('span', { class: 'value' }, summarizeMeasurement(r)),
          ),
          el(
            'span',
            { class: 'actions' },
            r.sr_sop_instance_uid
              ? el('span', { class: 'ok', title: `DICOM SR ${r.sr_sop_instance_uid}` }, 'SR ✓')
              : el('button', { type: 'button', title: 'Export as DICOM SR (TID 1500) into the study',
                  dataset: { action: 'export-sr' }, onclick: () => this.exportSr(r) }, 'SR'),
            el('button', { type: 'button', title: 'Delete', dataset: { action: 'delete-annotation' },
              onclick: () => this.deleteAnnotation(r) }, '×'),
          ),
        ),
      ),
    );
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
