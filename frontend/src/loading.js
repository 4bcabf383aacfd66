/**
 * Loading over the project's WADO-RS (PS3.18 10.4): the study's series (QIDO-RS), each
 * series' metadata (DICOM JSON), then its frames, progressively and nearest-to-the-slice-
 * in-view first, decoded in the dicom-image-loader's web workers.
 */
import { cache, imageLoader } from '@cornerstonejs/core';
import { wadors } from '@cornerstonejs/dicom-image-loader';

import {
  UndecodableImageError,
  fetchFrame,
  fetchFrames,
  imageFromPart,
  knownUndecodable,
  takeIncoming,
} from './bulk-frames.js';
import { earlyJson, forgetEarly } from './early.js';

export { UndecodableImageError };

/**
 * Frames of single-frame instances go several to a request (Series Pixel Data, PS3.18
 * 10.4.1.1.6): one request per frame cost the browser and the server more than the
 * bytes did. ``?batch=1`` in the viewer's URL goes back to one request per frame.
 */
const query = new URLSearchParams(window.location.search);
const BATCH = Number(query.get('batch')) || 12;
const STREAMS = Number(query.get('streams')) || 3;

/** First value of a DICOM JSON attribute (PS3.18 F.2). */
export function tagValue(meta, tag, index = 0) {
  const value = meta?.[tag]?.Value;
  return value && value.length > index ? value[index] : undefined;
}

export function tagValues(meta, tag) {
  return meta?.[tag]?.Value || [];
}

export function personName(meta, tag) {
  const value = tagValue(meta, tag);
  if (!value) return '';
  return (typeof value === 'string' ? value : value.Alphabetic || '').replace(/\^/g, ' ').trim();
}

function cross(a, b) {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot(a, b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Parse the SOP Instance UID and frame number out of a wadors image id. */
export function parseImageId(imageId) {
  const match = /\/series\/([^/]+)\/instances\/([^/]+)\/frames\/(\d+)/.exec(imageId || '');
  if (!match) return null;
  return { seriesUid: match[1], sopUid: match[2], frame: Number(match[3]) };
}

export class SeriesData {
  constructor(viewer, qido, studyUid) {
    this.viewer = viewer;
    this.studyUid = studyUid;
    this.qido = qido;
    this.uid = tagValue(qido, '0020000E');
    this.description = tagValue(qido, '0008103E') || '';
    this.modality = tagValue(qido, '00080060') || '';
    this.number = tagValue(qido, '00200011');
    this.instanceCount = Number(tagValue(qido, '00201209') || 0);
    this.imageIds = [];
    this.instances = new Map(); // imageId -> DICOM JSON of its instance
    this.positions = []; // per image: position along the slice normal (mm) or null
    this.loaded = new Set();
    this.failed = new Set();
    this.errors = new Map(); // imageId -> why it could not be loaded
    this.singleFrame = new Set(); // image ids of single-frame instances (fetched in batches)
    this.focus = 0;
    this._metadata = null;
    this._pumping = 0;
    this._pending = null;
    this.completedAt = null;
  }

  get base() {
    return `${this.viewer.config.dicomweb}/studies/${this.studyUid}/series/${this.uid}`;
  }

  get thumbnailUrl() {
    return `${this.base}/thumbnail`;
  }

  /** Fetch the series metadata once and register every frame with the wadors loader. */
  loadMetadata() {
    if (!this._metadata) this._metadata = this._fetchMetadata();
    return this._metadata;
  }

  async _fetchMetadata() {
    const instances = await earlyJson(`${this.base}/metadata`);
    const entries = [];
    for (const meta of instances) {
      const sop = tagValue(meta, '00080018');
      if (!tagValue(meta, '00280010')) continue; // no Rows: not an image (e.g. an SR)
      const frames = Number(tagValue(meta, '00280008') || 1);
      const ipp = tagValues(meta, '00200032').map(Number);
      const iop = tagValues(meta, '00200037').map(Number);
      let position = null;
      if (ipp.length === 3 && iop.length === 6) {
        position = dot(ipp, cross(iop.slice(0, 3), iop.slice(3, 6)));
      }
      const number = Number(tagValue(meta, '00200013') ?? 0);
      for (let frame = 1; frame <= frames; frame += 1) {
        const imageId =
          `wadors:${window.location.origin}${this.base}/instances/${sop}/frames/${frame}`;
        wadors.metaDataManager.add(imageId, meta);
        if (frames === 1) this.singleFrame.add(imageId);
        entries.push({ imageId, meta, number, frame, position: frames > 1 ? null : position });
      }
    }
    // Instance number order (acquisition order); position breaks ties for unnumbered slices.
    entries.sort(
      (a, b) => a.number - b.number || a.frame - b.frame || (a.position ?? 0) - (b.position ?? 0),
    );
    this.imageIds = entries.map((e) => e.imageId);
    this.positions = entries.map((e) => e.position);
    for (const e of entries) this.instances.set(e.imageId, e.meta);
    this.firstInstance = entries[0]?.meta || null;
    this.viewer.timings[`metadata:${this.uid}`] = performance.now();
    this.viewer.emitProgress(this);
    return this;
  }

  get total() {
    return this.imageIds.length;
  }

  get isComplete() {
    return this.total > 0 && this.loaded.size + this.failed.size >= this.total;
  }

  /** True for a single-orientation stack of at least 10 slices (MPR candidates). */
  get isVolume() {
    if (this.total < 10 || this.positions.some((p) => p === null)) return false;
    const iops = new Set(
      [...this.instances.values()].map((m) => tagValues(m, '00200037').map((v) => Number(v).toFixed(3)).join()),
    );
    return iops.size === 1;
  }

  /** Load every frame, the one nearest to ``focus`` first; re-aimed by ``setFocus``. */
  prefetch(focus = 0, concurrency = BATCH > 1 ? STREAMS : 6) {
    this.focus = focus;
    if (!this._pending) {
      this._pending = new Set(this.imageIds.map((_, i) => i));
    }
    while (this._pumping < concurrency && this._pending.size) {
      this._pumping += 1;
      this._pump();
    }
  }

  /** Remember that ``imageId`` cannot be shown, and why (a fetch status or decoder message). */
  markFailed(imageId, error) {
    this.failed.add(imageId);
    if (!this.errors.has(imageId)) this.errors.set(imageId, describeLoadError(error));
    this.loaded.delete(imageId);
  }

  errorOf(imageId) {
    return this.errors.get(imageId) || 'the image could not be decoded';
  }

  errorSummary() {
    return [...this.failed]
      .map((id) => `Image ${this.imageIds.indexOf(id) + 1}: ${this.errorOf(id)}`)
      .join('\n');
  }

  setFocus(index) {
    this.focus = index;
  }

  _next() {
    let best = -1;
    let bestDistance = Infinity;
    for (const i of this._pending) {
      const d = Math.abs(i - this.focus);
      if (d < bestDistance) {
        best = i;
        bestDistance = d;
        if (d === 0) break;
      }
    }
    if (best >= 0) this._pending.delete(best);
    return best;
  }

  /**
   * The next frames to fetch together: the nearest pending one and, when it is a
   * single-frame instance's, the next nearest such frames not loaded or loading yet.
   */
  _nextBatch() {
    const batch = [];
    let i = this._next();
    // Frames already in the cache (the slice in view) need no request.
    while (i >= 0 && cache.getImageLoadObject(this.imageIds[i])) {
      batch.push(this.imageIds[i]);
      i = this._next();
    }
    if (i < 0) return { cached: batch, fetch: [] };
    const first = this.imageIds[i];
    if (BATCH <= 1 || !this.singleFrame.has(first)) return { cached: batch, fetch: [first], one: true };
    const fetch = [first];
    const skipped = [];
    while (fetch.length < BATCH && this._pending.size) {
      const j = this._next();
      const imageId = this.imageIds[j];
      if (cache.getImageLoadObject(imageId)) batch.push(imageId);
      else if (this.singleFrame.has(imageId)) fetch.push(imageId);
      else skipped.push(j);
    }
    for (const j of skipped) this._pending.add(j);
    return { cached: batch, fetch };
  }

  async _load(imageId) {
    try {
      await imageLoader.loadAndCacheImage(imageId);
      this.loaded.add(imageId);
    } catch (err) {
      console.warn('viewer: frame failed to load', imageId, err);
      this.markFailed(imageId, err);
    }
    if (this.isComplete && !this.completedAt) this.completedAt = performance.now();
    this.viewer.emitProgress(this);
  }

  async _pump() {
    // A batch's frames decode while the next batch arrives: only its request is awaited.
    const loads = [];
    try {
      while (this._pending.size) {
        const { cached, fetch, one } = this._nextBatch();
        for (const imageId of cached) loads.push(this._load(imageId));
        if (one) {
          await this._load(fetch[0]);
        } else if (fetch.length) {
          const missed = await fetchFrames(this.base, fetch, (imageId) => loads.push(this._load(imageId)));
          for (const imageId of missed) loads.push(this._load(imageId));
        }
      }
      await Promise.all(loads);
    } finally {
      this._pumping -= 1;
    }
  }
}


/** True for a decoded image with its declared size and pixels to match. */
function hasPixels(image) {
  if (!image || !(image.columns > 0) || !(image.rows > 0) || !(image.width > 0)) return false;
  try {
    const length = image.voxelManager?.getScalarDataLength?.() ?? image.getPixelData?.()?.length ?? 0;
    return length >= image.rows * image.columns;
  } catch {
    return false;
  }
}

/**
 * The ``wadors`` scheme: frames fetched in batches or alone (``loadFrame``), decoded by
 * the dicom-image-loader, checked: a corrupt frame can come back from the decoder as an
 * image without pixels, which the renderer then fails on. Checked here, it fails like
 * any other frame that cannot be loaded: IMAGE_LOAD_ERROR, the viewer's message on that
 * image, nothing drawn.
 */
export function registerCheckedLoader() {
  imageLoader.registerImageLoader('wadors', (imageId, options) => {
    const load = loadFrame(imageId, options);
    const promise = Promise.resolve(load.promise).then((image) => {
      if (!hasPixels(image)) throw new UndecodableImageError('the image data could not be decoded');
      return image;
    });
    return { ...load, promise };
  });
}

/**
 * A frame from the batch request under way that holds it, else fetched alone; either
 * way decoded by the dicom-image-loader's ``createImage``.
 */
function loadFrame(imageId, options) {
  const known = knownUndecodable(imageId);
  if (known) return { promise: Promise.reject(known), cancelFn: undefined };
  const part = takeIncoming(imageId) || Promise.resolve(null);
  const promise = part
    .then((received) => received || fetchFrame(imageId))
    .then((received) => imageFromPart(imageId, received, options));
  return { promise, cancelFn: undefined };
}

/** A short reason for a frame that failed: HTTP status, or the decoder's message. */
export function describeLoadError(error) {
  if (!error) return 'the image could not be decoded';
  const status = error.status || error.request?.status || error.xhr?.status;
  if (status) return `the server answered ${status}`;
  const message = typeof error === 'string' ? error : error.message || error.error?.message || '';
  const text = String(message || 'the image could not be decoded').split('\n')[0];
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** QIDO-RS: the study's series, in series-number order. */
export async function loadStudySeries(viewer, studyUid, { fresh = false } = {}) {
  const { dicomweb } = viewer.config;
  const url = `${dicomweb}/studies/${studyUid}/series`;
  if (fresh) forgetEarly(url);
  const list = (await earlyJson(url)) || [];
  const series = list.map((qido) => new SeriesData(viewer, qido, studyUid));
  series.sort((a, b) => (a.number ?? 1e9) - (b.number ?? 1e9));
  return series;
}
