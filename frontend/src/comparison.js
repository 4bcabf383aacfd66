/**
 * Comparison with a prior: the patient's priors ranked (priors.js) and listed in the side
 * bar, the chosen prior's best-matching series beside the current one, scrolling in step
 * by slice position (PriorSync, with re-registration) and W/L shared through a
 * Cornerstone synchronizer. What it needs is passed in (``ComparisonDeps``).
 */
import { SynchronizerManager, synchronizers as toolSynchronizers } from '@cornerstonejs/tools';

import { el } from './dom.js';
import { ENGINE_ID, LAYOUTS } from './layout.js';
import { PriorSync, rankPriors } from './priors.js';

/**
 * @typedef {object} ComparisonDeps
 * @property {any} config the page's viewer config (``study``, ``priors``)
 * @property {import('./layout.js').ViewportGrid} grid
 * @property {Map<string, any[]>} priorSeries prior study UID -> its SeriesData, filled here
 * @property {(studyUid: string) => Promise<any[]>} loadSeries a study's series (loading.js)
 * @property {HTMLElement} sidebar where a loaded prior's series list goes
 * @property {(series: any) => HTMLElement} seriesItem a series' list item (series-panel.js)
 * @property {(layout: string) => void} setLayout
 * @property {(index: number, series: any, imageIndex?: number) => Promise<void>} displaySeries
 * @property {() => void} updateOverlays
 * @property {(message: string) => void} notify
 */

export class Comparison {
  /** @param {ComparisonDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {string | null} the prior study shown beside the current one */
    this.studyUid = null;
    this.synchronizers = [];
    this.sync = new PriorSync(deps.grid);
    /** @type {HTMLElement | null} the side bar's list of priors */
    this.list = null;
  }

  /** The patient's priors, most relevant first (same modality and body part, then recent). */
  ranked() {
    const config = this.deps.config;
    return rankPriors(config.study || {}, config.priors || []);
  }

  /** The side bar's "Priors" title and list (none without priors); X opens the top one. */
  renderList() {
    if (!this.deps.config.priors?.length) return [];
    this.list = el(
      'ul',
      { class: 'vw-priors' },
      this.ranked().map((p) =>
        el(
          'li',
          {},
          el(
            'button',
            {
              type: 'button',
              class: 'vw-prior',
              dataset: { studyUid: p.studyUid },
              title: 'Open side by side with synchronized scrolling and W/L (X opens the first, X again the next)',
              onclick: () => this.open(p.studyUid),
            },
            el('span', { class: 'date' }, p.date || '—'),
            el('span', { class: 'desc' }, [p.modalities, p.bodyPart, p.description].filter(Boolean).join(' · ')),
          ),
        ),
      ),
    );
    return [el('div', { class: 'vw-side-title' }, 'Priors'), this.list];
  }

  /**
   * Show a prior beside the current series, scrolling in step by slice position and
   * sharing W/L. Without ``priorUid``: the most relevant prior, or, while one is shown,
   * the next one in that order (X again walks through them).
   */
  async open(priorUid) {
    const deps = this.deps;
    const ranked = this.ranked();
    let prior = ranked.find((p) => p.studyUid === priorUid);
    if (!prior && this.studyUid && ranked.length > 1) {
      const at = ranked.findIndex((p) => p.studyUid === this.studyUid);
      prior = ranked[(at + 1) % ranked.length];
    }
    prior = prior || ranked[0];
    if (!prior) {
      deps.notify('No prior study for this patient');
      return;
    }
    if (!deps.priorSeries.has(prior.studyUid)) {
      const list = await deps.loadSeries(prior.studyUid);
      deps.priorSeries.set(prior.studyUid, list);
      const title = el('div', { class: 'vw-side-title' }, `Prior ${prior.date || ''}`);
      deps.sidebar.append(title, el('ul', { class: 'vw-series' }, list.map((s) => deps.seriesItem(s))));
    }
    const current = deps.grid.cells[0].series;
    const candidates = deps.priorSeries.get(prior.studyUid).filter((s) => s.instanceCount > 0);
    const match =
      candidates.find((s) => s.modality === current?.modality && s.description === current?.description) ||
      candidates.find((s) => s.modality === current?.modality) ||
      candidates[0];
    if (!match) {
      deps.notify(`The prior of ${prior.date || 'unknown date'} has no images`);
      return;
    }
    this.studyUid = prior.studyUid;
    for (const b of this.buttons()) {
      b.classList.toggle('on', b.dataset.studyUid === prior.studyUid);
    }
    if (LAYOUTS[deps.grid.layout] < 2) deps.setLayout('1x2');
    await match.loadMetadata();
    // Start the prior at the slice matching the current one (see PriorSync for the offset).
    const v0 = deps.grid.viewportById('vp-0');
    const start = current ? this.sync.matchIndex(current, v0.getCurrentImageIdIndex(), match) : null;
    await deps.displaySeries(1, match, start ?? undefined);
    this.link(['vp-0', 'vp-1']);
    deps.notify(`Comparing with the prior of ${prior.date || 'unknown date'} (${prior.modalities || ''})`);
  }

  /** @returns {HTMLElement[]} the side bar's prior buttons */
  buttons() {
    return [.../** @type {NodeListOf<HTMLElement>} */ (this.list?.querySelectorAll('.vw-prior') || [])];
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
    this.deps.updateOverlays();
  }

  /** Y: scroll sync off, or on again with the two images now shown as the same level. */
  toggleScrollSync() {
    const deps = this.deps;
    if (!this.studyUid) {
      deps.notify('Scroll sync is for comparing with a prior (X)');
      return;
    }
    const on = this.sync.toggle();
    deps.notify(on ? `Scroll sync on: ${this.sync.label('vp-1')}` : 'Scroll sync off: scroll each side to the same level, then Y');
    deps.updateOverlays();
  }
}
