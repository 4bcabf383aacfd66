/**
 * The annotation record: a Cornerstone measurement as the annotations REST API keeps it
 * (docs/api.md), with its image (SOP Instance UID + frame) and its geometry in image
 * pixel coordinates, or in patient coordinates with its plane when drawn on a reformatted
 * MPR plane; and the record back as a Cornerstone annotation. Functions of their
 * arguments only: the sync (annotations-sync.js) and the layer (annotation-layer.js) use
 * them.
 */
import { metaData, utilities as csUtils } from '@cornerstonejs/core';
import {
  AngleTool,
  ArrowAnnotateTool,
  EllipticalROITool,
  LengthTool,
  ProbeTool,
  RectangleROITool,
} from '@cornerstonejs/tools';

import { parseImageId } from './loading.js';
import { MEASUREMENT_TOOL_NAMES } from './tools.js';

/** @returns {import('@cornerstonejs/core').Types.Point3} */
export function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/**
 * True for a measurement with no extent: an ROI without area, a length of no length (a
 * click without a drag). Arrows and probes are points by nature.
 */
export function isDegenerate(record) {
  if (!record || !['length', 'ellipse_roi', 'rectangle_roi', 'angle'].includes(record.tool)) return false;
  let points = record.geometry?.points || [];
  const { world, plane } = record.geometry || {};
  if (world && plane) {
    // Drawn on a reformatted plane: its extent in that plane (mm), along its two axes.
    const up = plane.view_up;
    const across = cross(up, plane.normal);
    const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    points = world.map((p) => [dot(p, across), dot(p, up)]);
  }
  if (points.length < 2) return true;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const w = Math.max(...xs) - Math.min(...xs);
  const h = Math.max(...ys) - Math.min(...ys);
  if (record.tool === 'length' || record.tool === 'angle') return Math.hypot(w, h) < 0.5;
  return w < 0.5 || h < 0.5;
}

/** Cornerstone tool names <-> the annotations API's tool vocabulary. */
export const API_TOOL = {
  [LengthTool.toolName]: 'length',
  [AngleTool.toolName]: 'angle',
  [EllipticalROITool.toolName]: 'ellipse_roi',
  [RectangleROITool.toolName]: 'rectangle_roi',
  [ProbeTool.toolName]: 'probe',
  [ArrowAnnotateTool.toolName]: 'arrow',
};
export const CS_TOOL = Object.fromEntries(Object.entries(API_TOOL).map(([cs, api]) => [api, cs]));

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The tool's cached statistics as ``{name: {value, unit}}`` (length in mm, mean/SD in HU...). */
function measurementsOf(annotation) {
  const stats = annotation.data?.cachedStats || {};
  const first = Object.values(stats)[0] || {};
  const units = {
    length: first.unit,
    area: first.areaUnit,
    angle: 'deg',
    mean: first.modalityUnit,
    stdDev: first.modalityUnit,
    max: first.modalityUnit,
    min: first.modalityUnit,
    value: first.modalityUnit,
    perimeter: first.unit,
    radius: first.radiusUnit || first.unit,
  };
  const out = {};
  for (const [key, value] of Object.entries(first)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || !(key in units)) continue;
    out[snake(key)] = { value: Number(value.toFixed(4)), unit: String(units[key] || '').slice(0, 16) };
  }
  return out;
}

function round(v) {
  return Math.round(v * 1000) / 1000;
}

/** The MPR volume's series, when ``annotation`` was drawn on one of its planes. */
export function planeSeries(annotation, mpr) {
  const meta = annotation?.metadata;
  if (!mpr?.active || !mpr.series || !meta?.viewPlaneNormal || !meta?.viewUp) return null;
  const first = metaData.get('imagePlaneModule', mpr.series.imageIds[0]);
  if (first?.frameOfReferenceUID && meta.FrameOfReferenceUID !== first.frameOfReferenceUID) return null;
  return mpr.series;
}

/** A measurement tool's annotation on an image of the study or on the MPR volume's planes. */
export function isMeasurement(annotation, mpr) {
  return (
    annotation &&
    MEASUREMENT_TOOL_NAMES.has(annotation.metadata?.toolName) &&
    (parseImageId(annotation.metadata?.referencedImageId) || planeSeries(annotation, mpr))
  );
}

/** Serialize a Cornerstone annotation into the REST contract (image coordinates). */
export function toRecord(annotation, mpr) {
  const imageId = annotation.metadata?.referencedImageId;
  const ref = parseImageId(imageId);
  if (!ref) return toPlaneRecord(annotation, planeSeries(annotation, mpr));
  const points = (annotation.data?.handles?.points || []).map((p) => {
    const [x, y] = csUtils.worldToImageCoords(imageId, p);
    return [round(x), round(y)];
  });
  return restRecord(annotation, ref, { points });
}

/**
 * The REST record of ``annotation`` on the image ``ref`` names, with its ``geometry``.
 * @param {any} annotation
 * @param {{seriesUid: string, sopUid: string, frame: number}} ref
 * @param {object} geometry
 */
function restRecord(annotation, ref, geometry) {
  const isArrow = annotation.metadata.toolName === ArrowAnnotateTool.toolName;
  return {
    series_instance_uid: ref.seriesUid,
    sop_instance_uid: ref.sopUid,
    frame_number: ref.frame,
    tool: API_TOOL[annotation.metadata.toolName],
    geometry,
    // The arrow tool keeps its text in ``data.label``; the API calls it ``text``.
    label: isArrow ? '' : annotation.data?.label || '',
    text: isArrow ? annotation.data?.label || '' : annotation.data?.text || '',
    measurements: measurementsOf(annotation),
  };
}

/**
 * A measurement drawn on a reformatted MPR plane (sagittal, coronal: no source image
 * lies in it) of ``series``. It is kept against the nearest source slice, with its points
 * in patient coordinates (mm) and the plane it was drawn in, so it is redrawn on that plane.
 */
export function toPlaneRecord(annotation, series) {
  if (!series) return null;
  const world = annotation.data?.handles?.points || [];
  if (!world.length) return null;
  const centre = [0, 1, 2].map((i) => world.reduce((sum, p) => sum + p[i], 0) / world.length);
  let nearest = null;
  let best = Infinity;
  for (const id of series.imageIds) {
    const plane = metaData.get('imagePlaneModule', id);
    if (!plane?.imagePositionPatient) continue;
    const normal = cross(plane.rowCosines, plane.columnCosines);
    const d = Math.abs([0, 1, 2].reduce((sum, i) => sum + (centre[i] - plane.imagePositionPatient[i]) * normal[i], 0));
    if (d < best) {
      best = d;
      nearest = id;
    }
  }
  const ref = parseImageId(nearest);
  if (!ref) return null;
  const { viewPlaneNormal, viewUp } = annotation.metadata;
  return restRecord(annotation, ref, {
    // The projection onto the nearest slice (what a 2D reader of the record sees) ...
    points: world.map((p) => csUtils.worldToImageCoords(nearest, p).slice(0, 2).map(round)),
    // ... and where it really is.
    world: world.map((p) => [p[0], p[1], p[2]].map(round)),
    plane: { normal: [...viewPlaneNormal].map(round), view_up: [...viewUp].map(round) },
  });
}

/** Whether ``record`` (just serialized) differs from ``saved`` in geometry, text or statistics. */
export function differs(record, saved) {
  const samePoints = (a, b) =>
    a.length === b.length &&
    a.every((p, i) => Math.abs(p[0] - b[i][0]) < 0.01 && Math.abs(p[1] - b[i][1]) < 0.01);
  const geometryChanged = !samePoints(record.geometry.points, saved.geometry?.points || []);
  const textChanged =
    (record.label || '') !== (saved.label || '') || (record.text || '') !== (saved.text || '');
  const statsChanged = Object.entries(record.measurements).some(([name, m]) => {
    const before = saved.measurements?.[name]?.value;
    return before === undefined || Math.abs(m.value - before) > 1e-3 * Math.max(1, Math.abs(m.value));
  });
  return geometryChanged || textChanged || statsChanged;
}

/**
 * Who drew ``record``, as its text box shows it: nothing for your own (``me`` is your
 * username), else the author's name (initials when the name is long), "AI" for a model's.
 */
export function authorLabel(record, me) {
  const author = record.author;
  if (!author) return record.source === 'ai' ? 'AI' : '';
  if (author.username === me) return '';
  const name = String(author.display_name || author.username || '').trim();
  if (name.length <= 16) return name;
  return name
    .split(/\s+/)
    .map((part) => part[0])
    .join('')
    .slice(0, 3)
    .toUpperCase();
}

/**
 * ``record`` as a Cornerstone annotation of tool ``toolName`` on ``imageId`` (whose
 * ``imagePlaneModule`` is ``plane``), or on its own plane when drawn on a reformatted one.
 * @returns {import('@cornerstonejs/tools').Types.Annotation}
 */
export function toAnnotation(record, { toolName, imageId, plane, author, locked }) {
  const row = plane.rowCosines;
  const col = plane.columnCosines;
  // Drawn on a reformatted plane: its own points and plane; else on the image itself.
  const drawn = record.geometry?.world && record.geometry?.plane;
  const points = drawn
    ? record.geometry.world.map((p) => /** @type {import('@cornerstonejs/core').Types.Point3} */ ([...p]))
    : (record.geometry?.points || []).map((p) => csUtils.imageToWorldCoords(imageId, [p[0], p[1]]));
  const normal = drawn ? record.geometry.plane.normal : cross(row, col);
  const up = drawn ? record.geometry.plane.view_up : [-col[0], -col[1], -col[2]];
  /** @type {import('@cornerstonejs/tools').Types.Annotation} */
  const annotation = {
    annotationUID: `rr-${record.id}-${csUtils.uuidv4().slice(0, 8)}`,
    highlighted: false,
    isLocked: locked,
    isVisible: true,
    invalidated: true,
    metadata: {
      toolName,
      // A reformatted-plane record belongs to that plane of the volume, not to one image.
      referencedImageId: drawn ? undefined : imageId,
      FrameOfReferenceUID: plane.frameOfReferenceUID,
      viewPlaneNormal: /** @type {import('@cornerstonejs/core').Types.Point3} */ ([...normal]),
      viewUp: /** @type {import('@cornerstonejs/core').Types.Point3} */ ([...up]),
    },
    data: {
      author,
      label: toolName === ArrowAnnotateTool.toolName ? record.text || record.label || '' : record.label || '',
      text: record.text || '',
      handles: {
        points,
        activeHandleIndex: null,
        textBox: {
          hasMoved: false,
          worldPosition: /** @type {import('@cornerstonejs/core').Types.Point3} */ ([0, 0, 0]),
          worldBoundingBox: {
            topLeft: [0, 0, 0],
            topRight: [0, 0, 0],
            bottomLeft: [0, 0, 0],
            bottomRight: [0, 0, 0],
          },
        },
      },
      cachedStats: {},
    },
  };
  if (toolName === ArrowAnnotateTool.toolName) {
    annotation.data.handles.arrowFirst = true;
  }
  return annotation;
}
