/**
 * Comparison with a prior: which prior is most relevant, and scrolling the current and
 * the prior stack in step by slice position.
 *
 * Slice position is Image Position (Patient) projected on the slice normal (the cross
 * product of Image Orientation (Patient)'s row and column cosines, PS3.3 C.7.6.2.1.1).
 * Two studies share positions only within one Frame of Reference (0020,0052); across
 * frames of reference the default registration lines up the two scans' superior ends,
 * and the reader re-registers by turning sync off, bringing both to the same level and
 * turning it on again (Y).
 */
import { tagValue, tagValues } from './loading.js';

/** Modalities that are not images to compare (reports, key objects, presentation states). */
const NOT_IMAGES = new Set(['SR', 'KO', 'PR', 'DOC', 'REG', 'SEG']);

const modalitiesOf = (text) =>
  String(text || '')
    .split(/[/\\\s,]+/)
    .filter((m) => m && !NOT_IMAGES.has(m));

/**
 * Priors sorted by relevance to ``current``: same modality first, then same body part,
 * then most recent (the server lists priors newest first; the sort is stable).
 *
 * @param {{ modalities?: string, bodyPart?: string }} current
 * @param {Array<{ studyUid: string, date?: string, modalities?: string, bodyPart?: string, description?: string }>} priors
 */
export function rankPriors(current, priors) {
  const mods = new Set(modalitiesOf(current.modalities));
  const part = String(current.bodyPart || '').toUpperCase();
  const score = (p) =>
    (modalitiesOf(p.modalities).some((m) => mods.has(m)) ? 2 : 0) +
    (part && String(p.bodyPart || '').toUpperCase() === part ? 1 : 0);
  return priors
    .map((p, order) => ({ p, order, s: score(p) }))
    .sort((a, b) => b.s - a.s || String(b.p.date || '').localeCompare(String(a.p.date || '')) || a.order - b.order)
    .map((x) => x.p);
}

function normalOf(series) {
  const iop = tagValues(series.firstInstance, '00200037').map(Number);
  if (iop.length !== 6) return null;
  const [a, b] = [iop.slice(0, 3), iop.slice(3, 6)];
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** True when both series are stacks of parallel slices with a position for every image. */
function comparable(a, b) {
  const na = normalOf(a);
  const nb = normalOf(b);
  if (!na || !nb) return false;
  if (a.positions.some((p) => p === null) || b.positions.some((p) => p === null)) return false;
  return na[0] * nb[0] + na[1] * nb[1] + na[2] * nb[2] > 0.99;
}

function nearest(positions, target) {
  let best = -1;
  positions.forEach((p, i) => {
    if (best < 0 || Math.abs(p - target) < Math.abs(positions[best] - target)) best = i;
  });
  return best;
}

/** The default offset (prior position minus current position at the same level). */
function defaultOffset(current, prior) {
  const forOf = (s) => tagValue(s.firstInstance, '00200052');
  if (forOf(current) && forOf(current) === forOf(prior)) return 0;
  return Math.max(...prior.positions) - Math.max(...current.positions);
}

export class PriorSync {
  /** @param {import('./layout.js').ViewportGrid} grid the cells, their viewports, ``jumpTo`` */
  constructor(grid) {
    this.grid = grid;
    this.pair = null; // [currentViewportId, priorViewportId]
    this.series = null; // [current SeriesData, prior SeriesData] the offset was made for
    this.offset = 0;
    this.on = false;
    this.reason = '';
    this.expect = new Map(); // viewportId -> { index, at } we moved it to (not echoed back)
  }

  seriesIn(viewportId) {
    return this.grid.cells.find((c) => c.id === viewportId && c.enabled)?.series || null;
  }

  /** Index in ``prior`` at the level of image ``index`` of ``current`` (null: no match). */
  matchIndex(current, index, prior) {
    if (!comparable(current, prior)) return null;
    const offset =
      this.series?.[0] === current && this.series?.[1] === prior ? this.offset : defaultOffset(current, prior);
    return nearest(prior.positions, current.positions[index] + offset);
  }

  link(currentId, priorId) {
    const a = this.seriesIn(currentId);
    const b = this.seriesIn(priorId);
    this.pair = [currentId, priorId];
    this.expect.clear();
    if (!a || !b || !comparable(a, b)) {
      this.on = false;
      this.series = null;
      this.reason = 'Sync off: slices not parallel';
      return;
    }
    if (this.series?.[0] !== a || this.series?.[1] !== b) {
      this.series = [a, b];
      this.offset = defaultOffset(a, b);
    }
    this.reason = '';
    this.on = true;
  }

  unlink() {
    this.pair = null;
    this.on = false;
    this.series = null;
    this.expect.clear();
  }

  /** Off, or on with the two images now shown as the same level. Returns the new state. */
  toggle() {
    if (!this.pair) return false;
    if (this.on) {
      this.on = false;
      return false;
    }
    this.link(...this.pair);
    if (!this.series) return false;
    const [a, b] = this.series;
    const ia = this.grid.viewportById(this.pair[0])?.getCurrentImageIdIndex();
    const ib = this.grid.viewportById(this.pair[1])?.getCurrentImageIdIndex();
    if (Number.isInteger(ia) && Number.isInteger(ib)) this.offset = b.positions[ib] - a.positions[ia];
    return true;
  }

  /** A stack in the pair showed image ``index``: bring the other one to the same level. */
  onNewImage(viewportId, index) {
    if (!this.on || !this.pair || !this.pair.includes(viewportId)) return;
    // Our own moves arriving (possibly several, when the reader scrolls fast) are not the
    // reader's: they do not drive the other side back.
    const pending = this.expect.get(viewportId);
    if (pending && performance.now() - pending.at < 1500) {
      if (pending.index === index) this.expect.delete(viewportId);
      return;
    }
    const [a, b] = this.series;
    if (this.seriesIn(this.pair[0]) !== a || this.seriesIn(this.pair[1]) !== b) return;
    const fromCurrent = viewportId === this.pair[0];
    const source = fromCurrent ? a : b;
    const target = fromCurrent ? b : a;
    const targetId = fromCurrent ? this.pair[1] : this.pair[0];
    const position = source.positions[index] + (fromCurrent ? this.offset : -this.offset);
    const j = nearest(target.positions, position);
    const viewport = this.grid.viewportById(targetId);
    if (j < 0 || !viewport || viewport.getCurrentImageIdIndex() === j) return;
    this.expect.set(targetId, { index: j, at: performance.now() });
    this.grid.jumpTo(targetId, j);
  }

  /** The overlay line of the prior's cell: the registration in use. */
  label(viewportId) {
    if (!this.pair || viewportId !== this.pair[1]) return '';
    if (!this.on) return this.reason || 'Sync off (Y)';
    const mm = this.offset;
    return Math.abs(mm) < 0.05 ? 'Sync by position' : `Sync offset ${mm > 0 ? '+' : ''}${mm.toFixed(1)} mm`;
  }
}
