/**
 * Comparison with a prior: the patient's priors ranked (priors.js), the chosen prior's
 * best-matching series beside the current one, scrolling in step by slice position
 * (PriorSync, with re-registration) and W/L shared through a Cornerstone synchronizer.
 *
 * Its own module with one job. What it needs of the viewer, and nothing else:
 *   viewer.config.study, viewer.config.priors
 *   viewer.priorSeries (Map of prior study UID -> SeriesData[]), viewer.priorList,
 *   viewer.sidebar, viewer.seriesPanel.item(series)
 *   viewer.cells, viewer.layout, viewer.setLayout(name), viewer.viewportById(id),
 *   viewer.displaySeries(index, series, imageIndex), viewer.updateAllOverlays(),
 *   viewer.notify(text)
 */
import { SynchronizerManager, synchronizers as toolSynchronizers } from '@cornerstonejs/tools';

import { el } from './dom.js';
import { ENGINE_ID, LAYOUTS } from './layout.js';
import { loadStudySeries } from './loading.js';
import { PriorSync, rankPriors } from './priors.js';

export class Comparison {
  /** @param {any} viewer the Viewer (see above for what is used) */
  constructor(viewer) {
    this.viewer = viewer;
    /** @type {string | null} the prior study shown beside the current one */
    this.studyUid = null;
    this.synchronizers = [];
    this.sync = new PriorSync(viewer);
  }

  /** The patient's priors, most relevant first (same modality and body part, then recent). */
  ranked() {
    const config = this.viewer.config;
    return rankPriors(config.study || {}, config.priors || []);
  }

  /**
   * Show a prior beside the current series, scrolling in step by slice position and
   * sharing W/L. Without ``priorUid``: the most relevant prior, or, while one is shown,
   * the next one in that order (X again walks through them).
   */
  async open(priorUid) {
    const viewer = this.viewer;
    const ranked = this.ranked();
    let prior = ranked.find((p) => p.studyUid === priorUid);
    if (!prior && this.studyUid && ranked.length > 1) {
      const at = ranked.findIndex((p) => p.studyUid === this.studyUid);
      prior = ranked[(at + 1) % ranked.length];
    }
    prior = prior || ranked[0];
    if (!prior) {
      viewer.notify('No prior study for this patient');
      return;
    }
    if (!viewer.priorSeries.has(prior.studyUid)) {
      const list = await loadStudySeries(viewer, prior.studyUid);
      viewer.priorSeries.set(prior.studyUid, list);
      const title = el('div', { class: 'vw-side-title' }, `Prior ${prior.date || ''}`);
      viewer.sidebar.append(title, el('ul', { class: 'vw-series' }, list.map((s) => viewer.seriesPanel.item(s))));
    }
    const current = viewer.cells[0].series;
    const candidates = viewer.priorSeries.get(prior.studyUid).filter((s) => s.instanceCount > 0);
    const match =
      candidates.find((s) => s.modality === current?.modality && s.description === current?.description) ||
      candidates.find((s) => s.modality === current?.modality) ||
      candidates[0];
    if (!match) {
      viewer.notify(`The prior of ${prior.date || 'unknown date'} has no images`);
      return;
    }
    this.studyUid = prior.studyUid;
    for (const b of this.buttons()) {
      b.classList.toggle('on', b.dataset.studyUid === prior.studyUid);
    }
    if (LAYOUTS[viewer.layout] < 2) viewer.setLayout('1x2');
    await match.loadMetadata();
    // Start the prior at the slice matching the current one (see PriorSync for the offset).
    const v0 = viewer.viewportById('vp-0');
    const start = current ? this.sync.matchIndex(current, v0.getCurrentImageIdIndex(), match) : null;
    await viewer.displaySeries(1, match, start ?? undefined);
    this.link(['vp-0', 'vp-1']);
    viewer.notify(`Comparing with the prior of ${prior.date || 'unknown date'} (${prior.modalities || ''})`);
  }

  /** @returns {HTMLElement[]} the side bar's prior buttons */
  buttons() {
    return [.../** @type {NodeListOf<HTMLElement>} */ (this.viewer.priorList?.querySelectorAll('.vw-prior') || [])];
  }

  unlink() {
    for (const s of this.synchronizers) SynchronizerManager.destroySynchronizer(s.id);
    this.synchronizers = [];
    this.sync.unlink();
    this.studyUid = null;
    for (const b of this.buttons()) b.classList.remove('on');
  }

  /** Scrolling in step by slice position (PriorSync) and shared W/L between two viewports. */
  link(ids) {
    for (const s of this.synchronizers) SynchronizerManager.destroySynchronizer(s.id);
    const voi = toolSynchronizers.createVOISynchronizer('rr-voi-sync', {
      syncInvertState: true,
      syncColormap: false,
    });
    for (const id of ids) voi.add({ renderingEngineId: ENGINE_ID, viewportId: id });
    this.synchronizers = [voi];
    this.sync.link(ids[0], ids[1]);
    this.viewer.updateAllOverlays();
  }

  /** Y: scroll sync off, or on again with the two images now shown as the same level. */
  toggleScrollSync() {
    const viewer = this.viewer;
    if (!this.studyUid) {
      viewer.notify('Scroll sync is for comparing with a prior (X)');
      return;
    }
    const on = this.sync.toggle();
    viewer.notify(on ? `Scroll sync on: ${this.sync.label('vp-1')}` : 'Scroll sync off: scroll each side to the same level, then Y');
    viewer.updateAllOverlays();
  }
}
