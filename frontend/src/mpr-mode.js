/**
 * MPR mode: switching the stage between the stack grid and the three MPR planes
 * (mpr.js, loaded on first use), with the toolbar's MPR button and MIP slab menu, and the
 * renderer each needs. Stacks leave the engine while MPR is up and come back where they
 * were (series, slice, window, invert).
 */
import { getShouldUseCPURendering, setUseCPURendering } from '@cornerstonejs/core';

import { actionButton, el } from './dom.js';

/** MPR before its module is loaded: closed, no cells. */
const IDLE_MPR = Object.freeze({
  active: false,
  cells: [],
  series: null,
  slab: 0,
  viewportIds: () => [],
  setSlab() {},
  close() {},
});

/**
 * Stack viewports draw on the CPU when WebGL is a software rasterizer (SwiftShader,
 * llvmpipe): uploading a float texture per slice through it is several times slower
 * than Cornerstone's CPU path. MPR always needs WebGL and switches it back on.
 * ``?render=cpu|gpu`` overrides the choice.
 */
function chooseStackCpu() {
  const forced = new URLSearchParams(window.location.search).get('render');
  if (forced === 'cpu') return true;
  if (forced === 'gpu') return false;
  if (getShouldUseCPURendering()) return false; // no WebGL at all: CPU everywhere already
  try {
    const gl = document.createElement('canvas').getContext('webgl2');
    const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : '';
    gl?.getExtension('WEBGL_lose_context')?.loseContext();
    return /swiftshader|llvmpipe|softpipe|software/i.test(renderer);
  } catch {
    return false;
  }
}

/**
 * @typedef {object} MprModeDeps
 * @property {() => import('@cornerstonejs/core').RenderingEngine} engine
 * @property {import('./layout.js').ViewportGrid} grid
 * @property {import('./tools.js').ToolBox} tools
 * @property {(index: number, series: any, imageIndex?: number) => Promise<void>} displaySeries
 * @property {(viewportId: string) => void} setActive
 * @property {(viewportId: string, element: HTMLElement) => void} bindViewport
 * @property {() => void} afterStacksBack the stacks are back (the comparison links them again)
 * @property {(message: string) => void} notify
 */

export class MprMode {
  /** @param {MprModeDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {import('./mpr.js').Mpr} the planes (a closed stand-in until first opened) */
    this.mpr = /** @type {any} */ (IDLE_MPR);
    this.stackCpu = false;
    this.saved = [];
    this.node = el('div', { class: 'vw-grid vw-mpr', hidden: true });
    this.button = actionButton('mpr', 'MPR', 'Multiplanar reconstruction (M)', () => this.toggle());
    this.slabSelect = el(
      'select',
      { class: 'vw-slab', title: 'MIP slab thickness', 'aria-label': 'MIP slab', hidden: true,
        onchange: (e) => {
          this.mpr.setSlab(Number(e.target.value));
          e.target.blur();
        } },
      el('option', { value: 0 }, 'Slab off'),
      ...[5, 10, 20, 40].map((mm) => el('option', { value: mm }, `MIP ${mm} mm`)),
    );
  }

  /** Once Cornerstone is initialised: stacks on the CPU where WebGL is software only. */
  chooseRenderer() {
    this.stackCpu = chooseStackCpu();
    if (this.stackCpu) setUseCPURendering(true);
  }

  /** The toolbar's MPR controls. */
  controls() {
    return [this.button, this.slabSelect];
  }

  get active() {
    return this.mpr.active;
  }

  async toggle(on = !this.mpr.active) {
    const { grid, tools } = this.deps;
    if (on && /** @type {unknown} */ (this.mpr) === IDLE_MPR) {
      const { Mpr } = await import('./mpr.js');
      this.mpr = new Mpr(this.deps.engine(), this.node, tools.mprGroup);
    }
    if (!on) {
      if (!this.mpr.active) return;
      this.mpr.close();
      if (this.stackCpu) setUseCPURendering(true, false);
      grid.node.hidden = false;
      this.slabSelect.hidden = true;
      this.button.classList.remove('on');
      tools.setMprMode(false);
      // Bring the stacks back where they were.
      for (const c of grid.cells) if (!c.cell.hidden) grid.enableCell(c);
      grid.resize(true);
      for (const saved of this.saved) {
        await this.deps.displaySeries(saved.index, saved.series, saved.slice);
        const viewport = grid.viewportById(grid.cells[saved.index].id);
        viewport?.setProperties({ voiRange: saved.voi, invert: saved.invert });
        viewport?.render();
      }
      this.deps.afterStacksBack();
      this.deps.setActive('vp-0');
      return;
    }
    const c = grid.cells[grid.activeIndex()];
    const series = c.series;
    if (!series || !series.isVolume) {
      this.deps.notify('MPR needs a CT or MR series of at least 10 parallel slices');
      return;
    }
    const voi = grid.viewportById(c.id)?.getProperties().voiRange;
    // The stacks leave the engine while MPR is up (and may have used the CPU path).
    this.saved = grid.cells
      .filter((x) => x.enabled && x.series)
      .map((x) => {
        const viewport = grid.viewportById(x.id);
        const props = viewport.getProperties();
        return {
          index: x.index,
          series: x.series,
          slice: viewport.getCurrentImageIdIndex(),
          voi: props.voiRange,
          invert: props.invert,
        };
      });
    for (const x of grid.cells) if (x.enabled) grid.disableCell(x);
    grid.node.hidden = true;
    this.slabSelect.hidden = false;
    tools.setMprMode(true);
    this.button.classList.add('on');
    if (this.stackCpu) setUseCPURendering(false, false);
    await this.mpr.open(series, voi);
    for (const m of this.mpr.cells) {
      if (!m.bound) {
        m.cell.addEventListener('pointerdown', () => this.deps.setActive(m.id), true);
        this.deps.bindViewport(m.id, m.element);
        m.bound = true;
      }
    }
    tools.select('crosshairs');
    this.deps.setActive('mpr-axial');
    grid.resize();
  }
}
