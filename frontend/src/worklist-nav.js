/**
 * Getting through the work from the viewer: the next or previous study of the worklist
 * the reader came from (same filters and sort), releasing the study, and going back.
 * The worklist's query is taken from the page that opened the viewer and kept for the
 * tab, so it survives moving from study to study.
 */
import { request } from './http.js';

const KEY = 'rr-worklist-query';
const PAGE_SIZE = 200; // the API's largest page: neighbours are found without paging

/** The worklist query string ("modality=CT&sort=-date"), '' for the default list. */
export function worklistQuery() {
  try {
    const ref = document.referrer ? new URL(document.referrer) : null;
    if (ref && ref.origin === window.location.origin && ref.pathname === '/') {
      sessionStorage.setItem(KEY, ref.search.replace(/^\?/, ''));
    }
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

/**
 * @typedef {object} WorklistNavDeps
 * @property {string} studyUid the study shown
 * @property {boolean} readonly the study is not claimed by this reader (nothing to release)
 * @property {(message: string) => void} notify
 */

export class WorklistNav {
  /** @param {WorklistNavDeps} deps */
  constructor(deps) {
    this.deps = deps;
    this.query = worklistQuery();
    this.busy = false;
  }

  get worklistUrl() {
    return this.query ? `/?${this.query}` : '/';
  }

  /** The row ``step`` places from this study in the worklist, or null. */
  async neighbour(step) {
    const params = new URLSearchParams(this.query);
    params.delete('page');
    params.set('page_size', String(PAGE_SIZE));
    const body = await request('GET', `/api/worklist/?${params}`);
    const rows = body?.results || [];
    const at = rows.findIndex((r) => r.study_instance_uid === this.deps.studyUid);
    if (at < 0) return step > 0 ? rows[0] || null : null;
    return rows[at + step] || null;
  }

  /** Open the next (1) or previous (-1) study: claimed to read, else its open page. */
  async go(step) {
    if (this.busy) return;
    this.busy = true;
    try {
      const row = await this.neighbour(step);
      if (!row) {
        this.deps.notify(`No ${step > 0 ? 'next' : 'previous'} study in the worklist`);
        return;
      }
      this.deps.notify(`Opening ${row.patient_name || ''} ${row.description || ''}…`);
      const uid = encodeURIComponent(row.study_instance_uid);
      try {
        await request('POST', `/api/worklist/studies/${uid}/claim/`, {});
        this.navigate(`/viewer/${uid}/`);
      } catch (err) {
        // Someone else holds it (409): the open page offers read-only or joining.
        if (err.status === 409) this.navigate(`/worklist/open/${uid}/`);
        else throw err;
      }
    } catch (err) {
      this.deps.notify(`Could not open the ${step > 0 ? 'next' : 'previous'} study (${err.status || err.message})`);
    } finally {
      this.busy = false;
    }
  }

  /** Give the study back to the worklist (unclaimed) and go there. */
  async release() {
    if (this.deps.readonly) {
      this.back();
      return;
    }
    try {
      await request('POST', `/api/worklist/studies/${encodeURIComponent(this.deps.studyUid)}/release/`, {});
      this.navigate(this.worklistUrl);
    } catch (err) {
      this.deps.notify(`Could not release the study (${err.status || err.message})`);
    }
  }

  back() {
    this.navigate(this.worklistUrl);
  }

  navigate(url) {
    window.location.assign(url);
  }
}
