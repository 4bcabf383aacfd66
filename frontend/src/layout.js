/**
 * The viewport grid: four stack cells (viewport element, scroll bar, load progress,
 * overlay), the layouts that show 1, 2 or 4 of them, the Cornerstone stack viewports
 * enabled in the shown cells, the active viewport, and scrolling by slice.
 *
 * What it needs is passed in (``GridDeps``); it knows nothing of series lists, tools or
 * sessions. ``Viewer.setLayout`` adds what a layout change means to the rest (MPR off,
 * comparison unlinked, new cells filled).
 */
import { Enums, utilities as csUtils } from '@cornerstonejs/core';

import { actionButton, el } from './dom.js';
import { holdsImages } from './early.js';
import { createOverlay } from './overlays.js';

const { ViewportType } = Enums;

export const LAYOUTS = { '1x1': 1, '1x2': 2, '2x2': 4 };
export const ENGINE_ID = 'rr-engine';

// The DOM helper lives in dom.js; re-exported for the feature folders that import it here.
export { el };

/**
 * One stack cell of the grid (MPR planes have cells of the same shape without ``index``).
 * @typedef {object} Cell
 * @property {number} index
 * @property {string} id the viewport id, ``vp-<index>``
 * @property {HTMLElement} cell
 * @property {HTMLDivElement} element the viewport element Cornerstone draws in
 * @property {any} overlay
 * @property {HTMLElement} scrollbar
 * @property {HTMLElement} thumb
 * @property {HTMLElement} progress
 * @property {any} series the SeriesData shown, or null
 * @property {boolean} enabled
 * @property {boolean} [isPrior]
 * @property {string} [label]
 */

/**
 * A stack or a volume viewport: callers check which before they call what only one kind
 * answers (``getImageIds`` on stacks, ``getSliceIndex`` on volumes).
 * @typedef {import('@cornerstonejs/core').Types.IStackViewport
 *   & Partial<Omit<import('@cornerstonejs/core').Types.IVolumeViewport,
 *     keyof import('@cornerstonejs/core').Types.IStackViewport>>} ReadingViewport
 */

/**
 * @typedef {object} GridDeps
 * @property {() => import('@cornerstonejs/core').RenderingEngine | undefined} engine
 * @property {() => import('@cornerstonejs/tools').Types.IToolGroup} toolGroup the stack tool group
 * @property {(viewportId: string) => void} onActivate a pointer went down in a cell
 * @property {(index: number, seriesUid: string) => void} onDrop a series was dropped on a cell
 * @property {(layout: string) => void} onPickLayout a layout button was pressed
 * @property {string} studyUid the current study (other series are a prior's)
 * @property {(cell: Cell) => void} onRelease a cell stops showing its series (cine stops)
 * @property {(cell: Cell) => void} onShown a cell shows a new series
 * @property {(imageId: string, error: any) => void} onImageFailed
 * @property {(message: string) => void} notify
 * @property {(viewportId: string, element: HTMLElement) => void} bindViewport
 * @property {() => void} onResized after the canvases were resized
 */

export class ViewportGrid {
  /** @param {GridDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {Cell[]} */
    this.cells = [];
    this.layout = '1x1';
    this.activeViewportId = 'vp-0';
    this.node = el('div', { class: 'vw-grid', dataset: { layout: '1x1' } });
    /** @type {HTMLButtonElement[]} the toolbar's layout buttons */
    this.layoutButtons = Object.keys(LAYOUTS).map((l) =>
      actionButton(`layout-${l}`, l, `Layout ${l}`, () => deps.onPickLayout(l)),
    );
    for (let i = 0; i < 4; i += 1) this.cells.push(this.buildCell(i));
  }

  /** @param {number} i @returns {Cell} */
  buildCell(i) {
    const deps = this.deps;
    const id = `vp-${i}`;
    const element = el('div', { class: 'vw-element' });
    element.oncontextmenu = (e) => e.preventDefault();
    const thumb = el('div', { class: 'vw-thumb' });
    const scrollbar = el('div', { class: 'vw-scrollbar', title: 'Scroll' }, thumb);
    const progress = el('div', { class: 'vw-cell-progress' }, el('div', { class: 'bar' }));
    const cell = el('div', { class: 'vw-cell', dataset: { viewportId: id } }, element, scrollbar, progress);
    const overlay = createOverlay(cell);
    cell.addEventListener('pointerdown', () => deps.onActivate(id), true);
    cell.addEventListener('dragover', (e) => {
      if (e.dataTransfer.types.includes('text/x-series-uid')) {
        e.preventDefault();
        cell.classList.add('drop');
      }
    });
    cell.addEventListener('dragleave', () => cell.classList.remove('drop'));
    cell.addEventListener('drop', (e) => {
      e.preventDefault();
      cell.classList.remove('drop');
      deps.onDrop(i, e.dataTransfer.getData('text/x-series-uid'));
    });
    this.bindScrollbar(i, scrollbar);
    deps.bindViewport(id, element);
    this.node.append(cell);
    return { index: i, id, cell, element, overlay, scrollbar, thumb, progress, series: null, enabled: false };
  }

  /** @returns {ReadingViewport | undefined} */
  viewportById(id) {
    return /** @type {any} */ (this.deps.engine()?.getViewport(id));
  }

  /** The stack cell of viewport ``id``, if it is one. */
  cellOf(id) {
    return this.cells.find((c) => c.id === id);
  }

  /** The index of the active stack cell (0 when the active viewport is not one). */
  activeIndex() {
    const cell = this.cellOf(this.activeViewportId);
    return cell && cell.enabled ? cell.index : 0;
  }

  /** The active stack cell, if enabled. */
  activeCell() {
    return this.cells.find((x) => x.id === this.activeViewportId && x.enabled);
  }

  activeViewport() {
    return this.viewportById(this.activeViewportId) || this.viewportById('vp-0');
  }

  /** Mark ``viewportId`` active among the stack cells and ``extraCells`` (MPR planes). */
  setActive(viewportId, extraCells = []) {
    this.activeViewportId = viewportId;
    for (const c of [...this.cells, ...extraCells]) c.cell.classList.toggle('active', c.id === viewportId);
  }

  /**
   * Show ``layout``'s cells, with viewports in the shown ones only, fitted to their size;
   * empty cells get the next series of ``seriesList`` not on screen yet.
   */
  showLayout(layout, seriesList = []) {
    this.layout = layout;
    this.node.dataset.layout = layout;
    const count = LAYOUTS[layout];
    for (const b of this.layoutButtons) b.classList.toggle('on', b.dataset.action === `layout-${layout}`);
    for (const c of this.cells) {
      const visible = c.index < count;
      c.cell.hidden = !visible;
      if (visible && !c.enabled) this.enableCell(c);
      else if (!visible && c.enabled) this.disableCell(c);
    }
    this.resize(true);
    const shown = new Set(this.cells.filter((c) => c.enabled && c.series).map((c) => c.series.uid));
    const candidates = seriesList.filter((s) => !shown.has(s.uid) && s.instanceCount > 0 && holdsImages(s.modality));
    for (const c of this.cells) {
      if (c.enabled && !c.series && candidates.length) this.show(c.index, candidates.shift());
    }
  }

  /** @param {Cell} c */
  enableCell(c) {
    this.deps.engine().enableElement({
      viewportId: c.id,
      type: ViewportType.STACK,
      element: c.element,
      defaultOptions: { background: [0, 0, 0] },
    });
    this.deps.toolGroup().addViewport(c.id, ENGINE_ID);
    c.enabled = true;
  }

  /** @param {Cell} c */
  disableCell(c) {
    this.deps.onRelease(c);
    this.deps.toolGroup().removeViewports(ENGINE_ID, c.id);
    this.deps.engine().disableElement(c.id);
    c.enabled = false;
    c.series = null;
  }

  /** Resize the canvases; ``refit`` (layout changes) fits the images to their new cells. */
  resize(refit = false) {
    const engine = this.deps.engine();
    if (!engine) return;
    engine.resize(true, !refit);
    this.deps.onResized();
  }

  /** Show ``series`` in cell ``index`` from image ``imageIndex`` (default: the middle one). */
  async show(index, series, imageIndex) {
    const deps = this.deps;
    const c = this.cells[index];
    if (!c.enabled) return;
    // An SR, KO or PR: the cell keeps what it shows (its series is never one without images).
    if (!holdsImages(series.modality)) {
      deps.notify(`${series.description || series.modality}: not images, nothing to display`);
      return;
    }
    deps.onRelease(c);
    c.series = series;
    c.isPrior = series.studyUid !== deps.studyUid;
    deps.notify(`Loading ${series.description || series.uid}…`);
    await series.loadMetadata();
    if (c.series !== series) return; // replaced while loading
    if (!series.total) {
      deps.notify(`${series.description || 'Series'}: no images to display`);
      return;
    }
    const viewport = this.viewportById(c.id);
    const start = imageIndex ?? (series.total > 1 ? Math.floor(series.total / 2) : 0);
    // The slice in view loads alone first; the rest follow, nearest to it first.
    try {
      await viewport.setStack(series.imageIds, start);
    } catch (err) {
      // The CPU path rejects (the WebGL path only raises IMAGE_LOAD_ERROR): the cell says so
      // on that image and the rest of the series stays readable.
      deps.onImageFailed(series.imageIds[start], err);
    } finally {
      series.prefetch(start);
    }
    if (c.series !== series) return;
    viewport.render();
    deps.onShown(c);
  }

  /** The load progress bars of the cells showing ``series``. */
  showProgress(series, fraction, failed) {
    for (const c of this.cells) {
      if (c.enabled && c.series === series) {
        c.progress.hidden = series.isComplete && !failed;
        c.progress.classList.toggle('failed', failed > 0);
        /** @type {HTMLElement} */ (c.progress.firstChild).style.width = `${Math.round(fraction * 100)}%`;
      }
    }
  }

  // ---- scrolling -------------------------------------------------------------------------

  scroll(delta) {
    const viewport = this.activeViewport();
    if (!viewport) return;
    csUtils.scroll(viewport, { delta });
  }

  jumpTo(viewportId, index) {
    const viewport = this.viewportById(viewportId);
    if (!viewport) return;
    if (viewport.setImageIdIndex) {
      const total = viewport.getImageIds().length;
      viewport.setImageIdIndex(Math.max(0, Math.min(total - 1, index)));
    } else {
      csUtils.jumpToSlice(viewport.element, { imageIndex: index });
    }
  }

  scrollToEnd(last) {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const total = viewport.getImageIds ? viewport.getImageIds().length : viewport.getNumberOfSlices();
    this.jumpTo(viewport.id, last ? total - 1 : 0);
  }

  bindScrollbar(index, bar) {
    const go = (e) => {
      const c = this.cells[index];
      const viewport = c.enabled && this.viewportById(c.id);
      if (!viewport?.getImageIds) return;
      const rect = bar.getBoundingClientRect();
      const total = viewport.getImageIds().length;
      const f = Math.min(1, Math.max(0, (e.clientY - rect.top) / rect.height));
      this.jumpTo(c.id, Math.round(f * (total - 1)));
    };
    bar.addEventListener('pointerdown', (e) => {
      e.stopPropagation();
      bar.setPointerCapture(e.pointerId);
      go(e);
      const move = (ev) => go(ev);
      const up = () => {
        bar.removeEventListener('pointermove', move);
        bar.removeEventListener('pointerup', up);
      };
      bar.addEventListener('pointermove', move);
      bar.addEventListener('pointerup', up);
    });
  }
}
