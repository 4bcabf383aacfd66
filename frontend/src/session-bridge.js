/**
 * The session bridge: what a live session (session/session.js), the AI boxes, tests and
 * the benchmark read from and apply to the viewer, in the shapes of view-state.js.
 *
 *   produces  'viewport-changed' { viewportId, series, slice, voi, zoom, pan, ..., remote }
 *             (one per viewport per frame; ``remote: true`` while applying a remote view)
 *   consumes  applyViewport(state), applyAnnotation(record), removeAnnotation(id)
 *   reads     viewportState(id), imageToPage(id, point), snapshot(), loadStats(uid)
 */
import { cache, getShouldUseCPURendering, utilities as csUtils } from '@cornerstonejs/core';
import { annotation as toolAnnotation } from '@cornerstonejs/tools';

import { applyStackFraming, describeViewport } from './view-state.js';

/**
 * @typedef {object} BridgeDeps
 * @property {(type: string, detail: any) => void} emit the viewer's events
 * @property {import('./layout.js').ViewportGrid} grid
 * @property {() => import('./mpr.js').Mpr} mpr the MPR planes (closed until opened)
 * @property {(uid: string) => any} findSeries
 * @property {() => any[]} allSeries the study's series and the loaded priors'
 * @property {(index: number, series: any, imageIndex?: number) => Promise<void>} displaySeries
 * @property {() => import('./annotations-sync.js').AnnotationSync} annotations
 * @property {() => string | null} tool the tool on the primary button
 * @property {() => boolean} ready
 * @property {() => boolean} stackCpu whether stacks draw on the CPU
 * @property {Record<string, number>} timings
 */

export class SessionBridge {
  /** @param {BridgeDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** >0 while a remote view is being applied: events then carry ``remote: true``. */
    this.remoteDepth = 0;
    /** @type {Set<string>} viewports with a 'viewport-changed' waiting for the next frame */
    this.pending = new Set();
  }

  viewportState(viewportId) {
    const { grid } = this.deps;
    const viewport = grid.viewportById(viewportId);
    if (!viewport) return null;
    const c = grid.cellOf(viewportId);
    const series = c?.series?.uid || (viewportId.startsWith('mpr') ? this.deps.mpr().series?.uid : null);
    return describeViewport(viewport, viewportId, series);
  }

  emitViewportChanged(viewportId) {
    // Coalesce bursts (a W/L drag fires per mouse move) into one event per frame.
    if (this.pending.has(viewportId)) return;
    const remote = this.remoteDepth > 0;
    this.pending.add(viewportId);
    requestAnimationFrame(() => {
      this.pending.delete(viewportId);
      const state = this.viewportState(viewportId);
      if (state) this.deps.emit('viewport-changed', { ...state, remote });
    });
  }

  async applyViewport(state) {
    const { grid } = this.deps;
    const viewportId = state.viewportId || grid.activeViewportId;
    const c = grid.cellOf(viewportId);
    this.remoteDepth += 1;
    try {
      if (c && state.series && c.series?.uid !== state.series) {
        const series = this.deps.findSeries(state.series);
        if (series) await this.deps.displaySeries(c.index, series, state.slice ?? undefined);
      }
      const viewport = grid.viewportById(viewportId);
      if (!viewport) return false;
      if (state.slice !== undefined && state.slice !== null) {
        if (viewport.setImageIdIndex) await viewport.setImageIdIndex(state.slice);
        else csUtils.jumpToSlice(viewport.element, { imageIndex: state.slice });
      }
      if (state.voi) viewport.setProperties({ voiRange: { ...state.voi } });
      if (state.invert !== undefined) viewport.setProperties({ invert: Boolean(state.invert) });
      if (applyStackFraming(viewport, state)) {
        // done: framed by image coordinates
      } else if (state.zoom || state.pan) {
        viewport.setViewPresentation({
          ...(state.zoom ? { zoom: state.zoom } : {}),
          ...(state.pan ? { pan: state.pan } : {}),
        });
      }
      viewport.render();
      return true;
    } finally {
      this.remoteDepth -= 1;
    }
  }

  /** Page (client) coordinates of image pixel ``point`` in a stack viewport. */
  imageToPage(viewportId, point) {
    const viewport = this.deps.grid.viewportById(viewportId);
    const imageId = viewport?.getCurrentImageId?.();
    if (!imageId) return null;
    const [x, y] = viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, point));
    const rect = viewport.getCanvas().getBoundingClientRect();
    return [rect.left + x, rect.top + y];
  }

  applyAnnotation(record) {
    return this.deps.annotations().apply(record);
  }

  removeAnnotation(id) {
    return this.deps.annotations().remove(id);
  }

  /** Mean per-frame times (ms) the loader recorded for a series: fetch and decode. */
  loadStats(seriesUid) {
    const series = this.deps.findSeries(seriesUid);
    if (!series) return null;
    const images = series.imageIds.map((id) => cache.getImage(id)).filter(Boolean);
    const mean = (key) => images.reduce((sum, i) => sum + (i[key] || 0), 0) / (images.length || 1);
    return { frames: images.length, loadMs: mean('loadTimeInMS'), decodeMs: mean('decodeTimeInMS') };
  }

  /** A snapshot of what is on screen, for tests, the benchmark and debugging. */
  snapshot() {
    const { grid } = this.deps;
    const mpr = this.deps.mpr();
    const annotations = this.deps.annotations();
    const ids = mpr?.active ? mpr.viewportIds() : grid.cells.filter((c) => c.enabled).map((c) => c.id);
    return {
      ready: this.deps.ready(),
      layout: grid.layout,
      mpr: Boolean(mpr?.active),
      slab: mpr?.slab || 0,
      activeViewportId: grid.activeViewportId,
      tool: this.deps.tool() || 'wl',
      viewports: ids.map((id) => this.viewportState(id)).filter(Boolean),
      series: this.deps.allSeries().map((s) => ({
        uid: s.uid,
        studyUid: s.studyUid,
        description: s.description,
        modality: s.modality,
        total: s.total,
        loaded: s.loaded.size,
        failed: s.failed.size,
        complete: s.isComplete,
      })),
      annotations: {
        records: annotations.records(),
        saves: annotations.saves,
        errors: annotations.errors,
        shown: toolAnnotation.state.getAllAnnotations().length,
        // The author line of each shown annotation's text box ('' for your own).
        authors: toolAnnotation.state
          .getAllAnnotations()
          .map((a) => /** @type {{ author?: string }} */ (a.data)?.author || ''),
      },
      timings: { ...this.deps.timings },
      stackRendering: this.deps.stackCpu() || getShouldUseCPURendering() ? 'cpu' : 'gpu',
      cachedBytes: cache.getCacheSize(),
    };
  }
}
