/**
 * The viewer page's frame: the side bar, the toolbar, the stage (grid and MPR planes), the
 * status line and the help overlay, put into the page's root. Each part brings its own
 * controls and lists; this only says where they go.
 */
import { el } from './dom.js';

export class ViewerPage {
  /**
   * @param {HTMLElement} root the page's viewer element
   * @param {HTMLElement[]} stageParts what the stage holds (the grid, the MPR planes)
   * @param {HTMLElement} help the help overlay
   */
  constructor(root, stageParts, help) {
    this.root = root;
    this.help = help;
    this.toolbar = el('div', { class: 'vw-toolbar', role: 'toolbar' });
    this.sidebar = el('aside', { class: 'vw-sidebar' });
    this.stage = el('div', { class: 'vw-stage' }, ...stageParts);
    this.statusLine = el('div', { class: 'vw-status', role: 'status', 'aria-live': 'polite' });
  }

  /** Put the frame into the page, with the toolbar's groups in order. */
  mount(toolbarGroups) {
    this.root.append(
      this.sidebar,
      el('section', { class: 'vw-main' }, this.toolbar, this.stage, this.statusLine),
      this.help,
    );
    this.toolbar.append(...toolbarGroups);
  }

  /** The side bar's lists under their titles (``[title, node]`` pairs), then ``extra``. */
  showSidebar(sections, extra = []) {
    this.sidebar.replaceChildren(
      ...sections.flatMap(([title, node]) => [el('div', { class: 'vw-side-title' }, title), node]),
      ...extra,
    );
  }

  notify(message) {
    this.statusLine.textContent = message;
  }
}
