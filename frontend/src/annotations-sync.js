/**
 * Annotations are data: every measurement made with a Cornerstone tool is saved through
 * the annotations REST API with its image (SOP Instance UID + frame) and its geometry in
 * image pixel coordinates, and is rebuilt from that record when the study is reopened.
 */
import { eventTarget, metaData, utilities as csUtils } from '@cornerstonejs/core';
import {
  AngleTool,
  ArrowAnnotateTool,
  EllipticalROITool,
  Enums as toolEnums,
  LengthTool,
  ProbeTool,
  RectangleROITool,
  annotation as toolAnnotation,
} from '@cornerstonejs/tools';

import { request } from './http.js';
import { parseImageId } from './loading.js';
import { MEASUREMENT_TOOL_NAMES } from './tools.js';

const { Events } = toolEnums;
const annotationState = toolAnnotation.state;

/** @returns {import('@cornerstonejs/core').Types.Point3} */
function cross(a, b) {
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
const CS_TOOL = Object.fromEntries(Object.entries(API_TOOL).map(([cs, api]) => [api, cs]));

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

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

/**
 * Resolves once ``annotation``'s statistics describe its final handles. The tools
 * recompute them on the render after the last handle move (the ROI tools throttled to
 * 100 ms) and clear ``invalidated`` when they have: usually one frame after mouse-up.
 * A fixed 200 ms wait here was most of the time a shared measurement took to reach the
 * other readers of a session (bench/session_latency.py).
 */
async function statsSettled(annotation, limitMs = 300) {
  const t0 = performance.now();
  do {
    await nextFrame();
  } while (annotation.invalidated && performance.now() - t0 < limitMs);
}

function round(v) {
  return Math.round(v * 1000) / 1000;
}

export class AnnotationSync {
  /**
   * @param viewer the Viewer (for its config, emitter and image lookup)
   */
  constructor(viewer) {
    this.viewer = viewer;
    this.byLocal = new Map(); // Cornerstone annotationUID -> server record
    this.byServer = new Map(); // server id -> Cornerstone annotationUID
    this.pending = new Map(); // annotationUID -> Promise of the POST
    this.timers = new Map();
    this.applying = 0;
    this.status = 'idle';
    this.errors = 0;
    this.saves = 0;
  }

  get listUrl() {
    return `${this.viewer.config.api}/studies/${this.viewer.config.studyUid}/annotations/`;
  }

  itemUrl(id) {
    return `${this.viewer.config.api}/annotations/${id}/`;
  }

  start() {
    eventTarget.addEventListener(Events.ANNOTATION_COMPLETED, (evt) =>
      this._onCompleted(evt.detail.annotation),
    );
    eventTarget.addEventListener(Events.ANNOTATION_MODIFIED, (evt) =>
      this._onModified(evt.detail.annotation),
    );
    eventTarget.addEventListener(Events.ANNOTATION_REMOVED, (evt) =>
      this._onRemoved(evt.detail.annotation),
    );
  }

  /** GET the study's annotations and show them on their images. */
  async loadAll() {
    const records = [];
    try {
      // The list is paginated (limit/offset); follow ``next`` to the end.
      let url = this.listUrl;
      while (url) {
        const body = await request('GET', url);
        records.push(...(Array.isArray(body) ? body : body?.results || []));
        url = Array.isArray(body) ? null : body?.next;
      }
    } catch (err) {
      this._fail('load', err);
      return [];
    }
    for (const record of records) await this.apply(record);
    return records;
  }

  /** Serialize a Cornerstone annotation into the REST contract (image coordinates). */
  toRecord(annotation) {
    const imageId = annotation.metadata?.referencedImageId;
    const ref = parseImageId(imageId);
    if (!ref) return this.toPlaneRecord(annotation);
    const points = (annotation.data?.handles?.points || []).map((p) => {
      const [x, y] = csUtils.worldToImageCoords(imageId, p);
      return [round(x), round(y)];
    });
    const isArrow = annotation.metadata.toolName === ArrowAnnotateTool.toolName;
    return {
      series_instance_uid: ref.seriesUid,
      sop_instance_uid: ref.sopUid,
      frame_number: ref.frame,
      tool: API_TOOL[annotation.metadata.toolName],
      geometry: { points },
      // The arrow tool keeps its text in ``data.label``; the API calls it ``text``.
      label: isArrow ? '' : annotation.data?.label || '',
      text: isArrow ? annotation.data?.label || '' : annotation.data?.text || '',
      measurements: measurementsOf(annotation),
    };
  }

  /**
   * A measurement drawn on a reformatted MPR plane (sagittal, coronal: no source image
   * lies in it). It is kept against the nearest source slice, with its points in patient
   * coordinates (mm) and the plane it was drawn in, so it is redrawn on that plane.
   */
  toPlaneRecord(annotation) {
    const series = this._planeSeries(annotation);
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
    const isArrow = annotation.metadata.toolName === ArrowAnnotateTool.toolName;
    return {
      series_instance_uid: ref.seriesUid,
      sop_instance_uid: ref.sopUid,
      frame_number: ref.frame,
      tool: API_TOOL[annotation.metadata.toolName],
      geometry: {
        // The projection onto the nearest slice (what a 2D reader of the record sees) ...
        points: world.map((p) => csUtils.worldToImageCoords(nearest, p).slice(0, 2).map(round)),
        // ... and where it really is.
        world: world.map((p) => [p[0], p[1], p[2]].map(round)),
        plane: { normal: [...viewPlaneNormal].map(round), view_up: [...viewUp].map(round) },
      },
      label: isArrow ? '' : annotation.data?.label || '',
      text: isArrow ? annotation.data?.label || '' : annotation.data?.text || '',
      measurements: measurementsOf(annotation),
    };
  }

  /** The MPR volume's series, when ``annotation`` was drawn on one of its planes. */
  _planeSeries(annotation) {
    const mpr = this.viewer.mpr;
    const meta = annotation?.metadata;
    if (!mpr?.active || !mpr.series || !meta?.viewPlaneNormal || !meta?.viewUp) return null;
    const first = metaData.get('imagePlaneModule', mpr.series.imageIds[0]);
    if (first?.frameOfReferenceUID && meta.FrameOfReferenceUID !== first.frameOfReferenceUID) return null;
    return mpr.series;
  }

  _fail(what, err) {
    this.errors += 1;
    this.status = `error: ${what}`;
    console.warn(`viewer: annotation ${what} failed`, err);
    this.viewer.notify(`Annotation ${what} failed (${err.status || 'network'})`);
  }

  _isOurs(annotation) {
    return (
      annotation &&
      MEASUREMENT_TOOL_NAMES.has(annotation.metadata?.toolName) &&
      (parseImageId(annotation.metadata?.referencedImageId) || this._planeSeries(annotation))
    );
  }

  async _onCompleted(annotation) {
    if (this.applying || this.viewer.config.readonly || !this._isOurs(annotation)) return;
    const uid = annotation.annotationUID;
    if (this.byLocal.has(uid) || this.pending.has(uid)) return;
    const post = statsSettled(annotation)
      .then(() => {
        const record = this.toRecord(annotation);
        if (isDegenerate(record)) {
          // Drawn with (almost) no extent: nothing was measured, so nothing is kept.
          this.remove(null, uid);
          this.viewer.notify('Nothing measured (zero size): not saved');
          return null;
        }
        return request('POST', this.listUrl, record);
      })
      .then((saved) => {
        if (!saved) return null;
        this._remember(uid, saved);
        this.saves += 1;
        this.status = 'saved';
        this.viewer.emit('annotation-added', saved);
        return saved;
      })
      .catch((err) => this._fail('save', err))
      .finally(() => this.pending.delete(uid));
    this.pending.set(uid, post);
  }

  _remember(uid, saved) {
    if (!saved) return;
    this.byLocal.set(uid, saved);
    this.byServer.set(String(saved.id), uid);
  }

  _onModified(annotation) {
    if (this.applying || !this._isOurs(annotation)) return;
    const uid = annotation.annotationUID;
    clearTimeout(this.timers.get(uid));
    // Handles fire a modification per mouse move; save once the drag settles.
    this.timers.set(
      uid,
      setTimeout(() => this._saveModified(annotation), 500),
    );
  }

  async _saveModified(annotation) {
    const uid = annotation.annotationUID;
    this.timers.delete(uid);
    if (this.pending.has(uid)) await this.pending.get(uid);
    const saved = this.byLocal.get(uid);
    if (!saved) return;
    const record = this.toRecord(annotation);
    if (!record) return;
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
    if (!geometryChanged && !textChanged && !statsChanged) return;
    try {
      const updated = await request('PATCH', this.itemUrl(saved.id), {
        geometry: record.geometry,
        label: record.label,
        text: record.text,
        measurements: record.measurements,
        version: saved.version,
      });
      this._remember(uid, updated);
      this.saves += 1;
      this.viewer.emit('annotation-modified', updated);
    } catch (err) {
      this._fail('update', err);
    }
  }

  async _onRemoved(annotation) {
    if (this.applying || !annotation) return;
    const uid = annotation.annotationUID;
    if (this.pending.has(uid)) await this.pending.get(uid);
    const saved = this.byLocal.get(uid);
    if (!saved) return;
    this.byLocal.delete(uid);
    this.byServer.delete(String(saved.id));
    try {
      await request('DELETE', this.itemUrl(saved.id));
      this.viewer.emit('annotation-removed', { id: saved.id });
    } catch (err) {
      this._fail('delete', err);
    }
  }

  /**
   * Who drew ``record``, as its text box shows it: nothing for your own, else the author's
   * name (initials when the name is long), "AI" for a model's.
   */
  authorLabel(record) {
    const author = record.author;
    if (!author) return record.source === 'ai' ? 'AI' : '';
    if (author.username === this.viewer.config.user?.username) return '';
    const name = String(author.display_name || author.username || '').trim();
    if (name.length <= 16) return name;
    return name
      .split(/\s+/)
      .map((part) => part[0])
      .join('')
      .slice(0, 3)
      .toUpperCase();
  }

  /** Show a server record (from the REST list or a live event) as a Cornerstone annotation. */
  async apply(record) {
    const existing = this.byServer.get(String(record.id));
    if (existing) this.remove(record.id);
    const toolName = CS_TOOL[record.tool];
    if (!toolName || record.deleted_at) return null; // AI boxes/findings are shown elsewhere
    const imageId = await this.viewer.findImageId(
      record.series_instance_uid,
      record.sop_instance_uid,
      record.frame_number || 1,
    );
    if (!imageId) return null;
    const plane = metaData.get('imagePlaneModule', imageId);
    if (!plane) return null;
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
      isLocked: Boolean(this.viewer.config.readonly),
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
        author: this.authorLabel(record),
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
    this.applying += 1;
    try {
      annotationState.addAnnotation(annotation, plane.frameOfReferenceUID);
    } finally {
      this.applying -= 1;
    }
    this._remember(annotation.annotationUID, record);
    this.viewer.renderAll();
    this.viewer.measurements.render();
    return annotation.annotationUID;
  }

  /**
   * Remove the annotation that shows server record ``id`` (without deleting the record),
   * or the unsaved annotation ``localUid``.
   */
  remove(id, localUid = undefined) {
    const uid = localUid || this.byServer.get(String(id));
    if (!uid) return false;
    this.byServer.delete(String(id));
    this.byLocal.delete(uid);
    this.applying += 1;
    try {
      annotationState.removeAnnotation(uid);
    } finally {
      this.applying -= 1;
    }
    this.viewer.renderAll();
    this.viewer.measurements.render();
    return true;
  }

  /** Export the record behind a Cornerstone annotation as a DICOM SR into the study. */
  async exportSr(annotationUID) {
    const saved = this.byLocal.get(annotationUID);
    if (!saved) throw new Error('Annotation not saved yet');
    return request('POST', `${this.itemUrl(saved.id)}export-sr/`, {});
  }

  records() {
    return [...this.byLocal.values()];
  }
}
