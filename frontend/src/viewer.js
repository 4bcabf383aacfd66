/**
 * Reading Room diagnostic viewer on Cornerstone3D. This module composes the parts, each
 * with one job, and passes each what it needs; docs/architecture.md ("Frontend") lists
 * them and their interfaces.
 *
 * Public interface (live sessions and features hook in here; tests and bench read ``state()``):
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
import { Enums, RenderingEngine, getRenderingEngine, init as csInit } from '@cornerstonejs/core';
import { init as loaderInit } from '@cornerstonejs/dicom-image-loader';
import { init as toolsInit } from '@cornerstonejs/tools';

import { AnnotationSync } from './annotations-sync.js';
import { CellOverlays } from './cell-overlays.js';
import { Cine } from './cine.js';
import { Comparison } from './comparison.js';
import { actionButton, toolGroup } from './dom.js';
import { Emitter } from './emitter.js';
import { ENGINE_ID, LAYOUTS, ViewportGrid } from './layout.js';
import { LoadProgress } from './load-progress.js';
import { SeriesData, loadStudySeries, registerCheckedLoader } from './loading.js';
import { MeasurementsPanel } from './measurements.js';
import { MprMode } from './mpr-mode.js';
import { ViewerPage } from './page.js';
import { SeriesCatalog } from './series-catalog.js';
import { SeriesPanel } from './series-panel.js';
import { SessionBridge } from './session-bridge.js';
import { HelpOverlay, bindShortcuts, shortcutTable } from './shortcuts.js';
import { ToolBox } from './tools.js';
import { Windowing } from './windowing.js';
import { WorklistNav } from './worklist-nav.js';

const { Events } = Enums;

export class Viewer extends Emitter {
  constructor(root, config) {
    super();
    this.root = root;
    this.config = config;
    this.timings = { start: performance.now() };
    /** @type {RenderingEngine | undefined} created by ``start`` */
    this.renderingEngine = undefined;
    /** @type {AnnotationSync | undefined} created by ``start`` */
    this.annotations = undefined;
    this.catalog = new SeriesCatalog();
    const notify = (message) => this.notify(message);
    const engine = () => this.renderingEngine;
    const setActive = (id) => this.setActive(id);
    const bindViewport = (id, element) => this.bindViewportEvents(id, element);
    const displaySeries = (index, series, imageIndex) => this.grid.show(index, series, imageIndex);

    this.tools = new ToolBox({ readonly: Boolean(config.readonly), root, mprActive: () => this.mpr.active, notify });
    this.grid = new ViewportGrid({
      engine,
      toolGroup: () => this.tools.stackGroup,
      onActivate: setActive,
      onDrop: (index, uid) => {
        const series = this.findSeries(uid);
        if (series) this.displaySeries(index, series);
      },
      onPickLayout: (layout) => this.setLayout(layout),
      bindViewport,
      onResized: () => this.overlays.updateAll(),
      studyUid: config.studyUid,
      notify,
      onRelease: (c) => this.cine.stop(c),
      onImageFailed: (imageId, error) => this.progress.imageFailed(imageId, error),
      onShown: (c) => {
        this.seriesPanel.markShown(this.grid.cells.filter((x) => x.enabled).map((x) => x.series));
        this.overlays.update(c);
        this.windowing.render();
        this.bridge.emitViewportChanged(c.id);
        this.notify('');
      },
    });
    this.cine = new Cine({ cellToPlay: () => this.grid.activeCell() || this.grid.cells[0] });
    this.mprMode = new MprMode({
      engine, grid: this.grid, tools: this.tools, displaySeries, setActive, bindViewport, notify,
      afterStacksBack: () => {
        if (this.comparison.studyUid) this.comparison.link(['vp-0', 'vp-1']);
      },
    });
    this.windowing = new Windowing({
      activeSeries: () => this.activeSeries(),
      activeViewport: () => this.grid.activeViewport(),
      // Presets and invert in MPR apply to all three planes (one volume).
      targetViewports: () => (this.mpr.active
        ? this.mpr.viewportIds().map((id) => this.grid.viewportById(id))
        : [this.grid.activeViewport()].filter(Boolean)),
      notify,
    });
    this.overlays = new CellOverlays({
      config,
      viewportById: (id) => this.grid.viewportById(id),
      cellOf: (id) => this.grid.cellOf(id) || this.mpr.cells.find((x) => x.id === id),
      shownCells: () => [...this.grid.cells.filter((c) => c.enabled), ...(this.mpr.active ? this.mpr.cells : [])],
      mpr: () => this.mpr,
      presetLabel: (series, imageId, voi) => this.windowing.presetLabel(series, imageId, voi),
      syncLabel: (id) => this.comparison.sync.label(id),
      activeViewportId: () => this.grid.activeViewportId,
      onActiveRedrawn: () => this.windowing.render(),
    });

    this.help = new HelpOverlay(() => shortcutTable(this));
    this.page = new ViewerPage(root, [this.grid.node, this.mprMode.node], this.help.node);
    // Where the session's controls, lists and pointer hook in (session/).
    this.toolbar = this.page.toolbar;
    this.sidebar = this.page.sidebar;
    this.stage = this.page.stage;
    /** The current study's series list of the side bar (series-panel.js). */
    this.seriesPanel = new SeriesPanel({
      catalog: this.catalog,
      loadFresh: () => loadStudySeries(this, config.studyUid, { fresh: true }),
      displaySeries,
      activeIndex: () => this.grid.activeIndex(),
      emit: (type, detail) => this.emit(type, detail),
      markReported: (sopUids) => this.measurements.markReported(sopUids),
      notify,
    });
    /** The measurements list of the side bar (measurements.js). */
    this.measurements = new MeasurementsPanel({
      readonly: Boolean(config.readonly),
      records: () => this.annotations?.records() || [],
      uidOf: (id) => this.annotations.byServer.get(String(id)),
      recordOf: (uid) => this.annotations.byLocal.get(uid),
      exportSr: (uid) => this.annotations.exportSr(uid),
      remember: (uid, record) => this.annotations._remember(uid, record),
      findSeries: (uid) => this.findSeries(uid),
      findImageId: (seriesUid, sopUid, frame) => this.findImageId(seriesUid, sopUid, frame),
      cells: () => this.grid.cells,
      jumpTo: (id, index) => this.grid.jumpTo(id, index),
      activeIndex: () => this.grid.activeIndex(),
      displaySeries: (index, series, imageIndex) => this.displaySeries(index, series, imageIndex),
      refreshSeriesList: () => this.refreshSeriesList(),
      renderAll: () => this.renderAll(),
      notify,
    });
    this.comparison = new Comparison({
      config, grid: this.grid, priorSeries: this.catalog.priors, sidebar: this.sidebar, displaySeries, notify,
      loadSeries: (studyUid) => loadStudySeries(this, studyUid),
      seriesItem: (series) => this.seriesPanel.item(series),
      setLayout: (layout) => this.setLayout(layout),
      updateOverlays: () => this.overlays.updateAll(),
    });
    this.bridge = new SessionBridge({
      emit: (type, detail) => this.emit(type, detail),
      grid: this.grid,
      mpr: () => this.mpr,
      findSeries: (uid) => this.findSeries(uid),
      allSeries: () => this.catalog.all(),
      displaySeries,
      annotations: () => this.annotations,
      tool: () => this.tools.current,
      ready: () => root.dataset.ready === 'true',
      stackCpu: () => this.mprMode.stackCpu,
      timings: this.timings,
    });
    this.progress = new LoadProgress({
      catalog: this.catalog, grid: this.grid, seriesPanel: this.seriesPanel, timings: this.timings,
      scheduleOverlay: (id) => this.overlays.schedule(id),
      emit: (type, detail) => this.emit(type, detail),
    });
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
    this.buildUi();
    this.renderingEngine = new RenderingEngine(ENGINE_ID);
    this.mprMode.chooseRenderer();
    this.tools.createGroups();
    this.annotations = new AnnotationSync({
      api: this.config.api,
      studyUid: this.config.studyUid,
      readonly: Boolean(this.config.readonly),
      username: this.config.user?.username,
      mpr: () => this.mpr,
      findImageId: (seriesUid, sopUid, frame) => this.findImageId(seriesUid, sopUid, frame),
      emit: (type, detail) => this.emit(type, detail),
      renderAll: () => this.renderAll(),
      recordsChanged: () => this.measurements.render(),
      notify: (message) => this.notify(message),
    });
    this.annotations.start();
    for (const type of ['annotation-added', 'annotation-modified', 'annotation-removed', 'annotations-loaded']) {
      this.on(type, () => this.measurements.render());
    }
    // A frame that cannot be fetched or decoded: said on its image and in the series list.
    this.progress.listen();
    this.worklistNav = new WorklistNav({
      studyUid: this.config.studyUid,
      readonly: Boolean(this.config.readonly),
      notify: (message) => this.notify(message),
    });
    bindShortcuts(this, shortcutTable(this));
    new ResizeObserver(() => this.grid.resize()).observe(this.stage);

    try {
      this.catalog.current = await seriesList;
      this.timings.seriesList = performance.now();
    } catch (err) {
      this.notify(`Could not load the study's series (${err.status || err.message})`);
      throw err;
    }
    this.renderSeriesList();
    this.setLayout('1x1');
    const first = this.catalog.defaultSeries();
    if (first) await this.displaySeries(0, first);
    this.timings.displayed = performance.now();
    await this.annotations.loadAll();
    this.emit('annotations-loaded', this.annotations.records());
    if (this.config.readonly) this.notify('Read-only: someone else is reading this study');
    this.root.dataset.ready = 'true';
    return this;
  }

  /** The page's frame, with each part's toolbar controls. */
  buildUi() {
    this.page.mount([
      toolGroup('Tools', [...this.tools.buttons.values()]),
      toolGroup('View', this.windowing.viewButtons()),
      this.windowing.presetGroup,
      toolGroup('Layout', this.grid.layoutButtons),
      toolGroup('Cine', this.cine.controls()),
      toolGroup('Volume', this.mprMode.controls()),
      toolGroup('More', actionButton('help', '?', 'Keyboard shortcuts (?)', () => this.help.toggle())),
    ]);
    this.notify('Loading…');
  }

  /** The side bar: the series, the measurements and (with priors) the priors. */
  renderSeriesList() {
    this.seriesPanel.render();
    this.page.showSidebar(
      [['Series', this.seriesPanel.node], ['Measurements', this.measurements.node]],
      this.comparison.renderList(),
    );
  }

  /** Viewport events: overlays, the series' load focus, prior sync, 'viewport-changed'. */
  bindViewportEvents(id, element) {
    const refresh = () => this.overlays.schedule(id);
    element.addEventListener(Events.IMAGE_RENDERED, () => {
      if (!this.timings.firstImage && id === 'vp-0' && this.grid.viewportById(id)?.getCurrentImageId?.()) {
        this.timings.firstImage = performance.now();
      }
      refresh();
    });
    element.addEventListener(Events.STACK_NEW_IMAGE, (evt) => {
      this.grid.cellOf(id)?.series?.setFocus(evt.detail.imageIdIndex);
      this.comparison.sync.onNewImage(id, evt.detail.imageIdIndex);
      refresh();
      this.bridge.emitViewportChanged(id);
    });
    for (const type of [Events.VOI_MODIFIED, Events.CAMERA_MODIFIED]) {
      element.addEventListener(type, () => {
        refresh();
        this.bridge.emitViewportChanged(id);
      });
    }
  }

  // ---- layout and series -------------------------------------------------------------

  setLayout(layout) {
    if (!LAYOUTS[layout]) return;
    if (this.mpr.active) this.mprMode.toggle(false);
    if (LAYOUTS[layout] < 2 && this.comparison.studyUid) this.comparison.unlink();
    const grid = this.grid;
    grid.showLayout(layout, this.catalog.current);
    this.setActive(grid.cellOf(grid.activeViewportId)?.enabled ? grid.activeViewportId : 'vp-0');
  }

  setActive(viewportId) {
    this.grid.setActive(viewportId, this.mpr.cells);
    this.windowing.render();
  }

  displaySeries(index, series, imageIndex) {
    return this.grid.show(index, series, imageIndex);
  }

  /** The series shown in the active viewport (the volume's in MPR). */
  activeSeries() {
    if (this.mpr.active) return this.mpr.series;
    return this.grid.activeCell()?.series || null;
  }

  /** A series loaded or failed a frame (loading.js calls this). */
  emitProgress(series) {
    this.progress.update(series);
  }

  // ---- the interface other modules, features, tests and the benchmark use ---------------

  /** The MPR planes (a closed stand-in until first opened). */
  get mpr() {
    return this.mprMode.mpr;
  }

  get activeViewportId() {
    return this.grid.activeViewportId;
  }

  viewportById(id) {
    return this.grid.viewportById(id);
  }

  findSeries(uid) {
    return this.catalog.find(uid);
  }

  findImageId(seriesUid, sopUid, frame = 1) {
    return this.catalog.findImageId(seriesUid, sopUid, frame);
  }

  scroll(delta) {
    this.grid.scroll(delta);
  }

  /** Add the study's series that arrived since the list was drawn (series-panel.js). */
  refreshSeriesList() {
    return this.seriesPanel.refresh();
  }

  renderAll() {
    this.renderingEngine?.render();
  }

  notify(message) {
    this.page.notify(message);
  }

  applyViewport(state) {
    return this.bridge.applyViewport(state);
  }

  applyAnnotation(record) {
    return this.bridge.applyAnnotation(record);
  }

  removeAnnotation(id) {
    return this.bridge.removeAnnotation(id);
  }

  imageToPage(viewportId, point) {
    return this.bridge.imageToPage(viewportId, point);
  }

  loadStats(seriesUid) {
    return this.bridge.loadStats(seriesUid);
  }

  /** A snapshot of what is on screen, for tests, the benchmark and debugging. */
  state() {
    return this.bridge.snapshot();
  }
}

export { getRenderingEngine, SeriesData };
