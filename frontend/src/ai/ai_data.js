/**
 * AI jobs and findings of the study in view: the data part of the AI panel.
 *
 * State comes from REST (``/api/ai/jobs/?study=``, ``/api/ai/jobs/<id>/findings/``) and
 * is kept current by the session's ``ai.*`` events (docs/realtime.md) or, outside a
 * session, by the same events on the study's AI socket (``/ws/ai/studies/<uid>/``): jobs,
 * findings and reviews of other readers arrive live. Only while that socket is down does
 * a running job get polled. Emits 'change' after every update.
 */
import { Emitter } from '../emitter.js';
import { request } from '../http.js';
import { leaveIfSignedOut } from '../sockets.js';

const POLL_MS = 1000;
const RECONNECTS = 8; // then the panel says to reload: no endless retrying
const REFUSED = new Set([4401, 4403, 4404]);
const ACTIVE = new Set(['queued', 'preparing', 'running']);

export class AiData extends Emitter {
  /**
   * @param {{api: string, studyUid: string, sessionId?: string | null}} options
   */
  constructor({ api, studyUid, sessionId = null }) {
    super();
    this.api = api;
    this.studyUid = studyUid;
    this.sessionId = sessionId;
    /** @type {Map<string, any>} job_id -> job */
    this.jobs = new Map();
    /** @type {Map<string, any>} annotation id -> { job_id, index, annotation, reviews } */
    this.findings = new Map();
    this.timer = null;
    this.error = '';
    /** @type {Map<string, any>} job_id -> the SR stored by "Export SR" */
    this.exports = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.live = false;
    this.reconnects = 0;
  }

  /** Outside a session: the study's AI socket brings everyone's jobs and reviews. */
  listen() {
    if (this.sessionId || this.socket || typeof WebSocket === 'undefined') return;
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${window.location.host}/ws/ai/studies/${encodeURIComponent(this.studyUid)}/`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      const again = this.reconnects > 0;
      this.live = true;
      this.reconnects = 0;
      if (again) this.load(); // what was missed while down
      else this.changed();
    };
    socket.onmessage = (msg) => {
      let envelope;
      try {
        envelope = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (envelope?.type?.startsWith('ai.')) this.onEvent(envelope);
    };
    socket.onclose = (evt) => {
      this.socket = null;
      this.live = false;
      if (leaveIfSignedOut(evt.code)) return;
      if (REFUSED.has(evt.code) || this.reconnects >= RECONNECTS) {
        this.error = this.error || 'Live AI updates stopped: reload the viewer to see others\' reviews.';
        this.changed();
        this.poll();
        return;
      }
      this.reconnects += 1;
      this.poll();
      setTimeout(() => this.listen(), Math.min(30000, 500 * 2 ** this.reconnects));
    };
  }

  /** How long an analysis would take, before it is asked for (GET /api/ai/estimate/). */
  async estimate(task, seriesUid) {
    const query = new URLSearchParams({ study: this.studyUid, series: seriesUid || '', task });
    return request('GET', `${this.api}/ai/estimate/?${query}`);
  }

  get jobsUrl() {
    return `${this.api}/ai/jobs/`;
  }

  async load() {
    try {
      const body = await request('GET', `${this.jobsUrl}?study=${encodeURIComponent(this.studyUid)}`);
      for (const job of body.results || []) this.jobs.set(job.job_id, job);
      await Promise.all(
        [...this.jobs.values()].filter((j) => j.findings?.length).map((j) => this.loadFindings(j.job_id)),
      );
    } catch (err) {
      this.error = `AI jobs could not be loaded (${err.status || 'network'})`;
    }
    this.changed();
    this.poll();
  }

  async loadFindings(jobId) {
    const body = await request('GET', `${this.jobsUrl}${jobId}/findings/`);
    this.jobs.set(jobId, body.job);
    for (const finding of body.findings) this.findings.set(String(finding.annotation.id), finding);
  }

  async requestAnalysis(task, seriesUid, text = '', parameters = undefined) {
    const job = await request('POST', this.jobsUrl, {
      study_instance_uid: this.studyUid,
      series_instance_uid: seriesUid || '',
      task,
      session_id: this.sessionId || null,
      ...(text ? { text } : {}),
      ...(parameters ? { parameters } : {}),
    });
    this.upsertJob(job);
    if (job.status === 'done' && job.findings?.length) await this.loadFindings(job.job_id);
    this.changed();
    this.poll();
    return job;
  }

  async cancel(jobId) {
    this.upsertJob(await request('POST', `${this.jobsUrl}${jobId}/cancel/`, {}));
    this.changed();
  }

  async review(annotationId, decision, changes = undefined) {
    const finding = await request('POST', `${this.api}/ai/findings/${annotationId}/review/`, {
      decision,
      ...(changes ? { changes } : {}),
      ...(this.sessionId ? { session_id: this.sessionId } : {}),
    });
    this.findings.set(String(finding.annotation.id), finding);
    this.changed();
    return finding;
  }

  /** Store the job's reviewed findings as a DICOM SR (TID 1500) in the study. */
  async exportSr(jobId) {
    const stored = await request('POST', `${this.jobsUrl}${jobId}/export-sr/`, {});
    this.exports.set(jobId, stored);
    this.changed();
    return stored;
  }

  upsertJob(job) {
    const known = this.jobs.get(job.job_id);
    // A stream event carries only the running counters; keep the rest.
    this.jobs.set(job.job_id, { ...(known || {}), ...job });
  }

  /** Apply a session envelope of an ``ai.*`` type. */
  async onEvent(envelope) {
    const p = envelope.payload || {};
    switch (envelope.type) {
      case 'ai.job.stream': {
        const known = this.jobs.get(p.job_id);
        if (!known || !ACTIVE.has(known.status)) return; // a late stream after the end
        this.upsertJob({
          job_id: p.job_id,
          status: p.status,
          text: p.text,
          tokens: p.tokens,
          random_weights: p.random_weights,
          progress: { stage: p.stage, done: p.done, total: p.total, eta_seconds: p.eta_seconds },
        });
        break;
      }
      case 'ai.job.progress':
      case 'ai.job.done':
      case 'ai.job.failed':
      case 'ai.job.cancelled':
        this.upsertJob(p);
        break;
      case 'ai.finding':
        this.findings.set(String(p.annotation.id), p);
        if (p.job_id && !this.jobs.has(p.job_id)) {
          await this.loadFindings(p.job_id).catch(() => {});
        }
        break;
      default:
        return;
    }
    this.changed();
  }

  /** Outside a session, while the study socket is down: ask while a job runs. */
  poll() {
    if (this.sessionId || this.timer || this.live) return;
    const tick = async () => {
      this.timer = null;
      const running = [...this.jobs.values()].filter((j) => ACTIVE.has(j.status));
      if (!running.length || this.live) return;
      for (const job of running) {
        try {
          const fresh = await request('GET', `${this.jobsUrl}${job.job_id}/`);
          this.upsertJob(fresh);
          if (!ACTIVE.has(fresh.status) && fresh.findings?.length) await this.loadFindings(fresh.job_id);
        } catch (err) {
          console.warn('ai: polling a job failed', err);
        }
      }
      this.changed();
      this.timer = setTimeout(tick, POLL_MS);
    };
    this.timer = setTimeout(tick, POLL_MS);
  }

  jobList() {
    return [...this.jobs.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  }

  findingsOf(jobId) {
    return [...this.findings.values()]
      .filter((f) => f.job_id === jobId)
      .sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  }

  changed() {
    this.emit('change', this);
  }

  /** A snapshot for tests and debugging. */
  snapshot() {
    return {
      live: this.live,
      exports: Object.fromEntries(this.exports),
      jobs: this.jobList().map((j) => ({
        job_id: j.job_id, task: j.task, status: j.status, text: j.text || '', tokens: j.tokens,
        random_weights: j.random_weights, error_kind: j.error_kind, findings: j.findings || [],
      })),
      findings: [...this.findings.values()].map((f) => ({
        id: f.annotation.id, job_id: f.job_id, tool: f.annotation.tool,
        review_state: f.annotation.review_state,
        reviewed_by: f.annotation.reviewed_by?.username || null,
        reviews: f.reviews.map((r) => ({ decision: r.decision, kind: r.kind, reviewer: r.reviewer?.username })),
      })),
    };
  }
}
