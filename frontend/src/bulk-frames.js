/**
 * Frames over WADO-RS, many to a request: Series Pixel Data (PS3.18 10.4.1.1.6) for a
 * few instances of a series, read as a stream of multipart/related bulk data parts, or
 * one frame alone (10.4.1.1.4). Each part, as soon as it has arrived, is handed to the
 * dicom-image-loader's ``createImage`` (decoded in its web workers) under the frame's
 * own ``wadors:`` image id, so the cache, the viewports and the per-image errors see
 * every frame the same way however it came.
 */
import { Enums } from '@cornerstonejs/core';
import { createImage } from '@cornerstonejs/dicom-image-loader';

import { HttpError } from './http.js';
import { nativeImage } from './native-frames.js';

const ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
const ascii = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const CRLF = ascii('\r\n');
const HEADER_END = ascii('\r\n\r\n');
const MAX_HEADER = 8192;
/** ``?decode=worker`` in the viewer's URL: every frame through ``createImage`` (for measuring). */
const DECODE_IN_WORKER = new URLSearchParams(window.location.search).get('decode') === 'worker';

/**
 * image id -> promise of its part ({bytes, transferSyntax, fetchMs}, or null when the
 * request did not bring it), for frames whose request is under way.
 * @type {Map<string, Promise<any>>}
 */
const incoming = new Map();

/** A frame whose codestream the decoder could not turn into pixels. */
export class UndecodableImageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UndecodableImageError';
  }
}

/**
 * JPEG, JPEG-LS and JPEG 2000 codestreams end with an EOI/EOC marker (FFD9; ISO 10918-1
 * B.2.1, ISO 15444-1 A.3.2), maybe padded to even length (PS3.5 A.4).
 */
const MARKER_ENDED = /^1\.2\.840\.10008\.1\.2\.4\.(50|51|57|70|80|81|90|91|201|202|203)$|^3\.2\.840\.10008\.1\.2\.4\.96$/;

/** image id -> why its frame cannot be shown (a codestream cut short), for good. */
const undecodable = new Map();

/**
 * A codestream cut short. The codecs' decoders are reused from frame to frame: given one,
 * the JPEG 2000 decoder can answer with the previous frame's pixels instead of failing.
 */
function cutShort(bytes, transferSyntax) {
  if (!MARKER_ENDED.test(transferSyntax)) return false;
  // Padding seen in the wild (00, or FF after the marker): look at the last few bytes.
  for (let i = bytes.length - 2; i >= Math.max(0, bytes.length - 8); i -= 1) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return false;
  }
  return true;
}

/** Why ``imageId``'s frame was found undecodable when it arrived, or undefined. */
export function knownUndecodable(imageId) {
  return undecodable.get(imageId);
}

/** The promise of ``imageId``'s bytes from a request under way (and forget it), or undefined. */
export function takeIncoming(imageId) {
  const promise = incoming.get(imageId);
  incoming.delete(imageId);
  return promise;
}

/**
 * ``createImage`` on a received part, with what the ``wadors`` loader sets on its images.
 * @returns {Promise<import('@cornerstonejs/core').Types.IImage>}
 */
export async function imageFromPart(imageId, part, options) {
  if (cutShort(part.bytes, part.transferSyntax)) {
    const error = new UndecodableImageError('the image data is cut short (no end of codestream marker)');
    undecodable.set(imageId, error);
    throw error;
  }
  let image = DECODE_IN_WORKER ? null : /** @type {any} */ (nativeImage(imageId, part.bytes, part.transferSyntax));
  if (image) {
    image.decodedIn = 'main'; // read by tests and the benchmark
  } else {
    // A view into a larger buffer would be cloned whole on its way to the worker.
    const { bytes } = part;
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    image = /** @type {any} */ (await createImage(imageId, own, part.transferSyntax, options));
    image.decodedIn = 'worker';
  }
  image.loadTimeInMS = part.fetchMs;
  image.transferSyntaxUID = part.transferSyntax;
  image.imageQualityStatus = Enums.ImageQualityStatus.FULL_RESOLUTION;
  return image;
}

/** Where ``needle`` starts in ``hay`` at or after ``from``; -1 if nowhere. */
function indexOf(hay, needle, from = 0) {
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(needle[0], from); i >= 0 && i <= last; i = hay.indexOf(needle[0], i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j += 1;
    if (j === needle.length) return i;
  }
  return -1;
}

/** Received bytes not yet parsed: a list of chunks, copied once when a part is taken. */
class ByteQueue {
  constructor() {
    /** @type {Uint8Array[]} */
    this.chunks = [];
    this.length = 0;
  }

  push(chunk) {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
  }

  /** The first ``n`` bytes (fewer if there are not so many), without consuming them. */
  peek(n) {
    const size = Math.min(n, this.length);
    if (!this.chunks.length || this.chunks[0].length >= size) {
      return (this.chunks[0] || new Uint8Array(0)).subarray(0, size);
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const chunk of this.chunks) {
      if (offset >= size) break;
      const piece = chunk.subarray(0, size - offset);
      out.set(piece, offset);
      offset += piece.length;
    }
    return out;
  }

  /**
   * Consume ``n`` bytes; with ``copy``, return them: a view of the chunk that holds them
   * all (nothing else writes to it), else a buffer of their own.
   */
  take(n, copy = true) {
    if (copy && this.chunks.length && this.chunks[0].length >= n) {
      const chunk = this.chunks[0];
      const out = chunk.subarray(0, n);
      if (n === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
      this.length -= n;
      return out;
    }
    const out = copy ? new Uint8Array(n) : null;
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0];
      const k = Math.min(chunk.length, n - offset);
      out?.set(chunk.subarray(0, k), offset);
      offset += k;
      if (k === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(k);
    }
    this.length -= n;
    return out;
  }
}

function parseHeaders(bytes) {
  const headers = {};
  for (const line of new TextDecoder('latin1').decode(bytes).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The ``transfer-syntax`` parameter of a part's Content-Type (PS3.18 8.7.3.5.2). */
export function transferSyntaxOf(contentType) {
  const match = /(?:^|;)\s*transfer-syntax\s*=\s*"?([0-9.]+)"?/i.exec(contentType || '');
  return match ? match[1] : IMPLICIT_VR_LE;
}

/**
 * The parts of a ``multipart/related`` response (RFC 2387, RFC 2046 5.1.1), each as soon as
 * it has arrived: ``{headers, body}``. A part's Content-Length, when sent, saves searching
 * its payload for the delimiter. Throws when the body ends before its closing delimiter.
 * @param {Response} response
 */
export async function* readParts(response) {
  const boundary = /boundary="?([^";]+)"?/i.exec(response.headers.get('Content-Type') || '')?.[1];
  if (!boundary) throw new Error('not a multipart response');
  const delimiter = ascii(`--${boundary}`);
  const bodyDelimiter = ascii(`\r\n--${boundary}`);
  const queue = new ByteQueue();
  const reader = response.body.getReader();
  const more = async () => {
    const { done, value } = await reader.read();
    if (done) throw new Error('the multipart body ended before its closing delimiter');
    queue.push(value);
  };
  const need = async (n) => {
    while (queue.length < n) await more();
  };
  const find = async (needle, limit) => {
    for (;;) {
      const at = indexOf(queue.peek(limit), needle);
      if (at >= 0) return at;
      if (queue.length >= limit) throw new Error('malformed multipart body');
      await more();
    }
  };
  try {
    queue.take(await find(delimiter, MAX_HEADER) + delimiter.length, false);
    for (;;) {
      await need(2);
      const after = queue.peek(2);
      if (after[0] === 45 && after[1] === 45) return; // "--": the closing delimiter
      queue.take(await find(CRLF, MAX_HEADER) + CRLF.length, false);
      const headerEnd = await find(HEADER_END, MAX_HEADER);
      const headers = parseHeaders(queue.take(headerEnd));
      queue.take(HEADER_END.length, false);
      let body;
      const length = headers['content-length'] === undefined ? NaN : Number(headers['content-length']);
      if (Number.isInteger(length) && length >= 0) {
        await need(length + bodyDelimiter.length);
        body = queue.take(length);
        if (indexOf(queue.peek(bodyDelimiter.length), bodyDelimiter) !== 0) {
          throw new Error('a part is not followed by the boundary delimiter');
        }
      } else {
        // No length: search the payload (each chunk once) for the delimiter.
        let searched = 0;
        let at;
        for (;;) {
          const view = queue.peek(queue.length);
          at = indexOf(view, bodyDelimiter, searched);
          if (at >= 0) break;
          searched = Math.max(0, queue.length - bodyDelimiter.length);
          await more();
        }
        body = queue.take(at);
      }
      queue.take(bodyDelimiter.length, false);
      yield { headers, body };
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * One frame fetched alone (WADO-RS frames, PS3.18 10.4.1.1.4), as a part for
 * ``imageFromPart``: the slice in view first, frames of multi-frame instances, and the
 * frames a batch did not bring.
 * @param {string} imageId  ``wadors:`` + the frame's URL
 */
export async function fetchFrame(imageId) {
  const url = imageId.replace(/^wadors:/, '');
  const started = performance.now();
  const response = await fetch(url, { headers: { Accept: ACCEPT }, credentials: 'same-origin' });
  if (!response.ok) throw new HttpError(`GET ${url}: HTTP ${response.status}`, response.status);
  for await (const { headers, body } of readParts(response)) {
    return {
      bytes: body,
      transferSyntax: transferSyntaxOf(headers['content-type']),
      fetchMs: performance.now() - started,
    };
  }
  throw new UndecodableImageError('the server sent no image data');
}

/**
 * Fetch the frames of single-frame instances ``imageIds`` (wadors ids of one series) in one
 * request, nearest first as listed. While it runs, the ``wadors`` loader finds each frame's
 * bytes through ``takeIncoming``; ``onPart(imageId)`` is called for each as it arrives.
 * Returns the ids the answer did not bring (the caller loads those one by one).
 * @param {string} seriesUrl  .../studies/{study}/series/{series}
 * @param {string[]} imageIds
 * @param {(imageId: string) => void} onPart
 */
export async function fetchFrames(seriesUrl, imageIds, onPart) {
  const waiting = new Map();
  const bySop = new Map();
  for (const imageId of imageIds) {
    const sop = /\/instances\/([^/]+)\/frames\/1$/.exec(imageId)?.[1];
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    incoming.set(imageId, promise);
    waiting.set(imageId, resolve);
    bySop.set(sop, imageId);
  }
  const started = performance.now();
  try {
    const url = `${seriesUrl}/pixeldata?SOPInstanceUID=${[...bySop.keys()].join(',')}`;
    const response = await fetch(url, { headers: { Accept: ACCEPT }, credentials: 'same-origin' });
    if (!response.ok) throw new HttpError(`GET ${url}: HTTP ${response.status}`, response.status);
    for await (const { headers, body } of readParts(response)) {
      const location = headers['content-location'] || '';
      const sop = /\/instances\/([^/]+)\/frames\/1$/.exec(location)?.[1];
      const imageId = bySop.get(sop);
      const resolve = imageId && waiting.get(imageId);
      if (!resolve) continue;
      waiting.delete(imageId);
      resolve({
        bytes: body,
        transferSyntax: transferSyntaxOf(headers['content-type']),
        fetchMs: performance.now() - started,
      });
      onPart(imageId);
    }
  } catch (err) {
    console.warn('viewer: frames request failed; loading its frames one by one', err);
  } finally {
    for (const resolve of waiting.values()) resolve(null);
  }
  return [...waiting.keys()];
}
