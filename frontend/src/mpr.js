/**
 * CT/MR multiplanar reconstruction: the series as a streaming volume shown in axial,
 * sagittal and coronal orthographic viewports with crosshairs, and an optional MIP slab.
 */
import { Enums, setVolumesForViewports, volumeLoader } from '@cornerstonejs/core';

import { createOverlay } from './overlays.js';

const { ViewportType, OrientationAxis, BlendModes } = Enums;

export const MPR_VIEWPORTS = [
  { id: 'mpr-axial', orientation: OrientationAxis.AXIAL, label: 'Axial' },
  { id: 'mpr-sagittal', orientation: OrientationAxis.SAGITTAL, label: 'Sagittal' },
  { id: 'mpr-coronal', orientation: OrientationAxis.CORONAL, label: 'Coronal' },
];

export class Mpr {
  /**
   * @param {import('@cornerstonejs/core').RenderingEngine} engine the viewer's rendering engine
   * @param {HTMLElement} container where the three planes' cells go
   * @param {import('@cornerstonejs/tools').Types.IToolGroup} toolGroup the MPR tool group
   */
  constructor(engine, container, toolGroup) {
    this.engine = engine;
    this.container = container;
    this.toolGroup = toolGroup;
    this.cells = [];
    this.series = null;
    this.volumeId = null;
    this.slab = 0;
    this.active = false;
  }

  _buildCells() {
    if (this.cells.length) return;
    for (const spec of MPR_VIEWPORTS) {
      const cell = document.createElement('div');
      cell.className = 'vw-cell vw-mpr-cell';
      cell.dataset.viewportId = spec.id;
      const element = document.createElement('div');
      element.className = 'vw-element';
      element.oncontextmenu = (e) => e.preventDefault();
      cell.appendChild(element);
      const overlay = createOverlay(cell);
      this.container.appendChild(cell);
      this.cells.push({ ...spec, cell, element, overlay });
    }
  }

  /** Open ``series`` (already registered with the loader) in the three planes. */
  async open(series, voiRange) {
    this._buildCells();
    this.container.hidden = false;
    this.active = true;
    const engine = this.engine;
    for (const c of this.cells) {
      engine.enableElement({
        viewportId: c.id,
        type: ViewportType.ORTHOGRAPHIC,
        element: c.element,
        defaultOptions: { orientation: c.orientation, background: [0, 0, 0] },
      });
      this.toolGroup.addViewport(c.id, engine.id);
    }
    this.series = series;
    this.volumeId = `cornerstoneStreamingImageVolume:${series.uid}`;
    const volume = await volumeLoader.createAndCacheVolume(this.volumeId, {
      imageIds: series.imageIds,
    });
    volume.load();
    await setVolumesForViewports(
      engine,
      [
        {
          volumeId: this.volumeId,
          callback: ({ volumeActor }) => {
            if (voiRange) {
              volumeActor.getProperty().getRGBTransferFunction(0).setMappingRange(
                voiRange.lower,
                voiRange.upper,
              );
            }
          },
        },
      ],
      this.cells.map((c) => c.id),
    );
    this.setSlab(this.slab);
    engine.renderViewports(this.cells.map((c) => c.id));
    return this.cells.map((c) => c.id);
  }

  /** A slab of ``mm`` millimetres rendered as a maximum intensity projection; 0 turns it off. */
  setSlab(mm) {
    this.slab = Number(mm) || 0;
    if (!this.active) return;
    for (const c of this.cells) {
      const viewport = /** @type {import('@cornerstonejs/core').Types.IVolumeViewport} */ (this.engine.getViewport(c.id));
      if (!viewport) continue;
      if (this.slab > 0) {
        viewport.setBlendMode(BlendModes.MAXIMUM_INTENSITY_BLEND);
        viewport.setSlabThickness(this.slab);
      } else {
        viewport.setBlendMode(BlendModes.COMPOSITE);
        viewport.resetSlabThickness();
      }
      viewport.render();
    }
  }

  close() {
    if (!this.active) return;
    const engine = this.engine;
    for (const c of this.cells) {
      this.toolGroup.removeViewports(engine.id, c.id);
      engine.disableElement(c.id);
    }
    this.container.hidden = true;
    this.active = false;
  }

  viewportIds() {
    return this.active ? this.cells.map((c) => c.id) : [];
  }
}
