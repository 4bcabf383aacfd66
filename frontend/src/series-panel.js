/**
 * The series list of the side bar: one item per series (thumbnail, description, modality,
 * number, image count, load progress), a drag source for the viewport grid and a click
 * to show it in the active viewport. Also builds the items of a prior study's list.
 *
 * Its own module with one job. What it needs of the viewer, and nothing else:
 *   viewer.catalog.current (SeriesData[], kept in series-number order), viewer.config.studyUid
 *   viewer.displaySeries(index, series), viewer.grid.activeIndex()
 *   viewer.emit('series-added', { series: [uid, ...] })
 * It sets ``series.listItem`` and ``series.progressBar``, which ``showProgress`` updates
 * as frames load. The viewer shows ``node`` in its side bar.
 */
import { el } from './dom.js';
import { loadStudySeries } from './loading.js';

export class SeriesPanel {
  /** @param {any} viewer the Viewer (see above for what is used) */
  constructor(viewer) {
    this.viewer = viewer;
    /** @type {HTMLUListElement} */
    this.node = el('ul', { class: 'vw-series' });
  }

  /** The current study's series, in the viewer's order. */
  render() {
    this.node.replaceChildren(...this.viewer.catalog.current.map((s) => this.item(s)));
  }

  /**
   * Ask for the study's series again and add the ones that arrived since (an exported
   * SR, a late instance's new series) to the list; known series keep their state.
   */
  async refresh() {
    const viewer = this.viewer;
    let fresh;
    try {
      fresh = await loadStudySeries(viewer, viewer.config.studyUid, { fresh: true });
    } catch {
      return [];
    }
    const known = new Set(viewer.catalog.current.map((s) => s.uid));
    const added = fresh.filter((s) => !known.has(s.uid));
    if (!added.length) return [];
    viewer.catalog.current = [...viewer.catalog.current, ...added].sort((a, b) => (a.number ?? 1e9) - (b.number ?? 1e9));
    this.node.replaceChildren(...viewer.catalog.current.map((s) => (known.has(s.uid) && s.listItem) || this.item(s)));
    viewer.emit('series-added', { series: added.map((s) => s.uid) });
    return added;
  }

  /** One series' item (also for a prior study's list). */
  item(series) {
    const viewer = this.viewer;
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
        onclick: () => viewer.displaySeries(viewer.grid.activeIndex(), series),
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

  /** Mark the items of the series on screen (``shown``: the series in enabled cells). */
  markShown(shown) {
    for (const s of this.viewer.catalog.current) s.listItem?.classList.toggle('shown', shown.includes(s));
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
