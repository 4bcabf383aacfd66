/**
 * Network work that starts before the (large) viewer module has loaded: the study's
 * series list and the metadata of the series that will be shown first. The entry
 * module is small, so these requests overlap the download and compile of Cornerstone.
 */
import { HttpError } from './http.js';

const DICOM_JSON = 'application/dicom+json';
const requests = new Map();

function getDicomJson(url) {
  return fetch(url, { headers: { Accept: DICOM_JSON }, credentials: 'same-origin' }).then((r) => {
    if (!r.ok) {
      throw new HttpError(`GET ${url}: HTTP ${r.status}`, r.status);
    }
    return r.json();
  });
}

/** A GET of DICOM JSON, shared with whoever asks for the same URL first. */
export function earlyJson(url) {
  if (!requests.has(url)) {
    const promise = getDicomJson(url);
    promise.catch(() => requests.delete(url));
    requests.set(url, promise);
  }
  return requests.get(url);
}

/** Forget a remembered GET, so that the next ``earlyJson`` of ``url`` asks again. */
export function forgetEarly(url) {
  requests.delete(url);
}

const first = (meta, tag) => meta?.[tag]?.Value?.[0];
/**
 * Modalities (0008,0060) whose series hold no pixel data (PS3.3 C.7.3.1.1.1): reports,
 * key object selections, presentation states, documents, registrations, RT structures.
 * The series list shows them as a label, never as images in a viewport.
 */
export const NO_IMAGE_MODALITIES = new Map([
  ['SR', 'Structured report'],
  ['KO', 'Key object selection'],
  ['PR', 'Presentation state'],
  ['DOC', 'Document'],
  ['REG', 'Registration'],
  ['RTSTRUCT', 'RT structure set'],
]);

/** True unless the series' modality holds no pixel data (``NO_IMAGE_MODALITIES``). */
export function holdsImages(modality) {
  return !NO_IMAGE_MODALITIES.has(modality);
}

// Segmentations have frames, but are not the images to open a study on.
const NOT_IMAGES = new Set([...NO_IMAGE_MODALITIES.keys(), 'SEG']);

/** The series the viewer opens first: the lowest series number that holds images. */
export function pickDefaultSeries(list) {
  const sorted = [...list].sort(
    (a, b) => (first(a, '00200011') ?? 1e9) - (first(b, '00200011') ?? 1e9),
  );
  return (
    sorted.find((s) => Number(first(s, '00201209') || 0) > 0 && !NOT_IMAGES.has(first(s, '00080060'))) ||
    sorted[0]
  );
}

export function startEarly(config) {
  const studyBase = `${config.dicomweb}/studies/${config.studyUid}`;
  earlyJson(`${studyBase}/series`)
    .then((list) => {
      const series = pickDefaultSeries(list || []);
      const uid = first(series, '0020000E');
      if (uid) earlyJson(`${studyBase}/series/${uid}/metadata`);
    })
    .catch(() => {});
}
