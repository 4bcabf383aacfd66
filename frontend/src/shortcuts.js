/** Keyboard shortcuts for everything frequent, and the "?" help overlay built from them. */
import { el } from './dom.js';
import { TOOLS } from './tools.js';
import { PRESETS } from './windowing.js';

const KEY_NAMES = {
  ArrowUp: '↑', ArrowDown: '↓', ArrowLeft: '←', ArrowRight: '→', PageUp: 'PgUp',
  PageDown: 'PgDn', ' ': 'Space', Delete: 'Del', Escape: 'Esc',
};

export function shortcutTable(viewer) {
  return [
    { keys: ['ArrowDown', 'ArrowRight'], label: 'Next image', run: () => viewer.grid.scroll(1) },
    { keys: ['ArrowUp', 'ArrowLeft'], label: 'Previous image', run: () => viewer.grid.scroll(-1) },
    { keys: ['PageDown'], label: 'Forward 10 images', run: () => viewer.grid.scroll(10) },
    { keys: ['PageUp'], label: 'Back 10 images', run: () => viewer.grid.scroll(-10) },
    { keys: ['Home'], label: 'First image', run: () => viewer.grid.scrollToEnd(false) },
    { keys: ['End'], label: 'Last image', run: () => viewer.grid.scrollToEnd(true) },
    { keys: [' '], label: 'Cine play / stop', run: () => viewer.cine.toggle() },
    // Number keys pick the active series' modality's preset (CT only: MR has no HU scale).
    ...PRESETS.map((p) => ({
      keys: [p.key],
      label: `${p.label} window (${p.modality}: W ${p.width} / L ${p.center})`,
      run: () => viewer.windowing.applyPresetKey(p.key),
    })),
    ...TOOLS.map((t) => ({ keys: [t.key], label: t.title, run: () => viewer.tools.select(t.id) })),
    { keys: ['i'], label: 'Invert', run: () => viewer.windowing.invert() },
    { keys: ['o'], label: 'Rotate 90°', run: () => viewer.windowing.rotate() },
    { keys: ['h'], label: 'Flip horizontal', run: () => viewer.windowing.flip('h') },
    { keys: ['v'], label: 'Flip vertical', run: () => viewer.windowing.flip('v') },
    { keys: ['f'], label: 'Fit to window', run: () => viewer.windowing.fit() },
    { keys: ['0'], label: 'Reset view', run: () => viewer.windowing.reset() },
    { keys: ['m'], label: 'MPR on / off', run: () => viewer.mprMode.toggle() },
    { keys: ['x'], label: 'Compare with the most relevant prior (again: next prior)', run: () => viewer.comparison.open() },
    { keys: ['y'], label: 'Prior scroll sync off / on at the levels shown', run: () => viewer.comparison.toggleScrollSync() },
    { keys: ['g'], label: 'Next layout (1x1, 1x2, 2x2)', run: () => viewer.setLayout(
      { '1x1': '1x2', '1x2': '2x2', '2x2': '1x1' }[viewer.grid.layout],
    ) },
    { keys: ['Delete', 'Backspace'], label: 'Delete selected annotation', run: () => viewer.measurements.deleteSelected() },
    { keys: ['j'], label: 'Live session: start / join', run: () => viewer.toggleSessionMenu?.() },
    { keys: ['k'], label: 'AI read of the series in view (task from the AI panel)', run: () => viewer.ai?.read() },
    { keys: ['d', 'F9'], label: 'Dictation: start / stop', run: (e) => !e?.repeat && viewer.dictation?.toggle() },
    { keys: ['`'], label: 'Dictation: hold to talk', run: (e) => viewer.dictation?.pushToTalk(e) },
    { keys: [']'], label: 'Next study in the worklist', run: () => viewer.worklistNav?.go(1) },
    { keys: ['['], label: 'Previous study in the worklist', run: () => viewer.worklistNav?.go(-1) },
    { keys: ['u'], label: 'Release the study and go back to the worklist', run: () => viewer.worklistNav?.release() },
    { keys: ['q'], label: 'Back to the worklist', run: () => viewer.worklistNav?.back() },
    { keys: ['?'], label: 'Show / hide this help', run: () => viewer.help.toggle() },
    { keys: ['Escape'], label: 'Close help', run: () => viewer.help.toggle(false) },
  ];
}

export function bindShortcuts(viewer, table) {
  const byKey = new Map();
  for (const entry of table) {
    for (const key of entry.keys) byKey.set(key.length === 1 ? key.toLowerCase() : key, entry);
  }
  document.addEventListener('keydown', (event) => {
    const target = /** @type {HTMLElement | null} */ (event.target);
    if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const entry = byKey.get(key);
    if (!entry) return;
    event.preventDefault();
    entry.run(event);
  });
}

export function renderHelp(container, table) {
  const rows = (entries) => entries
    .map((entry) => {
      const keys = entry.keys
        .map((k) => `<kbd>${KEY_NAMES[k] || (k.length === 1 ? k.toUpperCase() : k)}</kbd>`)
        .join(' ');
      return `<tr><td>${keys}</td><td>${entry.label}</td></tr>`;
    })
    .join('');
  const half = Math.ceil(table.length / 2);
  container.innerHTML = `<div class="vw-help-card"><h2>Keyboard shortcuts</h2>
    <div class="vw-help-columns"><table>${rows(table.slice(0, half))}</table>
    <table>${rows(table.slice(half))}</table></div>
    <p class="muted">Mouse: left = active tool, middle = pan, right = zoom, wheel = scroll.
    Drag a series from the list into a viewport.</p></div>`;
}

/** The "?" overlay: the shortcut table, drawn when first shown; a click beside it closes it. */
export class HelpOverlay {
  /** @param {() => ReturnType<typeof shortcutTable>} table */
  constructor(table) {
    this.table = table;
    this.node = el('div', { class: 'vw-help', hidden: true, role: 'dialog', 'aria-label': 'Keyboard shortcuts' });
    this.node.addEventListener('click', (e) => {
      if (e.target === this.node) this.toggle(false);
    });
  }

  toggle(show = this.node.hidden) {
    if (show && !this.node.childElementCount) renderHelp(this.node, this.table());
    this.node.hidden = !show;
  }
}
