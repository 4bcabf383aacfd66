/**
 * Overlay wiring: when and with what each cell's overlay (overlays.js) and scroll bar
 * thumb are redrawn. Bursts of viewport events are coalesced into one redraw per frame;
 * a frame that failed to load is said on its image instead of the markers.
 */
import { updateOverlay } from './overlays.js';

/**
 * @typedef {import('./layout.js').Cell} Cell
 * @typedef {object} OverlayDeps
 * @property {any} config the page's viewer config (patient, study, priors)
 * @property {(id: string) => import('./layout.js').ReadingViewport | undefined} viewportById
 * @property {(id: string) => Cell | undefined} cellOf a stack cell or an MPR plane's cell
 * @property {() => Cell[]} shownCells the cells on screen (enabled stacks, or the MPR planes)
 * @property {() => { series: any, slab: number }} mpr the MPR volume's series and slab
 * @property {(series: any, imageId: string | undefined, voiRange: any) => string} presetLabel
 * @property {(id: string) => string} syncLabel the prior sync's note for a viewport
 * @property {() => string} activeViewportId
 * @property {() => void} onActiveRedrawn the active cell's overlay was redrawn
 */

export class CellOverlays {
  /** @param {OverlayDeps} deps */
  constructor(deps) {
    this.deps = deps;
    const c = deps.config;
    this.study = {
      patientName: c.patient?.name || '',
      patientId: c.patient?.id || '',
      patientSex: c.patient?.sex || '',
      patientBirthDate: c.patient?.birthDate || '',
      studyDate: c.study?.date || '',
      studyDescription: c.study?.description || '',
    };
    /** @type {Set<string>} viewports with a redraw waiting for the next frame */
    this.pending = new Set();
  }

  /** Redraw viewport ``id``'s overlay at the next frame (once however often asked). */
  schedule(id) {
    if (this.pending.has(id)) return;
    this.pending.add(id);
    requestAnimationFrame(() => {
      this.pending.delete(id);
      const c = this.deps.cellOf(id);
      if (c) this.update(c);
    });
  }

  /** @param {Cell} c */
  update(c) {
    const deps = this.deps;
    const viewport = c.enabled === false ? null : deps.viewportById(c.id);
    const prior = c.isPrior ? deps.config.priors?.find((p) => p.studyUid === c.series?.studyUid) : null;
    const study = prior
      ? { ...this.study, studyDate: prior.date, studyDescription: prior.description }
      : this.study;
    const mpr = deps.mpr();
    // Stack cells show their own series only (an empty cell shows nothing); MPR cells the volume's.
    const series = 'index' in c ? c.series : mpr.series;
    const imageId = viewport?.type === 'stack' ? viewport.getCurrentImageId?.() : undefined;
    const error = imageId && series?.failed.has(imageId)
      ? `Image ${series.imageIds.indexOf(imageId) + 1}/${series.total} could not be displayed: ${series.errorOf(imageId)}`
      : '';
    c.cell.classList.toggle('failed', Boolean(error));
    let preset = '';
    if (viewport && series && !error) {
      try {
        preset = deps.presetLabel(series, imageId, viewport.getProperties?.().voiRange);
      } catch {
        /* no image yet */
      }
    }
    updateOverlay(c.overlay, viewport, {
      study,
      series,
      isPrior: c.isPrior,
      label: c.label,
      mip: mpr.slab > 0,
      error,
      preset,
      sync: deps.syncLabel(c.id),
    });
    if (c.id === deps.activeViewportId()) deps.onActiveRedrawn();
    if (c.thumb && viewport?.getImageIds) {
      const total = viewport.getImageIds().length;
      const index = viewport.getCurrentImageIdIndex();
      c.thumb.style.height = `${Math.max(4, 100 / Math.max(total, 1))}%`;
      c.thumb.style.top = `${total > 1 ? (index / (total - 1)) * (100 - Math.max(4, 100 / total)) : 0}%`;
    }
  }

  updateAll() {
    for (const c of this.deps.shownCells()) this.update(c);
  }
}
