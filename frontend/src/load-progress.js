/**
 * Load progress and failures: how far each series has loaded and which frames could not
 * be fetched or decoded, shown in the side bar's series list, on the cells (progress bar,
 * the failure said on the image) and raised as 'series-progress'.
 */
import { Enums, eventTarget } from '@cornerstonejs/core';

import { UndecodableImageError } from './loading.js';

/**
 * @typedef {object} LoadProgressDeps
 * @property {import('./series-catalog.js').SeriesCatalog} catalog
 * @property {import('./layout.js').ViewportGrid} grid
 * @property {import('./series-panel.js').SeriesPanel} seriesPanel
 * @property {(viewportId: string) => void} scheduleOverlay
 * @property {(type: string, detail: any) => void} emit
 * @property {Record<string, number>} timings ``complete:<series uid>`` is set here
 */

export class LoadProgress {
  /** @param {LoadProgressDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** Errors already said on their image. */
    this.shown = new WeakSet();
    // The CPU path's scroll rejects on a frame that failed; that failure is shown on the
    // image (imageFailed), so it is not an uncaught error of the page.
    window.addEventListener('unhandledrejection', (event) => {
      const reason = event.reason;
      if (reason instanceof UndecodableImageError || (reason && this.shown.has(reason))) {
        event.preventDefault();
      }
    });
  }

  /** Once Cornerstone is initialised: frames that fail to load anywhere come here. */
  listen() {
    eventTarget.addEventListener(Enums.Events.IMAGE_LOAD_ERROR, (evt) => {
      const { imageId, error } = evt.detail || {};
      if (imageId) this.imageFailed(imageId, error);
    });
  }

  /**
   * A frame that could not be fetched or decoded: remembered with its reason, counted in
   * the series list, and said on the image in every cell that shows it (no markers, no
   * stale pixels).
   */
  imageFailed(imageId, error) {
    if (error && typeof error === 'object') this.shown.add(error);
    const series = this.deps.catalog.ofImage(imageId);
    if (!series) return;
    series.markFailed(imageId, error);
    this.update(series);
    for (const c of this.deps.grid.cells) if (c.enabled && c.series === series) this.deps.scheduleOverlay(c.id);
  }

  /** ``series`` loaded or failed a frame (loading.js, through the viewer). */
  update(series) {
    const { grid, seriesPanel, timings } = this.deps;
    const total = series.total || series.instanceCount;
    const failed = series.failed.size;
    const fraction = total ? (series.loaded.size + failed) / total : 0;
    seriesPanel.showProgress(series, fraction, failed);
    grid.showProgress(series, fraction, failed);
    if (series.isComplete && !timings[`complete:${series.uid}`]) {
      timings[`complete:${series.uid}`] = performance.now();
    }
    this.deps.emit('series-progress', { series: series.uid, loaded: series.loaded.size, failed, total });
  }
}
