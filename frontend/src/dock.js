/**
 * The right-hand dock of the viewer page: one tab per feature (dictation, AI findings,
 * report). Features add their panel with ``addPanel`` and never touch each other's DOM;
 * they talk through the viewer's events (see main.js for the list).
 */
import { el } from './dom.js';

export class Dock {
  constructor(viewer) {
    this.viewer = viewer;
    this.tabs = el('div', { class: 'vw-dock-tabs', role: 'tablist' });
    this.body = el('div', { class: 'vw-dock-body' });
    this.node = el('aside', { class: 'vw-dock', 'aria-label': 'Reading tools' }, this.tabs, this.body);
    this.panels = new Map();
    /** @type {string | undefined} */
    this.current = undefined;
    this.chosen = false; // true once the reader (or a feature acting for them) picks a tab
    viewer.root.append(this.node);
    viewer.root.classList.add('with-dock');
  }

  /** Add a panel; returns its content element. ``order`` sorts the tabs. */
  addPanel(id, title, { order = 50 } = {}) {
    const content = el('section', { class: 'vw-dock-panel', dataset: { panel: id }, hidden: true });
    const tab = el('button', { type: 'button', role: 'tab', class: 'vw-dock-tab', dataset: { panel: id } }, title);
    tab.addEventListener('click', () => {
      tab.blur();
      this.show(id);
    });
    this.panels.set(id, { tab, content, order });
    const sorted = [...this.panels.values()].sort((a, b) => a.order - b.order);
    this.tabs.replaceChildren(...sorted.map((p) => p.tab));
    this.body.append(content);
    // Until the reader picks a tab, the first in order (the report) is shown, whichever
    // feature happened to start first.
    if (!this.chosen) this.show(sorted[0].content.dataset.panel, false);
    return content;
  }

  /** Show panel ``id``; ``chosen`` false when the dock picks it rather than the reader. */
  show(id, chosen = true) {
    if (!this.panels.has(id)) return;
    this.current = id;
    this.chosen = this.chosen || chosen;
    for (const [key, p] of this.panels) {
      p.content.hidden = key !== id;
      p.tab.classList.toggle('on', key === id);
      p.tab.setAttribute('aria-selected', String(key === id));
    }
    this.viewer.emit('dock-shown', { panel: id });
  }

  /** Show a panel and flag its tab when something arrives while another one is shown. */
  attention(id) {
    const p = this.panels.get(id);
    if (p && this.current !== id) p.tab.classList.add('attention');
    p?.tab.addEventListener('click', () => p.tab.classList.remove('attention'), { once: true });
  }
}
