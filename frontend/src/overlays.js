/**
 * Viewport overlays: patient/study, series, slice number and position, thickness, W/L,
 * zoom, and orientation markers. Stack images take their markers from their own
 * orientation attributes (none when the image has none); reformats from the camera.
 */
import { utilities as csUtils } from '@cornerstonejs/core';

import { tagValue } from './loading.js';

/** Patient-axis letters for a direction in the patient coordinate system (LPS, PS3.3 C.7.6.2.1.1). */
export function orientationLabel(vector) {
  const letters = [
    ['R', 'L'],
    ['A', 'P'],
    ['F', 'H'],
  ];
  const order = [0, 1, 2].sort((a, b) => Math.abs(vector[b]) - Math.abs(vector[a]));
  let label = '';
  for (const axis of order) {
    const v = vector[axis];
    if (Math.abs(v) < 0.25) break;
    label += letters[axis][v > 0 ? 1 : 0];
    if (label.length === 2) break;
  }
  return label;
}

function sub(a, b) {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

function neg(a) {
  return [-a[0], -a[1], -a[2]];
}

function fmt(value, digits = 1) {
  return Number.isFinite(value) ? value.toFixed(digits) : '';
}

export function createOverlay(element) {
  const overlay = document.createElement('div');
  overlay.className = 'vw-overlay';
  overlay.innerHTML = `
    <div class="vw-corner tl" data-overlay="patient"></div>
    <div class="vw-corner tr" data-overlay="series"></div>
    <div class="vw-corner bl" data-overlay="display"></div>
    <div class="vw-corner br" data-overlay="status"></div>
    <div class="vw-orient top" data-orient="top"></div>
    <div class="vw-orient bottom" data-orient="bottom"></div>
    <div class="vw-orient left" data-orient="left"></div>
    <div class="vw-orient right" data-orient="right"></div>
    <div class="vw-image-error" data-overlay-error role="alert" hidden></div>`;
  element.appendChild(overlay);
  return overlay;
}

function setLines(el, lines) {
  const text = lines.filter(Boolean).join('\n');
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Screen pixels per image pixel, the same on Cornerstone's CPU and WebGL paths (their
 * ``getZoom`` baselines differ); volume viewports report ``getZoom`` relative to fit.
 */
export function magnification(viewport, imageId) {
  if (!imageId) return viewport.getZoom();
  const a = viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, [0, 0]));
  const b = viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, [1, 0]));
  return Math.hypot(b[0] - a[0], b[1] - a[1]);
}

const OPPOSITE = { L: 'R', R: 'L', A: 'P', P: 'A', H: 'F', F: 'H' };

/**
 * Image Orientation (Patient) (0020,0037) of an instance's DICOM JSON: the top-level
 * attribute, else the enhanced multi-frame Plane Orientation Sequence (0020,9116) in the
 * shared (5200,9229) or first per-frame (5200,9230) functional groups (PS3.3 C.7.6.16.2.4).
 *
 * @param {Record<string, any> | undefined} meta
 * @returns {number[] | null}
 */
export function imageOrientation(meta) {
  const direct = meta?.['00200037']?.Value;
  if (direct?.length === 6) return direct.map(Number);
  for (const group of ['52009229', '52009230']) {
    const item = meta?.[group]?.Value?.[0];
    const iop = item?.['00209116']?.Value?.[0]?.['00200037']?.Value;
    if (iop?.length === 6) return iop.map(Number);
  }
  return null;
}

/**
 * What the image's rows and columns point at in the patient: the direction cosines of
 * Image Orientation (Patient), else the letters of Patient Orientation (0020,0020), which
 * projection radiographs carry instead (PS3.3 C.7.6.1.1.1: row direction first, then
 * column direction, e.g. ``L\F`` for a PA chest). ``null`` when the image says neither.
 *
 * @param {Record<string, any> | undefined} meta
 * @returns {{ row: number[], col: number[] } | { rowLetters: string, colLetters: string } | null}
 */
export function imageAxes(meta) {
  const iop = imageOrientation(meta);
  if (iop && iop.every(Number.isFinite) && iop.some((v) => v !== 0)) {
    return { row: iop.slice(0, 3), col: iop.slice(3, 6) };
  }
  const po = meta?.['00200020']?.Value;
  const valid = (v) => typeof v === 'string' && /^[LRAPHF]+$/.test(v.trim());
  if (po?.length === 2 && valid(po[0]) && valid(po[1])) {
    return { rowLetters: po[0].trim(), colLetters: po[1].trim() };
  }
  return null;
}

const opposite = (letters) => [...letters].map((c) => OPPOSITE[c]).join('');

/**
 * The marker for a screen direction given as its components ``(dx, dy)`` along the image's
 * rows (x) and columns (y): a rotated or flipped image changes these, not the axes.
 */
export function markerFor(axes, dx, dy) {
  if (!axes) return '';
  if ('row' in axes) {
    const v = [0, 1, 2].map((i) => dx * axes.row[i] + dy * axes.col[i]);
    const len = Math.hypot(v[0], v[1], v[2]) || 1;
    return orientationLabel(v.map((x) => x / len));
  }
  const alongRow = Math.abs(dx) >= Math.abs(dy);
  const letters = alongRow ? axes.rowLetters : axes.colLetters;
  const sign = alongRow ? dx : dy;
  return sign > 0 ? letters : opposite(letters);
}

function setMarkers(q, markers) {
  for (const side of ['top', 'bottom', 'left', 'right']) {
    const node = q(`[data-orient="${side}"]`);
    const text = markers?.[side] || '';
    if (node.textContent !== text) node.textContent = text;
  }
}

/**
 * Markers of a stack image: screen right and down expressed in image pixels (so rotation
 * and flips are included), then named through the image's own orientation attributes.
 */
function stackMarkers(viewport, imageId, meta) {
  const axes = imageAxes(meta);
  if (!axes) return null;
  const canvas = viewport.getCanvas();
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return null;
  const at = (x, y) => csUtils.worldToImageCoords(imageId, viewport.canvasToWorld([x, y]));
  const c = at(w / 2, h / 2);
  const r = at(w, h / 2);
  const d = at(w / 2, h);
  const right = [r[0] - c[0], r[1] - c[1]];
  const down = [d[0] - c[0], d[1] - c[1]];
  return {
    right: markerFor(axes, right[0], right[1]),
    left: markerFor(axes, -right[0], -right[1]),
    bottom: markerFor(axes, down[0], down[1]),
    top: markerFor(axes, -down[0], -down[1]),
  };
}

/** Markers of a reformatted (volume) view, from its camera in patient space. */
function volumeMarkers(viewport) {
  const canvas = viewport.getCanvas();
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return null;
  const center = viewport.canvasToWorld([w / 2, h / 2]);
  const norm = (v) => {
    const len = Math.hypot(v[0], v[1], v[2]) || 1;
    return [v[0] / len, v[1] / len, v[2] / len];
  };
  const r = norm(sub(viewport.canvasToWorld([w, h / 2]), center));
  const d = norm(sub(viewport.canvasToWorld([w / 2, h]), center));
  return {
    right: orientationLabel(r),
    left: orientationLabel(neg(r)),
    bottom: orientationLabel(d),
    top: orientationLabel(neg(d)),
  };
}

/** Blank every corner and marker: an empty cell shows nothing. */
export function clearOverlay(overlay, error = '') {
  for (const node of overlay.querySelectorAll('[data-overlay], [data-orient]')) {
    if (node.textContent) node.textContent = '';
  }
  const box = overlay.querySelector('[data-overlay-error]');
  if (box && box.textContent !== error) box.textContent = error;
  if (box) box.hidden = !error;
}

/** Refresh one viewport's overlay text from its current image and camera. */
export function updateOverlay(overlay, viewport, info) {
  const q = (sel) => overlay.querySelector(sel);
  const { study, series } = info;
  // Volume viewports also answer getCurrentImageId (the nearest acquired slice); their
  // overlay shows the reformatted slice instead.
  const imageId = viewport?.type === 'stack' ? viewport.getCurrentImageId?.() : undefined;
  const isVolume = viewport && viewport.type !== 'stack';
  // A cell without a series, or a stack that has no image yet, shows nothing.
  if (!viewport || !series || (!isVolume && !imageId)) {
    clearOverlay(overlay, info.error || '');
    return;
  }
  const error = info.error || '';
  const errorBox = q('[data-overlay-error]');
  if (errorBox.textContent !== error) errorBox.textContent = error;
  errorBox.hidden = !error;
  setLines(q('[data-overlay="patient"]'), [
    study.patientName,
    [study.patientId, study.patientSex, study.patientBirthDate].filter(Boolean).join('  '),
    [study.studyDate, study.studyDescription].filter(Boolean).join('  '),
    info.isPrior ? 'PRIOR' : '',
  ]);

  const lines = [];
  let position = '';
  let thickness = '';
  lines.push(`${series.modality} #${series.number ?? ''} ${series.description}`.trim());
  if (info.label) lines.push(info.label);
  const meta = imageId ? series.instances.get(imageId) : undefined;
  if (imageId) {
    const index = viewport.getCurrentImageIdIndex();
    const total = viewport.getImageIds().length;
    lines.push(`Im ${index + 1}/${total}`);
    const location = Number(tagValue(meta, '00201041'));
    const ipp = meta?.['00200032']?.Value;
    if (Number.isFinite(location)) position = `Loc ${fmt(location)} mm`;
    else if (ipp?.length === 3) position = `Pos ${fmt(Number(ipp[2]))} mm`; // projections have none
    const thick = Number(tagValue(meta, '00180050'));
    if (Number.isFinite(thick) && thick > 0) thickness = `Thk ${fmt(thick, 2)} mm`;
  } else {
    try {
      lines.push(`Sl ${viewport.getSliceIndex() + 1}/${viewport.getNumberOfSlices()}`);
      const cam = viewport.getCamera();
      const n = cam.viewPlaneNormal;
      const fp = cam.focalPoint;
      position = `Pos ${fmt(fp[0] * Math.abs(n[0]) + fp[1] * Math.abs(n[1]) + fp[2] * Math.abs(n[2]))} mm`;
      const slab = viewport.getSlabThickness?.();
      if (slab && slab > 0.5) thickness = `Slab ${fmt(slab)} mm${info.mip ? ' MIP' : ''}`;
    } catch {
      /* volume not ready yet */
    }
  }
  lines.push(position, thickness, info.sync || '');
  setLines(q('[data-overlay="series"]'), lines);

  const props = error ? {} : viewport.getProperties?.() || {};
  const display = [];
  if (props.voiRange) {
    const { windowWidth, windowCenter } = csUtils.windowLevel.toWindowLevel(
      props.voiRange.lower,
      props.voiRange.upper,
    );
    display.push(
      `W ${Math.round(windowWidth)} L ${Math.round(windowCenter)}${info.preset ? ` ${info.preset}` : ''}`,
    );
  }
  if (!error) {
    try {
      display.push(`Zoom ${fmt(magnification(viewport, imageId), 2)}x`);
    } catch {
      /* no camera yet */
    }
  }
  if (props.invert) display.push('Inverted');
  setLines(q('[data-overlay="display"]'), display);
  setLines(q('[data-overlay="status"]'), [info.status || '']);

  // Orientation markers: none on an image that failed, or one that does not say.
  let markers = null;
  if (!error) {
    try {
      markers = imageId ? stackMarkers(viewport, imageId, meta) : volumeMarkers(viewport);
    } catch {
      markers = null; // viewport without a camera yet
    }
  }
  setMarkers(q, markers);
}
