/**
 * Reading Room diagnostic viewer on Cornerstone3D.
 *
 * Modules: early.js (requests made while the bundle loads), loading.js (QIDO/WADO-RS,
 * progressive frames), layout.js (side bar, grid, cells, drag and drop), series-panel.js
 * (the series list), tools.js (tool groups, presets), overlays.js (text + orientation
 * markers), mpr.js (axial/sagittal/coronal + MIP, loaded on first use), annotations-sync.js
 * (REST persistence in image coordinates), measurements.js (the measurements list),
 * comparison.js (a prior side by side, in sync), view-state.js (the view a session
 * shares), shortcuts.js (keys + help). This module wires them together.
 *
 * Public interface (live sessions hook in here; tests and bench read ``state()``):
 *
 *   const viewer = window.readingViewer;
 *   viewer.on('viewport-changed', ({ viewportId, series, slice, voi, zoom, pan }) => ...);
 *   viewer.on('annotation-added', record);     // the REST record just saved
 *   viewer.on('annotation-modified', record);
 *   viewer.on('annotation-removed', { id });
 *   viewer.on('series-progress', { series, loaded, failed, total });
 *   viewer.applyViewport({ viewportId?, series?, slice?, voi?, zoom?, pan? });
 *   viewer.applyAnnotation(record);            // show a record made elsewhere
 *   viewer.removeAnnotation(id);               // hide it again (no DELETE)
 *
 * Events raised by ``applyViewport``/``applyAnnotation`` are marked ``remote: true`` so a
 * follower does not echo them back.
 */
import {
  Enums,
  RenderingEngine,
  cache,
  eventTarget,
  getRenderingEngine,
  getShouldUseCPURendering,
  init as csInit,
  setUseCPURendering,
  utilities as csUtils,
} from '@cornerstonejs/core';
import { init as loaderInit } from '@cornerstonejs/dicom-image-loader';
import { annotation as toolAnnotation, init as toolsInit, utilities as toolUtilities } from '@cornerstonejs/tools';

import { AnnotationSync } from './annotations-sync.js';
import { pickDefaultSeries } from './early.js';
import { Emitter } from './emitter.js';
import {
  SeriesData,
  UndecodableImageError,
  loadStudySeries,
  parseImageId,
  registerCheckedLoader,
} from './loading.js';
import { ENGINE_ID, LAYOUTS, el, layoutMethods } from './layout.js';
import { Comparison } from './comparison.js';
import { MeasurementsPanel } from './measurements.js';
import { SeriesPanel } from './series-panel.js';
import { applyStackFraming, describeViewport } from './view-state.js';
import { createOverlay, updateOverlay } from './overlays.js';
import { bindShortcuts, renderHelp, shortcutTable } from './shortcuts.js';
import {
  TOOLS,
  activePreset,
  createMprToolGroup,
  createStackToolGroup,
  presetsFor,
  registerTools,
  setPrimaryTool,
  voiFromPreset,
} from './tools.js';
import { WorklistNav } from './worklist-nav.js';

/** MPR before its module is loaded: closed, no cells (see ``toggleMpr``). */
const IDLE_MPR = Object.freeze({
  active: false,
  cells: [],
  series: null,
  slab: 0,
  viewportIds: () => [],
  setSlab() {},
  close() {},
});

const { Events } = Enums;

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
 * A stack or a volume viewport: the viewer checks which before it calls what only one
 * kind answers (``getImageIds`` on stacks, ``getSliceIndex`` on volumes).
 * @typedef {import('@cornerstonejs/core').Types.IStackViewport
 *   & Partial<Omit<import('@cornerstonejs/core').Types.IVolumeViewport,
 *     keyof import('@cornerstonejs/core').Types.IStackViewport>>} ReadingViewport
 */

/**
 * The methods ``layout.js`` adds to the viewer's prototype.
 * @typedef {typeof layoutMethods} MixedInMethods
 */
const ViewerBase = /** @type {new () => Emitter & MixedInMethods} */ (/** @type {unknown} */ (Emitter));

export class Viewer extends ViewerBase {
  constructor(root, config) {
    super();
    this.root = root;
    this.config = config;
    this.series = [];
    this.priorSeries = new Map(); // prior study UID -> SeriesData[]
    /** @type {HTMLElement | null} the priors in the side bar (layout.js) */
    this.priorList = null;
    this.cells = [];
    this.layout = '1x1';
    this.activeViewportId = 'vp-0';
    this.timings = { start: performance.now() };
    this.cine = { playing: false, fps: 15 };
    /** The prior beside the current series: ranking, scroll and W/L sync (comparison.js). */
    this.comparison = new Comparison(this);
    /** The measurements list of the side bar (measurements.js). */
    this.measurements = new MeasurementsPanel(this);
    /** The current study's series list of the side bar (series-panel.js). */
    this.seriesPanel = new SeriesPanel(this);
    this.remoteDepth = 0;
    this._pendingEmit = new Map();
    this._loadErrors = new WeakSet();
    // The CPU path's scroll rejects on a frame that failed; that failure is shown on the
    // image (imageFailed), so it is not an uncaught error of the page.
    window.addEventListener('unhandledrejection', (event) => {
      const reason = event.reason;
      if (reason instanceof UndecodableImageError || (reason && this._loadErrors.has(reason))) {
        event.preventDefault();
      }
    });
  }

  /** @returns {ReadingViewport | undefined} */
  viewportById(id) {
    return /** @type {any} */ (this.renderingEngine?.getViewport(id));
  }

  // ---- start-up ----------------------------------------------------------------------

  async start() {
    // Fetch the series list while the rendering stack initialises.
    const seriesList = loadStudySeries(this, this.config.studyUid);
    seriesList.catch(() => {});
    await csInit();
    this.timings.init = performance.now();
    const workers = Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
    loaderInit({ maxWebWorkers: Number(new URLSearchParams(window.location.search).get('workers')) || workers });
    registerCheckedLoader();
    toolsInit();
    registerTools();
    this.buildUi();
    this.renderingEngine = new RenderingEngine(ENGINE_ID);
    this.stackCpu = chooseStackCpu();
    if (this.stackCpu) setUseCPURendering(true);
    const ask = (label, initial) => this.askText(label, initial);
    this.stackGroup = createStackToolGroup('rr-stack', ask);
    this.mprGroup = createMprToolGroup('rr-mpr', ask);
    // The MPR module (volume streaming, orthographic viewports) is loaded when first asked for.
    this.mpr = /** @type {import('./mpr.js').Mpr} */ (/** @type {unknown} */ (IDLE_MPR));
    this.annotations = new AnnotationSync(this);
    this.annotations.start();
    for (const type of ['annotation-added', 'annotation-modified', 'annotation-removed', 'annotations-loaded']) {
      this.on(type, () => this.renderAnnotationList());
    }
    // A frame that cannot be fetched or decoded: said on its image and in the series list.
    eventTarget.addEventListener(Events.IMAGE_LOAD_ERROR, (evt) => {
      const { imageId, error } = evt.detail || {};
      if (imageId) this.imageFailed(imageId, error);
    });
    this.worklistNav = new WorklistNav(this);
    bindShortcuts(this, shortcutTable(this));
    new ResizeObserver(() => this.resize()).observe(this.stage);

    try {
      this.series = await seriesList;
      this.timings.seriesList = performance.now();
    } catch (err) {
      this.notify(`Could not load the study's series (${err.status || err.message})`);
      throw err;
    }
    this.renderSeriesList();
    this.setLayout('1x1');
    const first = this.defaultSeries();
    if (first) await this.displaySeries(0, first);
    this.timings.displayed = performance.now();
    await this.annotations.loadAll();
    this.emit('annotations-loaded', this.annotations.records());
    if (this.config.readonly) this.notify('Read-only: someone else is reading this study');
    this.root.dataset.ready = 'true';
    return this;
  }

  defaultSeries() {
    const uid = pickDefaultSeries(this.series.map((s) => s.qido))?.['0020000E']?.Value?.[0];
    return this.series.find((s) => s.uid === uid) || this.series[0];
  }

  // ---- UI skeleton -------------------------------------------------------------------

  buildUi() {
    const c = this.config;
    this.toolbar = el('div', { class: 'vw-toolbar', role: 'toolbar' });
    this.sidebar = el('aside', { class: 'vw-sidebar' });
    this.grid = el('div', { class: 'vw-grid', dataset: { layout: '1x1' } });
    this.mprContainer = el('div', { class: 'vw-grid vw-mpr', hidden: true });
    this.stage = el('div', { class: 'vw-stage' }, this.grid, this.mprContainer);
    this.statusLine = el('div', { class: 'vw-status', role: 'status', 'aria-live': 'polite' });
    this.help = el('div', { class: 'vw-help', hidden: true, role: 'dialog', 'aria-label': 'Keyboard shortcuts' });
    this.help.addEventListener('click', (e) => {
      if (e.target === this.help) this.toggleHelp(false);
    });
    this.root.append(
      this.sidebar,
      el('section', { class: 'vw-main' }, this.toolbar, this.stage, this.statusLine),
      this.help,
    );

    // Toolbar: primary-button tools, view actions, presets, layouts, cine, MPR, compare.
    const group = (label, ...items) => el('div', { class: 'vw-group', 'aria-label': label }, ...items);
    this.toolButtons = new Map();
    const toolItems = TOOLS.map((t) => {
      const b = el(
        'button',
        {
          type: 'button',
          class: 'vw-tool',
          title: `${t.title} (${t.key.toUpperCase()})`,
          dataset: { tool: t.id },
          onclick: (e) => {
            e.currentTarget.blur();
            this.selectTool(t.id);
          },
        },
        t.label,
      );
      if (t.mprOnly || (t.measure && this.config.readonly)) b.hidden = true;
      this.toolButtons.set(t.id, b);
      return b;
    });
    // Buttons give the focus back, so Space and the arrow keys keep driving the viewer.
    const action = (id, label, title, fn) =>
      el('button', {
        type: 'button',
        title,
        dataset: { action: id },
        onclick: (e) => {
          e.currentTarget.blur();
          fn();
        },
      }, label);
    this.fpsInput = el('input', {
      type: 'number', min: 1, max: 60, value: this.cine.fps, class: 'vw-fps', title: 'Cine frames per second',
      'aria-label': 'Cine frames per second',
      onchange: (e) => {
        this.setCineFps(Number(e.target.value));
        e.target.blur();
      },
    });
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
    this.cineButton = action('cine', 'Cine', 'Play / stop cine (Space)', () => this.toggleCine());
    this.mprButton = action('mpr', 'MPR', 'Multiplanar reconstruction (M)', () => this.toggleMpr());
    this.layoutButtons = Object.keys(LAYOUTS).map((l) =>
      action(`layout-${l}`, l, `Layout ${l}`, () => this.setLayout(l)),
    );
    this.toolbar.append(
      group('Tools', toolItems),
      group(
        'View',
        action('invert', 'Invert', 'Invert (I)', () => this.invert()),
        action('rotate', 'Rotate', 'Rotate 90° (O)', () => this.rotate()),
        action('flip-h', 'Flip H', 'Flip horizontal (H)', () => this.flip('h')),
        action('flip-v', 'Flip V', 'Flip vertical (V)', () => this.flip('v')),
        action('fit', 'Fit', 'Fit to window (F)', () => this.fit()),
        action('reset', 'Reset', 'Reset view (0)', () => this.reset()),
      ),
      (this.presetGroup = group('Presets')),
      group('Layout', this.layoutButtons),
      group('Cine', this.cineButton, this.fpsInput),
      group('Volume', this.mprButton, this.slabSelect),
      group('More', action('help', '?', 'Keyboard shortcuts (?)', () => this.toggleHelp())),
    );
    this.notify('Loading…');

    // Four stack cells; the layout shows 1, 2 or 4 of them.
    for (let i = 0; i < 4; i += 1) {
      const id = `vp-${i}`;
      const element = el('div', { class: 'vw-element' });
      element.oncontextmenu = (e) => e.preventDefault();
      const thumb = el('div', { class: 'vw-thumb' });
      const scrollbar = el('div', { class: 'vw-scrollbar', title: 'Scroll' }, thumb);
      const progress = el('div', { class: 'vw-cell-progress' }, el('div', { class: 'bar' }));
      const cell = el('div', { class: 'vw-cell', dataset: { viewportId: id } }, element, scrollbar, progress);
      const overlay = createOverlay(cell);
      cell.addEventListener('pointerdown', () => this.setActive(id), true);
      cell.addEventListener('dragover', (e) => {
        if (e.dataTransfer.types.includes('text/x-series-uid')) {
          e.preventDefault();
          cell.classList.add('drop');
        }
      });
      cell.addEventListener('dragleave', () => cell.classList.remove('drop'));
      cell.addEventListener('drop', (e) => {
        e.preventDefault();
        cell.classList.remove('drop');
        const uid = e.dataTransfer.getData('text/x-series-uid');
        const series = this.findSeries(uid);
        if (series) this.displaySeries(i, series);
      });
      this.bindScrollbar(i, scrollbar);
      this.bindViewportEvents(id, element);
      this.grid.append(cell);
      this.cells.push({ index: i, id, cell, element, overlay, scrollbar, thumb, progress, series: null, enabled: false });
    }
    this.study = {
      patientName: c.patient?.name || '',
      patientId: c.patient?.id || '',
      patientSex: c.patient?.sex || '',
      patientBirthDate: c.patient?.birthDate || '',
      studyDate: c.study?.date || '',
      studyDescription: c.study?.description || '',
    };
  }







  notify(message) {
    this.statusLine.textContent = message;
  }


  // ---- layout and series ---------------------------------------------------------------







  findSeries(uid) {
    return (
      this.series.find((s) => s.uid === uid) ||
      [...this.priorSeries.values()].flat().find((s) => s.uid === uid)
    );
  }

  async displaySeries(index, series, imageIndex) {
    const c = this.cells[index];
    if (!c.enabled) return;
    this.stopCine(c);
    c.series = series;
    c.isPrior = series.studyUid !== this.config.studyUid;
    this.notify(`Loading ${series.description || series.uid}…`);
    await series.loadMetadata();
    if (c.series !== series) return; // replaced while loading
    if (!series.total) {
      this.notify(`${series.description || 'Series'}: no images to display`);
      return;
    }
    const viewport = this.viewportById(c.id);
    const start = imageIndex ?? (series.total > 1 ? Math.floor(series.total / 2) : 0);
    // The slice in view loads alone first; the rest follow, nearest to it first.
    try {
      await viewport.setStack(series.imageIds, start);
    } catch (err) {
      // The CPU path rejects (the WebGL path only raises IMAGE_LOAD_ERROR): the cell says so
      // on that image and the rest of the series stays readable.
      this.imageFailed(series.imageIds[start], err);
    } finally {
      series.prefetch(start);
    }
    if (c.series !== series) return;
    viewport.render();
    for (const s of this.series) s.listItem?.classList.toggle('shown', this.cells.some((x) => x.enabled && x.series === s));
    this.updateOverlay(c);
    this.renderPresets();
    this.emitViewportChanged(c.id);
    this.notify('');
  }

  /** The series (current study or a loaded prior) that an image id belongs to. */
  seriesOfImage(imageId) {
    return [...this.series, ...[...this.priorSeries.values()].flat()].find((s) => s.instances.has(imageId));
  }

  /**
   * A frame that could not be fetched or decoded: remembered with its reason, counted in
   * the series list, and said on the image in every cell that shows it (no markers, no
   * stale pixels).
   */
  imageFailed(imageId, error) {
    if (error && typeof error === 'object') this._loadErrors.add(error);
    const series = this.seriesOfImage(imageId);
    if (!series) return;
    series.markFailed(imageId, error);
    this.emitProgress(series);
    for (const c of this.cells) if (c.enabled && c.series === series) this.scheduleOverlay(c.id);
  }

  /** Find (loading series metadata if needed) the image id for SOP Instance UID + frame. */
  async findImageId(seriesUid, sopUid, frame = 1) {
    const series = this.findSeries(seriesUid);
    if (!series) return null;
    await series.loadMetadata();
    return series.imageIds.find((id) => {
      const ref = parseImageId(id);
      return ref && ref.sopUid === sopUid && ref.frame === Number(frame);
    });
  }

  emitProgress(series) {
    const total = series.total || series.instanceCount;
    const done = series.loaded.size + series.failed.size;
    const fraction = total ? done / total : 0;
    const failed = series.failed.size;
    if (series.progressBar) series.progressBar.style.width = `${Math.round(fraction * 100)}%`;
    const item = series.listItem;
    if (item) {
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
    for (const c of this.cells) {
      if (c.enabled && c.series === series) {
        c.progress.hidden = series.isComplete && !failed;
        c.progress.classList.toggle('failed', failed > 0);
        c.progress.firstChild.style.width = `${Math.round(fraction * 100)}%`;
      }
    }
    if (series.isComplete && !this.timings[`complete:${series.uid}`]) {
      this.timings[`complete:${series.uid}`] = performance.now();
    }
    this.emit('series-progress', {
      series: series.uid, loaded: series.loaded.size, failed: series.failed.size, total,
    });
  }

  // ---- viewport events, overlays, scroll bar -----------------------------------------

  bindViewportEvents(id, element) {
    const refresh = () => this.scheduleOverlay(id);
    element.addEventListener(Events.IMAGE_RENDERED, () => {
      if (!this.timings.firstImage && id === 'vp-0') {
        const viewport = this.viewportById(id);
        if (viewport?.getCurrentImageId?.()) this.timings.firstImage = performance.now();
      }
      refresh();
    });
    element.addEventListener(Events.STACK_NEW_IMAGE, (evt) => {
      const c = this.cells.find((x) => x.id === id);
      c?.series?.setFocus(evt.detail.imageIdIndex);
      this.priorSync.onNewImage(id, evt.detail.imageIdIndex);
      refresh();
      this.emitViewportChanged(id);
    });
    element.addEventListener(Events.VOI_MODIFIED, () => {
      refresh();
      this.emitViewportChanged(id);
    });
    element.addEventListener(Events.CAMERA_MODIFIED, () => {
      refresh();
      this.emitViewportChanged(id);
    });
  }

  scheduleOverlay(id) {
    if (this._overlayFrame?.has(id)) return;
    this._overlayFrame = this._overlayFrame || new Set();
    this._overlayFrame.add(id);
    requestAnimationFrame(() => {
      this._overlayFrame.delete(id);
      const c = this.cells.find((x) => x.id === id) || this.mpr?.cells.find((x) => x.id === id);
      if (c) this.updateOverlay(c);
    });
  }

  updateOverlay(c) {
    const viewport = c.enabled === false ? null : this.viewportById(c.id);
    const prior = c.isPrior ? this.config.priors?.find((p) => p.studyUid === c.series?.studyUid) : null;
    const study = prior
      ? { ...this.study, studyDate: prior.date, studyDescription: prior.description }
      : this.study;
    // Stack cells show their own series only (an empty cell shows nothing); MPR cells the volume's.
    const series = 'index' in c ? c.series : this.mpr?.series;
    const imageId = viewport?.type === 'stack' ? viewport.getCurrentImageId?.() : undefined;
    const error = imageId && series?.failed.has(imageId)
      ? `Image ${series.imageIds.indexOf(imageId) + 1}/${series.total} could not be displayed: ${series.errorOf(imageId)}`
      : '';
    c.cell.classList.toggle('failed', Boolean(error));
    let preset = '';
    if (viewport && series && !error) {
      try {
        preset = this.presetLabel(series, imageId, viewport.getProperties?.().voiRange);
      } catch {
        /* no image yet */
      }
    }
    updateOverlay(c.overlay, viewport, {
      study,
      series,
      isPrior: c.isPrior,
      label: c.label,
      mip: this.mpr?.slab > 0,
      error,
      preset,
      sync: this.priorSync.label(c.id),
    });
    if (c.id === this.activeViewportId) this.renderPresets();
    if (c.thumb && viewport?.getImageIds) {
      const total = viewport.getImageIds().length;
      const index = viewport.getCurrentImageIdIndex();
      c.thumb.style.height = `${Math.max(4, 100 / Math.max(total, 1))}%`;
      c.thumb.style.top = `${total > 1 ? (index / (total - 1)) * (100 - Math.max(4, 100 / total)) : 0}%`;
    }
  }

  updateAllOverlays() {
    for (const c of this.cells) if (c.enabled) this.updateOverlay(c);
    for (const c of this.mpr?.cells || []) if (this.mpr.active) this.updateOverlay(c);
  }


  // ---- actions on the active viewport --------------------------------------------------

  activeViewport() {
    return this.viewportById(this.activeViewportId) ||
      this.viewportById('vp-0');
  }

  targetViewports() {
    // Presets and invert in MPR apply to all three planes (one volume).
    if (this.mpr?.active) return this.mpr.viewportIds().map((id) => this.viewportById(id));
    return [this.activeViewport()].filter(Boolean);
  }

  scroll(delta) {
    const viewport = this.activeViewport();
    if (!viewport) return;
    csUtils.scroll(viewport, { delta });
  }

  jumpTo(viewportId, index) {
    const viewport = this.viewportById(viewportId);
    if (!viewport) return;
    if (viewport.setImageIdIndex) {
      const total = viewport.getImageIds().length;
      viewport.setImageIdIndex(Math.max(0, Math.min(total - 1, index)));
    } else {
      csUtils.jumpToSlice(viewport.element, { imageIndex: index });
    }
  }

  scrollToEnd(last) {
    const viewport = this.activeViewport();
    if (!viewport) return;
    const total = viewport.getImageIds ? viewport.getImageIds().length : viewport.getNumberOfSlices();
    this.jumpTo(viewport.id, last ? total - 1 : 0);
  }

  selectTool(id) {
    const tool = TOOLS.find((t) => t.id === id);
    if (!tool) return;
    if (tool.measure && this.config.readonly) {
      this.notify('Read-only: measurements are off while someone else reads this study');
      return;
    }
    if (tool.mprOnly && !this.mpr.active) return;
    setPrimaryTool(this.stackGroup, tool.name);
    setPrimaryTool(this.mprGroup, tool.name);
    this.currentTool = id;
    for (const [tid, b] of this.toolButtons) b.classList.toggle('on', tid === id);
  }

  /** The series shown in the active viewport (the volume's in MPR). */
  activeSeries() {
    if (this.mpr?.active) return this.mpr.series;
    return this.cells.find((x) => x.id === this.activeViewportId && x.enabled)?.series || null;
  }

  /**
   * The image's own window: Window Center/Width (0028,1050/1051), first pair (PS3.3
   * C.11.2.1.2); ``null`` when the file has none (Cornerstone then uses a VOI LUT or the
   * pixel range, which "Reset" restores).
   */
  fileWindow(series, imageId) {
    const meta = (imageId && series?.instances.get(imageId)) || series?.firstInstance;
    const center = Number(meta?.['00281050']?.Value?.[0]);
    const width = Number(meta?.['00281051']?.Value?.[0]);
    return Number.isFinite(center) && width > 0 ? { center, width } : null;
  }

  /** The name of the window on screen: a preset of the series' modality, or "Default". */
  presetLabel(series, imageId, voiRange) {
    const preset = activePreset(presetsFor(series.modality), voiRange);
    if (preset) return preset.label;
    const own = this.fileWindow(series, imageId);
    if (own && activePreset([own], voiRange)) return 'Default';
    return '';
  }

  /** The toolbar's preset buttons: "Default" and the active series' modality's presets. */
  renderPresets() {
    if (!this.presetGroup) return;
    const series = this.activeSeries();
    const modality = series?.modality || '';
    if (this.presetGroup.dataset.modality !== modality) {
      this.presetGroup.dataset.modality = modality;
      const button = (id, label, title, fn) =>
        el('button', { type: 'button', title, dataset: { action: `preset-${id}` }, onclick: (e) => {
          e.currentTarget.blur();
          fn();
        } }, label);
      this.presetGroup.replaceChildren(
        button('default', 'Default', "The image's own window (0 resets the view)", () => this.applyDefaultWindow()),
        ...presetsFor(modality).map((p) =>
          button(p.id, p.label, `${p.label} W${p.width} L${p.center} (${p.key})`, () => this.applyPreset(p.id)),
        ),
      );
    }
    let active = '';
    try {
      const viewport = this.activeViewport();
      const imageId = viewport?.getCurrentImageId?.();
      if (series && viewport) active = this.presetLabel(series, imageId, viewport.getProperties().voiRange);
    } catch {
      /* nothing shown yet */
    }
    for (const b of this.presetGroup.children) {
      b.classList.toggle('on', Boolean(active) && b.textContent === active);
    }
  }

  applyPreset(presetId) {
    const series = this.activeSeries();
    const preset = presetsFor(series?.modality).find((p) => p.id === presetId);
    if (!preset) return false;
    for (const viewport of this.targetViewports()) {
      viewport.setProperties({ voiRange: voiFromPreset(preset) });
      viewport.render();
    }
    this.renderPresets();
    return true;
  }

  /** Number key ``key``: the active series' modality's preset on that key, if it has one. */
  applyPresetKey(key) {
    const series = this.activeSeries();
    if (!series) return;
    const preset = presetsFor(series.modality).find((p) => p.key === key);
    if (preset) this.applyPreset(preset.id);
    else this.notify(`No window preset ${key} for ${series.modality || 'this series'} (Default keeps the image's own window)`);
  }

  applyDefaultWindow() {
    const series = this.activeSeries();
    for (const viewport of this.targetViewports()) {
      const own = this.fileWindow(series, viewport.getCurrentImageId?.());
      if (own) {
        viewport.setProperties({ voiRange: voiFromPreset(own) });
      } else {
        const { invert } = viewport.getProperties();
        viewport.resetProperties?.();
        viewport.setProperties({ invert });
      }
      viewport.render();
    }
    this.renderPresets();
  }

  invert() {
    for (const viewport of this.targetViewports()) {
      const { invert } = viewport.getProperties();
      viewport.setProperties({ invert: !invert });
      viewport.render();
    }
  }

  rotate() {
    const viewport = this.activeViewport();
    const rotation = viewport.getViewPresentation().rotation || 0;
    viewport.setViewPresentation({ rotation: (rotation + 90) % 360 });
    viewport.render();
  }

  flip(axis) {
    const viewport = this.activeViewport();
    const camera = viewport.getCamera();
    if (axis === 'h') viewport.setCamera({ flipHorizontal: !camera.flipHorizontal });
    else viewport.setCamera({ flipVertical: !camera.flipVertical });
    viewport.render();
  }

  fit() {
    const viewport = this.activeViewport();
    const rotation = viewport.getViewPresentation?.().rotation || 0;
    viewport.resetCamera({ resetPan: true, resetZoom: true, resetToCenter: true });
    if (rotation) viewport.setViewPresentation({ rotation });
    viewport.render();
  }

  reset() {
    for (const viewport of this.targetViewports()) {
      viewport.resetProperties?.();
      const { flipHorizontal, flipVertical } = viewport.getCamera();
      if (flipHorizontal || flipVertical) viewport.setCamera({ flipHorizontal: false, flipVertical: false });
      viewport.resetCamera();
      if (viewport.getViewPresentation) viewport.setViewPresentation({ rotation: 0 });
      viewport.render();
    }
  }

  setCineFps(fps) {
    this.cine.fps = Math.max(1, Math.min(60, Math.round(fps) || 15));
    this.fpsInput.value = this.cine.fps;
    if (this.cine.playing) {
      this.toggleCine(false);
      this.toggleCine(true);
    }
  }

  toggleCine(on = !this.cine.playing) {
    const c = this.cells.find((x) => x.id === this.activeViewportId && x.enabled) || this.cells[0];
    if (on) {
      toolUtilities.cine.playClip(c.element, { framesPerSecond: this.cine.fps, loop: true });
      this.cine.playing = true;
      this.cine.cell = c;
    } else {
      this.stopCine(this.cine.cell || c);
    }
    this.cineButton.classList.toggle('on', this.cine.playing);
  }

  stopCine(c) {
    if (this.cine.playing && this.cine.cell === c) {
      toolUtilities.cine.stopClip(c.element);
      this.cine.playing = false;
      this.cineButton?.classList.remove('on');
    }
  }

  /** Delete/Backspace: ask about the selected measurement in the list (nothing in read-only). */
  deleteSelected() {
    if (this.config.readonly) {
      this.notify('Read-only: measurements cannot be deleted');
      return;
    }
    const selected = toolAnnotation.selection.getAnnotationsSelected();
    for (const uid of selected) {
      const record = this.annotations.byLocal.get(uid);
      if (record) this.measurements.confirmDelete(record);
    }
  }

  /** Redraw the measurements list (annotations-sync calls this when records change). */
  renderAnnotationList() {
    this.measurements.render();
  }

  toggleHelp(show = this.help.hidden) {
    if (show && !this.help.childElementCount) renderHelp(this.help, shortcutTable(this));
    this.help.hidden = !show;
  }

  renderAll() {
    this.renderingEngine?.render();
  }

  // ---- MPR -------------------------------------------------------------------------------

  async toggleMpr(on = !this.mpr.active) {
    if (on && /** @type {unknown} */ (this.mpr) === IDLE_MPR) {
      const { Mpr } = await import('./mpr.js');
      this.mpr = new Mpr(this, this.mprContainer, this.mprGroup);
    }
    if (!on) {
      if (!this.mpr.active) return;
      this.mpr.close();
      if (this.stackCpu) setUseCPURendering(true, false);
      this.grid.hidden = false;
      this.slabSelect.hidden = true;
      this.toolButtons.get('crosshairs').hidden = true;
      this.mprButton.classList.remove('on');
      if (this.currentTool === 'crosshairs') this.selectTool('wl');
      // Bring the stacks back where they were.
      for (const c of this.cells) if (!c.cell.hidden) this.enableCell(c);
      this.resize(true);
      for (const saved of this._savedStacks || []) {
        await this.displaySeries(saved.index, saved.series, saved.slice);
        const viewport = this.viewportById(this.cells[saved.index].id);
        viewport?.setProperties({ voiRange: saved.voi, invert: saved.invert });
        viewport?.render();
      }
      if (this.comparing) this.linkViewports(['vp-0', 'vp-1']);
      this.setActive('vp-0');
      return;
    }
    const c = this.cells[this.activeIndex()];
    const series = c.series;
    if (!series || !series.isVolume) {
      this.notify('MPR needs a CT or MR series of at least 10 parallel slices');
      return;
    }
    const voi = this.viewportById(c.id)?.getProperties().voiRange;
    // The stacks leave the engine while MPR is up (and may have used the CPU path).
    this._savedStacks = this.cells
      .filter((x) => x.enabled && x.series)
      .map((x) => {
        const viewport = this.viewportById(x.id);
        const props = viewport.getProperties();
        return {
          index: x.index,
          series: x.series,
          slice: viewport.getCurrentImageIdIndex(),
          voi: props.voiRange,
          invert: props.invert,
        };
      });
    for (const x of this.cells) if (x.enabled) this.disableCell(x);
    this.grid.hidden = true;
    this.slabSelect.hidden = false;
    this.toolButtons.get('crosshairs').hidden = false;
    this.mprButton.classList.add('on');
    if (this.stackCpu) setUseCPURendering(false, false);
    await this.mpr.open(series, voi);
    for (const m of this.mpr.cells) {
      if (!m.bound) {
        m.cell.addEventListener('pointerdown', () => this.setActive(m.id), true);
        this.bindViewportEvents(m.id, m.element);
        m.bound = true;
      }
    }
    this.selectTool('crosshairs');
    this.setActive('mpr-axial');
    this.resize();
  }

  // ---- priors (comparison.js) -----------------------------------------------------------

  /** The patient's priors, most relevant first. */
  rankedPriors() {
    return this.comparison.ranked();
  }

  /** X: the most relevant prior beside the current series (again: the next prior). */
  compareWith(priorUid) {
    return this.comparison.open(priorUid);
  }

  /** The prior study shown beside the current one, if any. */
  get comparing() {
    return this.comparison.studyUid;
  }

  /** Scroll sync by slice position with the prior (PriorSync). */
  get priorSync() {
    return this.comparison.sync;
  }

  unlinkViewports() {
    this.comparison.unlink();
  }

  linkViewports(ids) {
    this.comparison.link(ids);
  }

  /** Y: scroll sync off, or on again at the levels shown. */
  toggleScrollSync() {
    this.comparison.toggleScrollSync();
  }

  // ---- public interface for live sessions --------------------------------------------

  viewportState(viewportId) {
    const viewport = this.viewportById(viewportId);
    if (!viewport) return null;
    const c = this.cells.find((x) => x.id === viewportId);
    const series = c?.series?.uid || (viewportId.startsWith('mpr') ? this.mpr.series?.uid : null);
    return describeViewport(viewport, viewportId, series);
  }

  emitViewportChanged(viewportId) {
    // Coalesce bursts (a W/L drag fires per mouse move) into one event per frame.
    if (this._pendingEmit.has(viewportId)) return;
    const remote = this.remoteDepth > 0;
    this._pendingEmit.set(viewportId, true);
    requestAnimationFrame(() => {
      this._pendingEmit.delete(viewportId);
      const state = this.viewportState(viewportId);
      if (state) this.emit('viewport-changed', { ...state, remote });
    });
  }

  async applyViewport(state) {
    const viewportId = state.viewportId || this.activeViewportId;
    const c = this.cells.find((x) => x.id === viewportId);
    this.remoteDepth += 1;
    try {
      if (c && state.series && c.series?.uid !== state.series) {
        const series = this.findSeries(state.series);
        if (series) await this.displaySeries(c.index, series, state.slice ?? undefined);
      }
      const viewport = this.viewportById(viewportId);
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
    const viewport = this.viewportById(viewportId);
    const imageId = viewport?.getCurrentImageId?.();
    if (!imageId) return null;
    const [x, y] = viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, point));
    const rect = viewport.getCanvas().getBoundingClientRect();
    return [rect.left + x, rect.top + y];
  }

  applyAnnotation(record) {
    return this.annotations.apply(record);
  }

  removeAnnotation(id) {
    return this.annotations.remove(id);
  }

  /** Mean per-frame times (ms) the loader recorded for a series: fetch and decode. */
  loadStats(seriesUid) {
    const series = this.findSeries(seriesUid);
    if (!series) return null;
    const images = series.imageIds.map((id) => cache.getImage(id)).filter(Boolean);
    const mean = (key) => images.reduce((sum, i) => sum + (i[key] || 0), 0) / (images.length || 1);
    return { frames: images.length, loadMs: mean('loadTimeInMS'), decodeMs: mean('decodeTimeInMS') };
  }

  /** A snapshot of what is on screen, for tests, the benchmark and debugging. */
  state() {
    const ids = this.mpr?.active
      ? this.mpr.viewportIds()
      : this.cells.filter((c) => c.enabled).map((c) => c.id);
    return {
      ready: this.root.dataset.ready === 'true',
      layout: this.layout,
      mpr: Boolean(this.mpr?.active),
      slab: this.mpr?.slab || 0,
      activeViewportId: this.activeViewportId,
      tool: this.currentTool || 'wl',
      viewports: ids.map((id) => this.viewportState(id)).filter(Boolean),
      series: [...this.series, ...[...this.priorSeries.values()].flat()].map((s) => ({
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
        records: this.annotations.records(),
        saves: this.annotations.saves,
        errors: this.annotations.errors,
        shown: toolAnnotation.state.getAllAnnotations().length,
        // The author line of each shown annotation's text box ('' for your own).
        authors: toolAnnotation.state
          .getAllAnnotations()
          .map((a) => /** @type {{ author?: string }} */ (a.data)?.author || ''),
      },
      timings: { ...this.timings },
      stackRendering: this.stackCpu || getShouldUseCPURendering() ? 'cpu' : 'gpu',
      cachedBytes: cache.getCacheSize(),
    };
  }
}

Object.assign(Viewer.prototype, layoutMethods);

export { getRenderingEngine, SeriesData };
