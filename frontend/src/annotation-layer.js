/**
 * The Cornerstone side of annotations: the tools' annotation events (completed, modified
 * per mouse move, removed), told to the sync (annotations-sync.js) only for what the
 * reader did, not for what ``show``/``hide`` put there; a drag's modifications come as
 * one, once it settles.
 */
import { eventTarget } from '@cornerstonejs/core';
import { Enums as toolEnums, annotation as toolAnnotation } from '@cornerstonejs/tools';

import { isMeasurement } from './annotation-records.js';

const { Events } = toolEnums;
const annotationState = toolAnnotation.state;
const SETTLE_MS = 500;

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

/**
 * Resolves once ``annotation``'s statistics describe its final handles. The tools
 * recompute them on the render after the last handle move (the ROI tools throttled to
 * 100 ms) and clear ``invalidated`` when they have: usually one frame after mouse-up.
 * A fixed 200 ms wait here was most of the time a shared measurement took to reach the
 * other readers of a session (bench/session_latency.py).
 */
export async function statsSettled(annotation, limitMs = 300) {
  const t0 = performance.now();
  do {
    await nextFrame();
  } while (annotation.invalidated && performance.now() - t0 < limitMs);
}

/**
 * @typedef {object} LayerHandlers
 * @property {(annotation: any) => any} completed a new drawing
 * @property {(annotation: any) => any} modified a measurement's drag settled
 * @property {(annotation: any) => any} removed
 */

export class AnnotationLayer {
  /** @param {{ mpr: () => any }} deps the MPR planes (a measurement may be drawn on them) */
  constructor(deps) {
    this.deps = deps;
    /** >0 while ``show``/``hide`` change Cornerstone's state: its events are ours, not the reader's. */
    this.applying = 0;
    /** @type {Map<string, any>} annotationUID -> timer of its settling drag */
    this.timers = new Map();
  }

  /** @param {any} annotation */
  isMeasurement(annotation) {
    return isMeasurement(annotation, this.deps.mpr());
  }

  /** @param {LayerHandlers} handlers */
  listen(handlers) {
    eventTarget.addEventListener(Events.ANNOTATION_COMPLETED, (evt) => {
      if (this.applying) return;
      handlers.completed(evt.detail.annotation);
    });
    eventTarget.addEventListener(Events.ANNOTATION_MODIFIED, (evt) => {
      const annotation = evt.detail.annotation;
      if (this.applying || !this.isMeasurement(annotation)) return;
      const uid = annotation.annotationUID;
      clearTimeout(this.timers.get(uid));
      // Handles fire a modification per mouse move; save once the drag settles.
      this.timers.set(
        uid,
        setTimeout(() => {
          this.timers.delete(uid);
          handlers.modified(annotation);
        }, SETTLE_MS),
      );
    });
    eventTarget.addEventListener(Events.ANNOTATION_REMOVED, (evt) => {
      if (this.applying || !evt.detail.annotation) return;
      handlers.removed(evt.detail.annotation);
    });
  }

  /** Add ``annotation`` to Cornerstone's state (no events for the sync). */
  show(annotation, frameOfReferenceUID) {
    this.applying += 1;
    try {
      annotationState.addAnnotation(annotation, frameOfReferenceUID);
    } finally {
      this.applying -= 1;
    }
  }

  /** Take annotation ``uid`` out of Cornerstone's state (no events for the sync). */
  hide(uid) {
    this.applying += 1;
    try {
      annotationState.removeAnnotation(uid);
    } finally {
      this.applying -= 1;
    }
  }
}
