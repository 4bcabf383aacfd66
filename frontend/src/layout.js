/**
 * Layout: the side bar (series-panel.js's list, measurements.js's list, the priors), the
 * viewport grid (1x1, 1x2, 2x2), cells and their scroll bars, and small dialogs. Mixed
 * into ``Viewer``.
 */
import { Enums } from '@cornerstonejs/core';

import { el } from './dom.js';

const { ViewportType } = Enums;

export const LAYOUTS = { '1x1': 1, '1x2': 2, '2x2': 4 };
export const ENGINE_ID = 'rr-engine';

// The DOM helper lives in dom.js; re-exported for the feature folders that import it here.
export { el };

export const layoutMethods = {
  renderSeriesList() {
    this.seriesPanel.render();
    this.sidebar.replaceChildren(
      el('div', { class: 'vw-side-title' }, 'Series'),
      this.seriesPanel.node,
      el('div', { class: 'vw-side-title' }, 'Measurements'),
      this.measurements.node,
    );
    if (this.config.priors?.length) {
      // Most relevant first (same modality and body part, then most recent): X opens the top one.
      this.priorList = el(
        'ul',
        { class: 'vw-priors' },
        this.rankedPriors().map((p) =>
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
                onclick: () => this.compareWith(p.studyUid),
              },
              el('span', { class: 'date' }, p.date || '—'),
              el('span', { class: 'desc' }, [p.modalities, p.bodyPart, p.description].filter(Boolean).join(' · ')),
            ),
          ),
        ),
      );
      this.sidebar.append(el('div', { class: 'vw-side-title' }, 'Priors'), this.priorList);
    }
  },
  /** Add the study's series that arrived since the list was drawn (series-panel.js). */
  refreshSeriesList() {
    return this.seriesPanel.refresh();
  },
  activeIndex() {
    const cell = this.cells.find((c) => c.id === this.activeViewportId);
    return cell && cell.enabled ? cell.index : 0;
  },
  setActive(viewportId) {
    this.activeViewportId = viewportId;
    for (const c of [...this.cells, ...(this.mpr?.cells || [])]) {
      c.cell.classList.toggle('active', c.id === viewportId);
    }
    this.renderPresets?.();
  },
  setLayout(layout) {
    if (!LAYOUTS[layout]) return;
    if (this.mpr?.active) this.toggleMpr(false);
    this.layout = layout;
    this.grid.dataset.layout = layout;
    const count = LAYOUTS[layout];
    if (count < 2 && this.comparing) this.unlinkViewports();
    for (const b of this.layoutButtons) b.classList.toggle('on', b.dataset.action === `layout-${layout}`);
    for (const c of this.cells) {
      const visible = c.index < count;
      c.cell.hidden = !visible;
      if (visible && !c.enabled) this.enableCell(c);
      else if (!visible && c.enabled) this.disableCell(c);
    }
    this.resize(true);
    // Fill newly shown cells with series not on screen yet.
    const shown = new Set(this.cells.filter((c) => c.enabled && c.series).map((c) => c.series.uid));
    const candidates = this.series.filter((s) => !shown.has(s.uid) && s.instanceCount > 0);
    for (const c of this.cells) {
      if (c.enabled && !c.series && candidates.length) this.displaySeries(c.index, candidates.shift());
    }
    if (!this.cells.find((c) => c.id === this.activeViewportId)?.enabled) this.setActive('vp-0');
    else this.setActive(this.activeViewportId);
  },
  enableCell(c) {
    this.renderingEngine.enableElement({
      viewportId: c.id,
      type: ViewportType.STACK,
      element: c.element,
      defaultOptions: { background: [0, 0, 0] },
    });
    this.stackGroup.addViewport(c.id, ENGINE_ID);
    c.enabled = true;
  },
  disableCell(c) {
    this.stopCine(c);
    this.stackGroup.removeViewports(ENGINE_ID, c.id);
    this.renderingEngine.disableElement(c.id);
    c.enabled = false;
    c.series = null;
  },
  /** Resize the canvases; ``refit`` (layout changes) fits the images to their new cells. */
  resize(refit = false) {
    if (!this.renderingEngine) return;
    this.renderingEngine.resize(true, !refit);
    this.updateAllOverlays();
  },
  bindScrollbar(index, bar) {
    const go = (e) => {
      const c = this.cells[index];
      const viewport = c.enabled && this.renderingEngine.getViewport(c.id);
      if (!viewport?.getImageIds) return;
      const rect = bar.getBoundingClientRect();
      const total = viewport.getImageIds().length;
      const f = Math.min(1, Math.max(0, (e.clientY - rect.top) / rect.height));
      this.jumpTo(c.id, Math.round(f * (total - 1)));
    };
    bar.addEventListener('pointerdown', (e) => {
      e.stopPropagation();
      bar.setPointerCapture(e.pointerId);
      go(e);
      const move = (ev) => go(ev);
      const up = () => {
        bar.removeEventListener('pointermove', move);
        bar.removeEventListener('pointerup', up);
      };
      bar.addEventListener('pointermove', move);
      bar.addEventListener('pointerup', up);
    });
  },
  askText(label, initial = '') {
    return new Promise((resolve) => {
      const input = el('input', { type: 'text', value: initial, 'aria-label': label });
      const finish = (value) => {
        dialog.remove();
        resolve(value);
      };
      const dialog = el(
        'form',
        {
          class: 'vw-ask',
          onsubmit: (e) => {
            e.preventDefault();
            finish(input.value);
          },
        },
        el('label', {}, label, input),
        el('button', { type: 'submit', class: 'primary' }, 'OK'),
        el('button', { type: 'button', onclick: () => finish(null) }, 'Cancel'),
      );
      this.root.append(dialog);
      input.focus();
    });
  },
};
