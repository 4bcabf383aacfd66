/**
 * AI boxes on the images: each ``ai_box`` finding is drawn as a locked rectangle on its
 * own image (SOP Instance UID + frame, image pixel coordinates), in the AI colour, with
 * its label and review state. Human marks keep the tools' default colours.
 */
import { metaData, utilities as csUtils } from '@cornerstonejs/core';
import { RectangleROITool, annotation as toolAnnotation } from '@cornerstonejs/tools';

const { locking } = toolAnnotation;

export const AI_COLOUR = 'rgb(232, 121, 249)'; // magenta: no human tool draws in it
const REJECTED_COLOUR = 'rgb(120, 120, 130)';

/** @returns {[number, number, number]} */
function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export class AiBoxes {
  constructor(viewer) {
    this.viewer = viewer;
    this.shown = new Map(); // annotation id -> Cornerstone annotationUID
    this.versions = new Map(); // annotation id -> the version drawn
    this.imageIds = new Map(); // annotation id -> the imageId its box is drawn on
    this.editing = new Set(); // annotation ids whose box the reader may drag now
  }

  /** Draw (or redraw) one finding's box; returns whether it is on screen. */
  async show(finding, randomWeights) {
    const record = finding.annotation;
    if (record.tool !== 'ai_box' || record.deleted_at) return false;
    if (this.versions.get(String(record.id)) === record.version) return true; // already drawn
    if (this.editing.has(String(record.id))) return true; // the reader is moving it
    this.hide(record.id);
    this.versions.set(String(record.id), record.version);
    const imageId = await this.viewer.findImageId(
      record.series_instance_uid, record.sop_instance_uid, record.frame_number || 1,
    );
    const plane = imageId && metaData.get('imagePlaneModule', imageId);
    if (!plane) {
      this.versions.delete(String(record.id));
      return false;
    }
    const [[x0, y0], [x1, y1]] = record.geometry.points;
    /** @type {Array<[number, number]>} */
    const image = [[x0, y0], [x1, y0], [x0, y1], [x1, y1]];
    const corners = image.map((p) => csUtils.imageToWorldCoords(imageId, p));
    const state = record.review_state === 'pending' ? 'AI' : `AI ${record.review_state}`;
    const caption = `${state}${randomWeights ? ' (random weights)' : ''}: ${record.label}`;
    const uid = `ai-${record.id}-${csUtils.uuidv4().slice(0, 8)}`;
    const row = plane.rowCosines;
    const col = plane.columnCosines;
    toolAnnotation.state.addAnnotation(
      {
        annotationUID: uid,
        highlighted: false,
        isLocked: true,
        isVisible: true,
        invalidated: true,
        metadata: {
          toolName: RectangleROITool.toolName,
          referencedImageId: imageId,
          FrameOfReferenceUID: plane.frameOfReferenceUID,
          viewPlaneNormal: cross(row, col),
          viewUp: /** @type {[number, number, number]} */ ([-col[0], -col[1], -col[2]]),
        },
        data: {
          label: caption,
          caption, // the text box's first line (tools.js)
          handles: {
            points: corners,
            activeHandleIndex: null,
            textBox: {
              hasMoved: false,
              worldPosition: [0, 0, 0],
              worldBoundingBox: { topLeft: [0, 0, 0], topRight: [0, 0, 0], bottomLeft: [0, 0, 0], bottomRight: [0, 0, 0] },
            },
          },
          cachedStats: {},
        },
      },
      plane.frameOfReferenceUID,
    );
    const colour = record.review_state === 'rejected' ? REJECTED_COLOUR : AI_COLOUR;
    toolAnnotation.config.style.setAnnotationStyles(uid, {
      color: colour,
      colorHighlighted: colour,
      colorSelected: colour,
      lineDash: '6,3',
      textBoxColor: colour,
    });
    this.shown.set(String(record.id), uid);
    this.imageIds.set(String(record.id), imageId);
    this.viewer.renderAll();
    return true;
  }

  /**
   * Unlock one box so its handles can be dragged (RectangleROI is passive in every
   * viewport); ``corners`` reads the result back, ``endEdit`` locks it again.
   */
  startEdit(id) {
    const uid = this.shown.get(String(id));
    if (!uid) return false;
    this.editing.add(String(id));
    locking.setAnnotationLocked(uid, false);
    const drawn = toolAnnotation.state.getAnnotation(uid);
    if (drawn) drawn.isLocked = false;
    this.viewer.renderAll();
    return true;
  }

  endEdit(id) {
    this.editing.delete(String(id));
    const uid = this.shown.get(String(id));
    if (!uid) return;
    locking.setAnnotationLocked(uid, true);
    const drawn = toolAnnotation.state.getAnnotation(uid);
    if (drawn) drawn.isLocked = true;
    this.versions.delete(String(id)); // the next render redraws it from its record
  }

  /**
   * The box as drawn now, in image pixels (the annotation's own coordinates):
   * ``[[x0, y0], [x1, y1]]`` with x0 < x1, y0 < y1; null when it is not on screen.
   * @returns {Array<[number, number]> | null}
   */
  corners(id) {
    const uid = this.shown.get(String(id));
    const imageId = this.imageIds.get(String(id));
    const drawn = uid && toolAnnotation.state.getAnnotation(uid);
    if (!drawn || !imageId) return null;
    const points = drawn.data.handles.points.map((p) => csUtils.worldToImageCoords(imageId, p));
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const round = (v) => Math.round(v * 10) / 10;
    return [
      [round(Math.min(...xs)), round(Math.min(...ys))],
      [round(Math.max(...xs)), round(Math.max(...ys))],
    ];
  }

  /**
   * Where a box's corner is in the page (CSS pixels), for a pointer to grab it:
   * ``corner`` 3 is the bottom right. Null when no viewport shows its image.
   */
  pageCorner(id, corner = 3) {
    const uid = this.shown.get(String(id));
    const imageId = this.imageIds.get(String(id));
    const drawn = uid && toolAnnotation.state.getAnnotation(uid);
    if (!drawn) return null;
    for (const cell of this.viewer.state().viewports) {
      const viewport = this.viewer.viewportById(cell.viewportId);
      if (!viewport || viewport.getCurrentImageId?.() !== imageId) continue;
      const [x, y] = viewport.worldToCanvas(drawn.data.handles.points[corner]);
      const rect = viewport.element.getBoundingClientRect();
      return { x: rect.left + x, y: rect.top + y };
    }
    return null;
  }

  hide(id) {
    const uid = this.shown.get(String(id));
    if (!uid) return;
    this.shown.delete(String(id));
    this.imageIds.delete(String(id));
    locking.setAnnotationLocked(uid, false); // forget it in the locked set too
    toolAnnotation.state.removeAnnotation(uid);
    this.viewer.renderAll();
  }

  /** Scroll the viewport showing the finding's series to its image (or show the series). */
  async goTo(record) {
    const imageId = await this.viewer.findImageId(
      record.series_instance_uid, record.sop_instance_uid, record.frame_number || 1,
    );
    const series = this.viewer.findSeries(record.series_instance_uid);
    if (!imageId || !series) return false;
    const slice = series.imageIds.indexOf(imageId);
    const state = this.viewer.state();
    const cell = state.viewports.find((v) => v.series === record.series_instance_uid);
    await this.viewer.applyViewport({
      viewportId: cell?.viewportId || state.activeViewportId,
      series: record.series_instance_uid,
      slice,
    });
    return true;
  }
}
