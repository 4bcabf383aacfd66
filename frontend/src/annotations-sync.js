/**
 * Annotations are data: every measurement made with a Cornerstone tool is saved through
 * the annotations REST API (POST when drawn, PATCH when its drag settles, DELETE when
 * removed) and is rebuilt from its record when the study is reopened or a live session
 * sends one. This module keeps which Cornerstone annotation shows which server record;
 * the record format is annotation-records.js's, Cornerstone's events and state
 * annotation-layer.js's.
 */
import { metaData } from '@cornerstonejs/core';

import { AnnotationLayer, statsSettled } from './annotation-layer.js';
import { CS_TOOL, authorLabel, differs, isDegenerate, toAnnotation, toRecord } from './annotation-records.js';
import { request } from './http.js';

/**
 * @typedef {object} SyncDeps
 * @property {string} api the REST API's base URL
 * @property {string} studyUid
 * @property {boolean} readonly nothing drawn is saved; shown records are locked
 * @property {string | undefined} username this reader's (their own records show no author)
 * @property {() => any} mpr the MPR planes (a measurement may be drawn on them)
 * @property {(seriesUid: string, sopUid: string, frame?: number) => Promise<string | null>} findImageId
 * @property {(type: string, detail: any) => void} emit the viewer's 'annotation-added/-modified/-removed'
 * @property {() => void} renderAll
 * @property {() => void} recordsChanged the records shown changed (the measurements list redraws)
 * @property {(message: string) => void} notify
 */

export class AnnotationSync {
  /** @param {SyncDeps} deps */
  constructor(deps) {
    this.deps = deps;
    this.byLocal = new Map(); // Cornerstone annotationUID -> server record
    this.byServer = new Map(); // server id -> Cornerstone annotationUID
    this.pending = new Map(); // annotationUID -> Promise of the POST
    this.layer = new AnnotationLayer({ mpr: deps.mpr });
    this.status = 'idle';
    this.errors = 0;
    this.saves = 0;
  }

  get listUrl() {
    return `${this.deps.api}/studies/${this.deps.studyUid}/annotations/`;
  }

  itemUrl(id) {
    return `${this.deps.api}/annotations/${id}/`;
  }

  start() {
    this.layer.listen({
      completed: (annotation) => this._onCompleted(annotation),
      modified: (annotation) => this._saveModified(annotation),
      removed: (annotation) => this._onRemoved(annotation),
    });
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

  /** Serialize a Cornerstone annotation into the REST contract (annotation-records.js). */
  toRecord(annotation) {
    return toRecord(annotation, this.deps.mpr());
  }

  _fail(what, err) {
    this.errors += 1;
    this.status = `error: ${what}`;
    console.warn(`viewer: annotation ${what} failed`, err);
    this.deps.notify(`Annotation ${what} failed (${err.status || 'network'})`);
  }

  /** A new drawing: POST it once its statistics settled (a measurement of no extent is dropped). */
  async _onCompleted(annotation) {
    if (this.deps.readonly || !this.layer.isMeasurement(annotation)) return;
    const uid = annotation.annotationUID;
    if (this.byLocal.has(uid) || this.pending.has(uid)) return;
    const post = statsSettled(annotation)
      .then(() => {
        const record = this.toRecord(annotation);
        if (isDegenerate(record)) {
          // Drawn with (almost) no extent: nothing was measured, so nothing is kept.
          this.remove(null, uid);
          this.deps.notify('Nothing measured (zero size): not saved');
          return null;
        }
        return request('POST', this.listUrl, record);
      })
      .then((saved) => {
        if (!saved) return null;
        this._remember(uid, saved);
        this.saves += 1;
        this.status = 'saved';
        this.deps.emit('annotation-added', saved);
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

  /** A saved measurement's drag settled: PATCH what changed (geometry, text, statistics). */
  async _saveModified(annotation) {
    const uid = annotation.annotationUID;
    if (this.pending.has(uid)) await this.pending.get(uid);
    const saved = this.byLocal.get(uid);
    if (!saved) return;
    const record = this.toRecord(annotation);
    if (!record || !differs(record, saved)) return;
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
      this.deps.emit('annotation-modified', updated);
    } catch (err) {
      this._fail('update', err);
    }
  }

  async _onRemoved(annotation) {
    const uid = annotation.annotationUID;
    if (this.pending.has(uid)) await this.pending.get(uid);
    const saved = this.byLocal.get(uid);
    if (!saved) return;
    this.byLocal.delete(uid);
    this.byServer.delete(String(saved.id));
    try {
      await request('DELETE', this.itemUrl(saved.id));
      this.deps.emit('annotation-removed', { id: saved.id });
    } catch (err) {
      this._fail('delete', err);
    }
  }

  /** Show a server record (from the REST list or a live event) as a Cornerstone annotation. */
  async apply(record) {
    const existing = this.byServer.get(String(record.id));
    if (existing) this.remove(record.id);
    const toolName = CS_TOOL[record.tool];
    if (!toolName || record.deleted_at) return null; // AI boxes/findings are shown elsewhere
    const imageId = await this.deps.findImageId(
      record.series_instance_uid,
      record.sop_instance_uid,
      record.frame_number || 1,
    );
    if (!imageId) return null;
    const plane = metaData.get('imagePlaneModule', imageId);
    if (!plane) return null;
    const annotation = toAnnotation(record, {
      toolName,
      imageId,
      plane,
      author: authorLabel(record, this.deps.username),
      locked: this.deps.readonly,
    });
    this.layer.show(annotation, plane.frameOfReferenceUID);
    this._remember(annotation.annotationUID, record);
    this.deps.renderAll();
    this.deps.recordsChanged();
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
    this.layer.hide(uid);
    this.deps.renderAll();
    this.deps.recordsChanged();
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
