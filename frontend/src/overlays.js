/**
 * Viewport overlays: patient/study, series, slice number and position, thickness, W/L,
 * zoom, and orientation markers derived from the camera (so they follow rotate/flip).
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
    <div class="vw-orient right" data-orient="right"></div>`;
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

/** Refresh one viewport's overlay text from its current image and camera. */
export function updateOverlay(overlay, viewport, info) {
  const q = (sel) => overlay.querySelector(sel);
  const { study, series } = info;
  setLines(q('[data-overlay="patient"]'), [
    study.patientName,
    [study.patientId, study.patientSex, study.patientBirthDate].filter(Boolean).join('  '),
    [study.studyDate, study.studyDescription].filter(Boolean).join('  '),
    info.isPrior ? 'PRIOR' : '',
  ]);
  if (!viewport) return;

  const lines = [];
  let position = '';
  let thickness = '';
  // Volume viewports also answer getCurrentImageId (the nearest acquired slice); their
  // overlay shows the reformatted slice instead.
  const imageId = viewport.type === 'stack' ? viewport.getCurrentImageId?.() : undefined;
  if (series) {
    lines.push(`${series.modality} #${series.number ?? ''} ${series.description}`.trim());
  }
  if (info.label) lines.push(info.label);
  if (imageId) {
    const index = viewport.getCurrentImageIdIndex();
    const total = viewport.getImageIds().length;
    lines.push(`Im ${index + 1}/${total}`);
    const meta = series?.instances.get(imageId);
    const location = Number(tagValue(meta, '00201041'));
    const ipp = meta?.['00200032']?.Value;
    if (Number.isFinite(location)) position = `Loc ${fmt(location)} mm`;
    else if (ipp?.length === 3) position = `Pos ${fmt(Number(ipp[2]))} mm`; // projections have none
    const thick = Number(tagValue(meta, '00180050'));
    if (Number.isFinite(thick) && thick > 0) thickness = `Thk ${fmt(thick, 2)} mm`;
  } else if (viewport.getSliceIndex && viewport.getNumberOfSlices) {
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
  lines.push(position, thickness);
  setLines(q('[data-overlay="series"]'), lines);

  const props = viewport.getProperties?.() || {};
  const display = [];
  if (props.voiRange) {
    const { windowWidth, windowCenter } = csUtils.windowLevel.toWindowLevel(
      props.voiRange.lower,
      props.voiRange.upper,
    );
    display.push(`W ${Math.round(windowWidth)} L ${Math.round(windowCenter)}`);
  }
  try {
    display.push(`Zoom ${fmt(magnification(viewport, imageId), 2)}x`);
  } catch {
    /* no camera yet */
  }
  if (props.invert) display.push('Inverted');
  setLines(q('[data-overlay="display"]'), display);
  setLines(q('[data-overlay="status"]'), [info.status || '']);

  // Orientation markers: map screen directions back into patient space.
  try {
    const canvas = viewport.getCanvas();
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    if (!w || !h) return;
    const center = viewport.canvasToWorld([w / 2, h / 2]);
    const right = sub(viewport.canvasToWorld([w, h / 2]), center);
    const down = sub(viewport.canvasToWorld([w / 2, h]), center);
    const norm = (v) => {
      const len = Math.hypot(v[0], v[1], v[2]) || 1;
      return [v[0] / len, v[1] / len, v[2] / len];
    };
    const r = norm(right);
    const d = norm(down);
    q('[data-orient="right"]').textContent = orientationLabel(r);
    q('[data-orient="left"]').textContent = orientationLabel(neg(r));
    q('[data-orient="bottom"]').textContent = orientationLabel(d);
    q('[data-orient="top"]').textContent = orientationLabel(neg(d));
  } catch {
    /* viewport without a camera yet */
  }
}
