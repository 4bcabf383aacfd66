/**
 * The series the viewer knows: the current study's (in series-number order) and those of
 * the priors loaded for comparison, looked up by series UID or by image id.
 */
import { pickDefaultSeries } from './early.js';
import { parseImageId } from './loading.js';

export class SeriesCatalog {
  constructor() {
    /** @type {import('./loading.js').SeriesData[]} the current study's series */
    this.current = [];
    /** @type {Map<string, import('./loading.js').SeriesData[]>} prior study UID -> its series */
    this.priors = new Map();
  }

  /** The current study's series, then every loaded prior's. */
  all() {
    return [...this.current, ...[...this.priors.values()].flat()];
  }

  find(uid) {
    return this.current.find((s) => s.uid === uid) || [...this.priors.values()].flat().find((s) => s.uid === uid);
  }

  /** The series (current study or a loaded prior) that an image id belongs to. */
  ofImage(imageId) {
    return this.all().find((s) => s.instances.has(imageId));
  }

  /** The series shown first (early.js's choice, the one it started fetching). */
  defaultSeries() {
    const uid = pickDefaultSeries(this.current.map((s) => s.qido))?.['0020000E']?.Value?.[0];
    return this.current.find((s) => s.uid === uid) || this.current[0];
  }

  /** Find (loading series metadata if needed) the image id for SOP Instance UID + frame. */
  async findImageId(seriesUid, sopUid, frame = 1) {
    const series = this.find(seriesUid);
    if (!series) return null;
    await series.loadMetadata();
    return series.imageIds.find((id) => {
      const ref = parseImageId(id);
      return ref && ref.sopUid === sopUid && ref.frame === Number(frame);
    });
  }
}
