/**
 * The measurements list in the side bar: every saved annotation, told apart by tool,
 * label, value, image and author; jump to it, export it as DICOM SR, delete (after asking).
 *
 * Its own module with one job; what it needs of the viewer comes in ``MeasurementsDeps``.
 * The viewer shows ``node`` in its side bar and calls ``render()`` when the records change.
 */
import { annotation as toolAnnotation } from '@cornerstonejs/tools';

import { el } from './dom.js';

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
function imageRef(findSeries, record) {
  const series = findSeries(record.series_instance_uid);
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

/**
 * @typedef {object} MeasurementsDeps
 * @property {boolean} readonly nothing is exported or deleted
 * @property {() => any[]} records the saved annotation records (annotations-sync.js)
 * @property {(id: number | string) => string | undefined} uidOf the Cornerstone annotation showing record ``id``
 * @property {(uid: string) => any} recordOf the record Cornerstone annotation ``uid`` shows
 * @property {(uid: string) => Promise<any>} exportSr store the annotation's record as DICOM SR
 * @property {(uid: string, record: any) => void} remember annotation ``uid`` now shows ``record``
 * @property {(uid: string) => any} findSeries
 * @property {(seriesUid: string, sopUid: string, frame?: number) => Promise<string | null>} findImageId
 * @property {() => any[]} cells the viewport grid's cells
 * @property {(viewportId: string, index: number) => void} jumpTo
 * @property {() => number} activeIndex the active cell's index
 * @property {(index: number, series: any, imageIndex?: number) => Promise<void>} displaySeries
 * @property {() => Promise<any>} refreshSeriesList
 * @property {() => void} renderAll
 * @property {(message: string) => void} notify
 */

export class MeasurementsPanel {
  /** @param {MeasurementsDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {HTMLUListElement} */
    this.node = el('ul', { class: 'vw-annotations' });
  }

  /**
   * The saved measurements, each told apart by tool, label, value, image (series and
   * image number) and author: jump to the image, export as DICOM SR, delete (after asking;
   * neither is offered read-only).
   */
  render() {
    const { deps } = this;
    const records = deps.records();
    if (!records.length) {
      this.node.replaceChildren(el('li', { class: 'muted' }, 'None yet'));
      return;
    }
    const readonly = deps.readonly;
    this.node.replaceChildren(
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
                onclick: () => this.confirmDelete(r) }, '×'),
            ];
        return el(
          'li',
          { class: 'vw-annotation', dataset: { annotationId: r.id } },
          el(
            'button',
            { type: 'button', class: 'link', title: 'Show this image', onclick: () => this.show(r) },
            `${TOOL_LABELS[r.tool] || r.tool} `,
            label ? el('span', { class: 'label' }, `${label} `) : null,
            el('span', { class: 'value' }, summarizeMeasurement(r)),
            el('span', { class: 'where muted' }, ` ${imageRef(deps.findSeries, r)}`),
            el('span', { class: 'author muted' }, authorOf(r) ? ` · ${authorOf(r)}` : ''),
          ),
          el('span', { class: 'actions' }, actions),
        );
      }),
    );
  }

  /** Delete/Backspace: ask about the selected measurements (nothing in read-only). */
  deleteSelected() {
    const { deps } = this;
    if (deps.readonly) {
      deps.notify('Read-only: measurements cannot be deleted');
      return;
    }
    for (const uid of toolAnnotation.selection.getAnnotationsSelected()) {
      const record = deps.recordOf(uid);
      if (record) this.confirmDelete(record);
    }
  }

  confirmDelete(record) {
    if (this.deps.readonly) return;
    const row = this.node.querySelector(`.vw-annotation[data-annotation-id="${record.id}"]`);
    const actions = row?.querySelector('.actions');
    if (!actions) return;
    const keep = el('button', { type: 'button', dataset: { action: 'keep-annotation' },
      onclick: () => this.render() }, 'Keep');
    actions.replaceChildren(
      el('span', { class: 'ask' }, 'Delete?'),
      el('button', { type: 'button', class: 'danger', dataset: { action: 'confirm-delete' },
        onclick: () => this.delete(record) }, 'Delete'),
      keep,
    );
    keep.focus();
  }

  /**
   * Mark the measurements stored in these SR instances (a click on an SR series of the
   * series list) and scroll to the first; the marks go with the next ``render``.
   * @param {string[]} sopUids SOP Instance UIDs of SR instances
   * @returns {number} how many were marked
   */
  markReported(sopUids) {
    const wanted = new Set(sopUids);
    const records = this.deps.records();
    const ids = new Set(records.filter((r) => wanted.has(r.sr_sop_instance_uid)).map((r) => String(r.id)));
    for (const li of /** @type {NodeListOf<HTMLElement>} */ (this.node.querySelectorAll('.vw-annotation'))) {
      li.classList.toggle('in-report', ids.has(li.dataset.annotationId));
    }
    this.node.querySelector('.vw-annotation.in-report')?.scrollIntoView({ block: 'nearest' });
    return ids.size;
  }

  /** Show the image the measurement is on: in a cell showing its series, else the active one. */
  async show(record) {
    const { deps } = this;
    const imageId = await deps.findImageId(record.series_instance_uid, record.sop_instance_uid, record.frame_number);
    const series = deps.findSeries(record.series_instance_uid);
    if (!imageId || !series) return;
    const index = series.imageIds.indexOf(imageId);
    const c = deps.cells().find((x) => x.enabled && x.series === series);
    if (c) deps.jumpTo(c.id, index);
    else await deps.displaySeries(deps.activeIndex(), series, index);
  }

  async exportSr(record) {
    const { deps } = this;
    const uid = deps.uidOf(record.id);
    try {
      const result = await deps.exportSr(uid);
      deps.remember(uid, result.annotation);
      deps.notify(`Stored as DICOM SR ${result.sop_instance_uid}`);
      this.render();
      // The new SR series shows in the series list now, not after a reload.
      await deps.refreshSeriesList();
      return result;
    } catch (err) {
      deps.notify(`SR export failed (${err.status || err.message})`);
      return null;
    }
  }

  delete(record) {
    const uid = this.deps.uidOf(record.id);
    // Removing it from Cornerstone's state fires ANNOTATION_REMOVED, which DELETEs it.
    if (uid) toolAnnotation.state.removeAnnotation(uid);
    this.deps.renderAll();
  }
}
