/**
 * The view a live session shares: what a viewport shows (series, slice, W/L, invert,
 * zoom and pan, rotation, flips) in terms every screen shares, and framing a stack
 * viewport from such a description. Plain functions of a Cornerstone viewport; the
 * viewer's ``viewportState``/``applyViewport`` and the session client build on them.
 */
import { utilities as csUtils } from '@cornerstonejs/core';

/**
 * What ``viewport`` shows, for ``viewport-changed`` events, ``state()`` and followers.
 * @param {any} viewport a Cornerstone stack or volume viewport
 * @param {string} viewportId
 * @param {string | null} seriesUid the series it shows
 */
export function describeViewport(viewport, viewportId, seriesUid) {
  let props;
  let camera;
  try {
    props = viewport.getProperties?.() || {};
    camera = viewport.getCamera();
  } catch {
    return { viewportId, ready: false }; // no data on it yet
  }
  let slice = null;
  let total = null;
  if (viewport.getImageIds) {
    slice = viewport.getCurrentImageIdIndex();
    total = viewport.getImageIds().length;
  } else if (viewport.getSliceIndex) {
    slice = viewport.getSliceIndex();
    total = viewport.getNumberOfSlices();
  }
  // Zoom relative to "fit" and pan as a fraction of the canvas: the same view on
  // screens of any size (a follower's window is rarely the presenter's).
  let zoom = null;
  let pan = null;
  try {
    ({ zoom = null, pan = null } = viewport.getViewPresentation({ zoom: true, pan: true }));
  } catch {
    /* not rendered yet */
  }
  const framing = stackFraming(viewport);
  return {
    viewportId,
    ...framing,
    series: seriesUid,
    imageId: viewport.getCurrentImageId?.() || null,
    slice,
    total,
    voi: props.voiRange ? { lower: props.voiRange.lower, upper: props.voiRange.upper } : null,
    invert: Boolean(props.invert),
    zoom,
    pan,
    rotation: viewport.getViewPresentation?.().rotation || 0,
    flipHorizontal: Boolean(camera.flipHorizontal),
    flipVertical: Boolean(camera.flipVertical),
    orientation: viewport.defaultOptions?.orientation || null,
  };
}

/**
 * How a stack viewport frames its image, in terms every screen shares: the image
 * pixel at the canvas centre and canvas pixels per image pixel. Camera pan/zoom
 * numbers depend on each viewport's stored baseline camera and render path.
 */
export function stackFraming(viewport) {
  const imageId = viewport.getCurrentImageId?.();
  if (!viewport.getImageIds || !imageId) return {};
  try {
    const canvas = viewport.getCanvas();
    const middle = [canvas.clientWidth / 2, canvas.clientHeight / 2];
    const center = csUtils.worldToImageCoords(imageId, viewport.canvasToWorld(middle));
    return { center: center.slice(0, 2), scale: canvasPixelsPerImagePixel(viewport, imageId) };
  } catch {
    return {}; // no image drawn yet
  }
}

export function canvasPixelsPerImagePixel(viewport, imageId) {
  const a = viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, [0, 0]));
  const b = viewport.worldToCanvas(csUtils.imageToWorldCoords(imageId, [1, 0]));
  return Math.hypot(b[0] - a[0], b[1] - a[1]);
}

/** Frame a stack viewport like ``stackFraming`` described; false when it cannot. */
export function applyStackFraming(viewport, { center, scale }) {
  const imageId = viewport.getCurrentImageId?.();
  if (!viewport.getImageIds || !imageId || !center || !scale) return false;
  const current = canvasPixelsPerImagePixel(viewport, imageId);
  if (!(current > 0)) return false;
  viewport.setZoom(viewport.getZoom() * (scale / current));
  const canvas = viewport.getCanvas();
  const here = viewport.canvasToWorld([canvas.clientWidth / 2, canvas.clientHeight / 2]);
  const there = csUtils.imageToWorldCoords(imageId, center);
  const { focalPoint, position } = viewport.getCamera();
  const shift = [0, 1, 2].map((i) => there[i] - here[i]);
  viewport.setCamera({
    focalPoint: focalPoint.map((v, i) => v + shift[i]),
    position: position.map((v, i) => v + shift[i]),
  });
  return true;
}
