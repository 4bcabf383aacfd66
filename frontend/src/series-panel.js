/**
 * The series list of the side bar: one item per series (thumbnail, description, modality,
 * number, image count, load progress), a drag source for the viewport grid and a click
 * to show it in the active viewport. Also builds the items of a prior study's list.
 *
 * A series without images (an SR, a KO, a PR: ``early.js``'s ``NO_IMAGE_MODALITIES``) has
 * no thumbnail (the server answers 404) and no place in a viewport: its item shows its
 * modality as a label, is not draggable, and a click on an SR marks its measurements in
 * the Measurements list (an exported SR is the record of those measurements).
 *
 * It sets ``series.listItem`` and ``series.progressBar``, which ``showProgress`` updates
 * as frames load. The viewer shows ``node`` in its side bar.
 */
import { NO_IMAGE_MODALITIES, holdsImages } from './early.js';
import { el } from './dom.js';
import { getJson } from './http.js';

/** @typedef {import('./loading.js').SeriesData} SeriesData */
/** @typedef {SeriesData & { listItem?: HTMLElement, progressBar?: HTMLElement }} ListedSeries */

/**
 * What the list needs, and nothing else.
 * @typedef {object} SeriesPanelDeps
 * @property {{ current: ListedSeries[] }} catalog the SeriesCatalog; ``current`` is kept in series-number order
 * @property {() => Promise<SeriesData[]>} loadFresh the current study's series, asked for again
 * @property {(index: number, series: SeriesData) => any} displaySeries
 * @property {() => number} activeIndex the active viewport's cell
 * @property {(type: string, detail: any) => void} emit raises 'series-added'
 * @property {(sopUids: string[]) => number} markReported marks the measurements stored in
 *   these SR instances; returns how many
 * @property {(text: string) => void} notify
 */

export class SeriesPanel {
  /** @param {SeriesPanelDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {HTMLUListElement} */
    this.node = el('ul', { class: 'vw-series' });
  }

  /** The current study's series, in the viewer's order. */
  render() {
    this.node.replaceChildren(...this.deps.catalog.current.map((s) => this.item(s)));
  }

  /**
   * Ask for the study's series again and add the ones that arrived since (an exported
   * SR, a late instance's new series) to the list; known series keep their state.
   */
  async refresh() {
    const { catalog, emit } = this.deps;
    let fresh;
    try {
      fresh = await this.deps.loadFresh();
    } catch {
      return [];
    }
    const known = new Set(catalog.current.map((s) => s.uid));
    const added = fresh.filter((s) => !known.has(s.uid));
    if (!added.length) return [];
    catalog.current = [...catalog.current, ...added].sort((a, b) => (a.number ?? 1e9) - (b.number ?? 1e9));
    this.node.replaceChildren(...catalog.current.map((s) => (known.has(s.uid) && s.listItem) || this.item(s)));
    emit('series-added', { series: added.map((s) => s.uid) });
    return added;
  }

  /**
   * One series' item (also for a prior study's list).
   * @param {ListedSeries} series
   */
  item(series) {
    if (!holdsImages(series.modality)) return this.noImageItem(series);
    const { displaySeries, activeIndex } = this.deps;
    const bar = el('div', { class: 'bar' });
    const item = el(
      'li',
      {
        class: 'vw-series-item',
        draggable: 'true',
        dataset: { seriesUid: series.uid },
        title: 'Drag into a viewport, or click to show in the active one',
        ondragstart: (e) => {
          e.dataTransfer.setData('text/x-series-uid', series.uid);
          e.dataTransfer.effectAllowed = 'copy';
        },
        onclick: () => displaySeries(activeIndex(), series),
      },
      el('img', { src: series.thumbnailUrl, alt: '', loading: 'lazy', draggable: 'false' }),
      el(
        'div',
        { class: 'meta' },
        el('div', { class: 'desc' }, series.description || '(no description)'),
        el('div', { class: 'muted' }, `${series.modality} #${series.number ?? ''} · `,
          el('span', { class: 'count' }, `${series.instanceCount}`), ' img'),
        el('div', { class: 'progress' }, bar),
      ),
    );
    series.listItem = item;
    series.progressBar = bar;
    return item;
  }

  /**
   * The item of a series without images: its modality as a label instead of a thumbnail,
   * not a drag source; a click says what it is (``openNoImage``).
   * @param {ListedSeries} series
   */
  noImageItem(series) {
    const kind = NO_IMAGE_MODALITIES.get(series.modality);
    const count = series.instanceCount;
    const item = el(
      'li',
      {
        class: 'vw-series-item no-images',
        dataset: { seriesUid: series.uid, modality: series.modality },
        title: series.modality === 'SR'
          ? `${kind}: not images. Click to mark its measurements in the Measurements list`
          : `${kind}: not images`,
        onclick: () => this.openNoImage(series),
      },
      el('div', { class: 'glyph', 'aria-hidden': 'true' }, series.modality),
      el(
        'div',
        { class: 'meta' },
        el('div', { class: 'desc' }, series.description || kind),
        el('div', { class: 'muted' }, `${series.modality} #${series.number ?? ''} · `,
          el('span', { class: 'count' }, `${count}`), count === 1 ? ' object' : ' objects'),
      ),
    );
    series.listItem = item;
    series.progressBar = undefined;
    return item;
  }

  /**
   * A click on a series without images: never shown in a viewport. An SR's instances are
   * looked up (QIDO-RS) and the measurements they store are marked in the Measurements list.
   * @param {SeriesData} series
   * @returns {Promise<number>} how many measurements were marked
   */
  async openNoImage(series) {
    const { markReported, notify } = this.deps;
    const kind = NO_IMAGE_MODALITIES.get(series.modality);
    if (series.modality !== 'SR') {
      notify(`${kind}: not images, nothing to show in a viewport`);
      return 0;
    }
    let instances;
    try {
      instances = (await getJson(`${series.base}/instances`, 'application/dicom+json')) || [];
    } catch (err) {
      notify(`${kind}: its instances could not be listed (${err.status || err.message})`);
      return 0;
    }
    const sopUids = instances.map((i) => i?.['00080018']?.Value?.[0]).filter(Boolean);
    const marked = markReported(sopUids);
    notify(marked
      ? `${kind}: ${marked} measurement${marked > 1 ? 's' : ''}, marked in the Measurements list`
      : `${kind}: no measurement of this study's list in it`);
    return marked;
  }

  /** Mark the items of the series on screen (``shown``: the series in enabled cells). */
  markShown(shown) {
    for (const s of this.deps.catalog.current) s.listItem?.classList.toggle('shown', shown.includes(s));
  }

  /** A series' load progress in its item: the bar, complete, and how many frames failed. */
  showProgress(series, fraction, failed) {
    if (series.progressBar) series.progressBar.style.width = `${Math.round(fraction * 100)}%`;
    const item = series.listItem;
    if (!item) return;
    item.classList.toggle('complete', series.isComplete && !failed);
    item.classList.toggle('failed', failed > 0);
    let note = item.querySelector('.error');
    if (failed && !note) {
      note = el('div', { class: 'error', role: 'status' });
      item.querySelector('.meta')?.append(note);
    }
    if (note) {
      note.textContent = failed ? `${failed} image${failed > 1 ? 's' : ''} could not be decoded` : '';
      note.title = failed ? series.errorSummary() : '';
    }
  }
}
