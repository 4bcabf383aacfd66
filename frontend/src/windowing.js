/**
 * Windowing and the view of the active image: the window presets of each modality, the
 * image's own window ("Default"), invert, rotate, flip, fit and reset, and the toolbar's
 * "View" and "Presets" groups. Presets and invert reach every MPR plane (one volume); the
 * other actions the active viewport.
 */
import { utilities as csUtils } from '@cornerstonejs/core';

import { actionButton, toolGroup } from './dom.js';

/**
 * Window presets (width, center) per modality, bound to the number keys. CT values are
 * Hounsfield units, meaningful on every CT; MR and projection images have no absolute
 * scale, so they get none and keep the image's own window (Window Center/Width or VOI
 * LUT, PS3.3 C.11.2), which "Reset" (0) and the "Default" button restore.
 */
export const PRESETS_BY_MODALITY = {
  CT: [
    { key: '1', id: 'lung', label: 'Lung', width: 1500, center: -600 },
    { key: '2', id: 'mediastinum', label: 'Mediastinum', width: 350, center: 50 },
    { key: '3', id: 'bone', label: 'Bone', width: 2000, center: 500 },
    { key: '4', id: 'brain', label: 'Brain', width: 80, center: 40 },
    { key: '5', id: 'abdomen', label: 'Abdomen', width: 400, center: 50 },
  ],
};

/** Every preset of every modality (the help overlay lists them). */
export const PRESETS = Object.entries(PRESETS_BY_MODALITY).flatMap(([modality, list]) =>
  list.map((p) => ({ ...p, modality })),
);

/** The presets that apply to a series of ``modality`` (none when its values have no scale). */
export function presetsFor(modality) {
  return PRESETS_BY_MODALITY[modality] || [];
}

export function voiFromPreset(preset) {
  // The DICOM linear VOI function's range (PS3.3 C.11.2.1.2), so the overlay reads W/L back exactly.
  return csUtils.windowLevel.toLowHighRange(preset.width, preset.center);
}

/** The preset of ``presets`` whose window ``voiRange`` is, if any. */
export function activePreset(presets, voiRange) {
  if (!voiRange) return null;
  return (
    presets.find((p) => {
      const r = voiFromPreset(p);
      return Math.abs(r.lower - voiRange.lower) < 0.5 && Math.abs(r.upper - voiRange.upper) < 0.5;
    }) || null
  );
}

/**
 * @typedef {import('./layout.js').ReadingViewport} ReadingViewport
 * @typedef {object} WindowingDeps
 * @property {() => any} activeSeries the SeriesData in the active viewport (the volume's in MPR)
 * @property {() => ReadingViewport | undefined} activeViewport
 * @property {() => ReadingViewport[]} targetViewports the active one, or every MPR plane
 * @property {(message: string) => void} notify
 */

export class Windowing {
  /** @param {WindowingDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** The toolbar's preset buttons: "Default" and the active series' modality's presets. */
    this.presetGroup = toolGroup('Presets');
  }

  /** The toolbar's "View" buttons. */
  viewButtons() {
    return [
      actionButton('invert', 'Invert', 'Invert (I)', () => this.invert()),
      actionButton('rotate', 'Rotate', 'Rotate 90° (O)', () => this.rotate()),
      actionButton('flip-h', 'Flip H', 'Flip horizontal (H)', () => this.flip('h')),
      actionButton('flip-v', 'Flip V', 'Flip vertical (V)', () => this.flip('v')),
      actionButton('fit', 'Fit', 'Fit to window (F)', () => this.fit()),
      actionButton('reset', 'Reset', 'Reset view (0)', () => this.reset()),
    ];
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

  /** Redraw the preset buttons for the active series, the one on screen marked "on". */
  render() {
    const series = this.deps.activeSeries();
    const modality = series?.modality || '';
    const group = this.presetGroup;
    if (group.dataset.modality !== modality) {
      group.dataset.modality = modality;
      group.replaceChildren(
        actionButton('preset-default', 'Default', "The image's own window (0 resets the view)", () =>
          this.applyDefault(),
        ),
        ...presetsFor(modality).map((p) =>
          actionButton(`preset-${p.id}`, p.label, `${p.label} W${p.width} L${p.center} (${p.key})`, () =>
            this.applyPreset(p.id),
          ),
        ),
      );
    }
    let active = '';
    try {
      const viewport = this.deps.activeViewport();
      const imageId = viewport?.getCurrentImageId?.();
      if (series && viewport) active = this.presetLabel(series, imageId, viewport.getProperties().voiRange);
    } catch {
      /* nothing shown yet */
    }
    for (const b of group.children) {
      b.classList.toggle('on', Boolean(active) && b.textContent === active);
    }
  }

  applyPreset(presetId) {
    const series = this.deps.activeSeries();
    const preset = presetsFor(series?.modality).find((p) => p.id === presetId);
    if (!preset) return false;
    for (const viewport of this.deps.targetViewports()) {
      viewport.setProperties({ voiRange: voiFromPreset(preset) });
      viewport.render();
    }
    this.render();
    return true;
  }

  /** Number key ``key``: the active series' modality's preset on that key, if it has one. */
  applyPresetKey(key) {
    const series = this.deps.activeSeries();
    if (!series) return;
    const preset = presetsFor(series.modality).find((p) => p.key === key);
    if (preset) this.applyPreset(preset.id);
    else this.deps.notify(`No window preset ${key} for ${series.modality || 'this series'} (Default keeps the image's own window)`);
  }

  /** The image's own window, or Cornerstone's default where the file has none. */
  applyDefault() {
    const series = this.deps.activeSeries();
    for (const viewport of this.deps.targetViewports()) {
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
    this.render();
  }

  invert() {
    for (const viewport of this.deps.targetViewports()) {
      const { invert } = viewport.getProperties();
      viewport.setProperties({ invert: !invert });
      viewport.render();
    }
  }

  rotate() {
    const viewport = this.deps.activeViewport();
    const rotation = viewport.getViewPresentation().rotation || 0;
    viewport.setViewPresentation({ rotation: (rotation + 90) % 360 });
    viewport.render();
  }

  flip(axis) {
    const viewport = this.deps.activeViewport();
    const camera = viewport.getCamera();
    if (axis === 'h') viewport.setCamera({ flipHorizontal: !camera.flipHorizontal });
    else viewport.setCamera({ flipVertical: !camera.flipVertical });
    viewport.render();
  }

  fit() {
    const viewport = this.deps.activeViewport();
    const rotation = viewport.getViewPresentation?.().rotation || 0;
    viewport.resetCamera({ resetPan: true, resetZoom: true, resetToCenter: true });
    if (rotation) viewport.setViewPresentation({ rotation });
    viewport.render();
  }

  /** Window, invert, camera, flips and rotation back to how the image first showed. */
  reset() {
    for (const viewport of this.deps.targetViewports()) {
      viewport.resetProperties?.();
      const { flipHorizontal, flipVertical } = viewport.getCamera();
      if (flipHorizontal || flipVertical) viewport.setCamera({ flipHorizontal: false, flipVertical: false });
      viewport.resetCamera();
      if (viewport.getViewPresentation) viewport.setViewPresentation({ rotation: 0 });
      viewport.render();
    }
  }
}
