/**
 * The AI panel: task picker and "AI read" for the series in view, the study's jobs with
 * their state, progress, ETA and streamed text, and each finding with its images, its
 * review (accept / edit / reject, by whom) and "insert into report" once accepted.
 */
import { el } from '../layout.js';

const TASKS = [
  ['findings', 'Findings'],
  ['localise', 'Localise (boxes)'],
  ['compare_prior', 'Compare with prior'],
];
const STATUS = {
  queued: 'Queued', preparing: 'Preparing images', running: 'Generating', done: 'Done',
  failed: 'Failed', cancelled: 'Cancelled',
};
const ACTIVE = new Set(['queued', 'preparing', 'running']);

function eta(seconds) {
  if (seconds === null || seconds === undefined) return '';
  if (seconds < 90) return `~${Math.round(seconds)} s left`;
  if (seconds < 5400) return `~${Math.round(seconds / 60)} min left`;
  return `~${(seconds / 3600).toFixed(1)} h left`;
}

/** "about N min on CPU": the estimate said before a run starts, and on a queued job. */
export function estimateText(guess) {
  if (!guess || guess.seconds === null || guess.seconds === undefined) return '';
  const where = guess.device === 'cuda' ? 'on a GPU' : 'on CPU';
  const s = guess.seconds;
  let span;
  if (s < 60) span = `about ${Math.max(1, Math.round(s))} s`;
  else if (s < 5400) span = `about ${Math.round(s / 60)} min`;
  else span = `about ${(s / 3600).toFixed(1)} h`;
  const basis = guess.basis === 'past'
    ? `from ${guess.past_jobs} past run${guess.past_jobs === 1 ? '' : 's'}`
    : 'from the model size';
  return `${span} ${where} (${guess.images} image${guess.images === 1 ? '' : 's'}, ${guess.tokens} tokens; ${basis})`;
}

/** What an edit changed, for the history line: " (box)", " (label)". */
function changed(review) {
  const keys = Object.keys(review.changes?.after || {});
  return keys.length ? ` (${keys.map((k) => (k === 'geometry' ? 'box' : k)).join(', ')})` : '';
}

function who(user) {
  return user ? user.display_name || user.username : '';
}

export class AiPanel {
  constructor(viewer, data, boxes, { readonly = false } = {}) {
    this.viewer = viewer;
    this.data = data;
    this.boxes = boxes;
    this.readonly = readonly;
    this.editing = null; // annotation id whose text is being edited
    this.editingBox = null; // annotation id whose box is being dragged
    this.estimateSeq = 0;
  }

  install() {
    this.root = this.viewer.dock.addPanel('ai', 'AI', { order: 30 });
    this.root.classList.add('ai-panel');
    this.task = el('select', { class: 'ai-task', 'aria-label': 'AI task' },
      TASKS.map(([value, label]) => el('option', { value }, label)));
    this.button = el('button', { type: 'button', class: 'ai-read', title: 'AI read of the series in view (K)',
      onclick: () => this.read() }, 'AI read');
    this.message = el('div', { class: 'ai-message', role: 'status' });
    this.estimateLine = el('div', { class: 'ai-estimate muted' });
    this.list = el('div', { class: 'ai-jobs' });
    this.root.append(el('div', { class: 'ai-controls' }, this.task, this.button), this.estimateLine,
      this.message, this.list);
    this.data.on('change', () => this.render());
    this.task.addEventListener('change', () => this.updateEstimate());
    this.viewer.on('viewport-changed', () => this.updateEstimate());
    this.render();
    this.updateEstimate();
  }

  /** Say what the next "AI read" would cost before it is asked for. */
  async updateEstimate() {
    const series = this.seriesInView();
    const key = `${this.task.value}|${series}`;
    if (key === this.estimateKey) return;
    this.estimateKey = key;
    if (!series) {
      this.estimateLine.textContent = '';
      return;
    }
    const seq = ++this.estimateSeq;
    try {
      const guess = await this.data.estimate(this.task.value, series);
      if (seq !== this.estimateSeq) return;
      const model = guess.model || {};
      if (model.installed === false) {
        // Said before anyone waits for a job to fail: the exact setting that fixes it.
        this.estimateLine.replaceChildren(
          el('strong', { class: 'ai-missing' }, 'MedGemma is not installed. '),
          el('span', {}, `To enable AI reads, ${model.instruction}.`));
      } else {
        this.estimateLine.replaceChildren(
          ...(model.random_weights ? [el('span', { class: 'ai-random' }, 'RANDOM WEIGHTS'), ' '] : []),
          estimateText(guess));
      }
    } catch {
      if (seq === this.estimateSeq) this.estimateLine.textContent = '';
    }
  }

  seriesInView() {
    const state = this.viewer.state();
    const active = state.viewports.find((v) => v.viewportId === state.activeViewportId);
    return (active || state.viewports.find((v) => v.series))?.series || null;
  }

  async read(task = this.task.value) {
    const series = this.seriesInView();
    if (!series) {
      this.say('Show a series first: the AI reads the series in view.');
      return null;
    }
    this.viewer.dock.show('ai');
    this.button.disabled = true;
    try {
      const job = await this.data.requestAnalysis(task, series);
      this.say('');
      return job;
    } catch (err) {
      this.say(`The analysis was refused (${err.status || 'network'})`);
      return null;
    } finally {
      this.button.disabled = false;
    }
  }

  say(text) {
    this.message.textContent = text;
  }

  render() {
    if (this.data.error && !this.message.textContent) this.say(this.data.error);
    const jobs = this.data.jobList();
    if (!jobs.length) {
      this.list.replaceChildren(el('p', { class: 'muted' }, 'No AI analyses of this study yet.'));
      return;
    }
    this.list.replaceChildren(...jobs.map((job) => this.renderJob(job)));
    for (const job of jobs) {
      for (const finding of this.data.findingsOf(job.job_id)) {
        if (finding.annotation.tool === 'ai_box') this.boxes.show(finding, job.random_weights);
      }
    }
  }

  renderJob(job) {
    const progress = job.progress || {};
    const fraction = progress.total ? Math.min(1, progress.done / progress.total) : 0;
    const active = ACTIVE.has(job.status);
    const head = el('div', { class: 'ai-job-head' },
      el('strong', {}, TASKS.find(([t]) => t === job.task)?.[1] || job.task),
      el('span', { class: `ai-status ai-${job.status}` }, STATUS[job.status] || job.status),
      job.random_weights ? el('span', { class: 'ai-random', title: 'Answers of a random-weight test model are noise' }, 'RANDOM WEIGHTS') : null,
      active && !this.readonly
        ? el('button', { type: 'button', class: 'ai-cancel', onclick: () => this.data.cancel(job.job_id) }, 'Cancel')
        : null,
    );
    const parts = [head];
    if (active) {
      const stage = { slices: 'images', prompt: 'prompt', tokens: 'tokens' }[progress.stage] || '';
      parts.push(
        el('div', { class: 'ai-progress', title: stage },
          el('div', { class: 'ai-progress-bar', style: `width:${Math.round(fraction * 100)}%` })),
        el('div', { class: 'ai-progress-text muted' },
          stage ? `${stage} ${progress.done}/${progress.total}` : 'waiting for a worker',
          ' ', eta(progress.eta_seconds) || (progress.estimate ? `· ${estimateText(progress.estimate)}` : ''),
          job.device && job.device.startsWith('cpu') ? ' · CPU: minutes per image' : ''),
      );
    }
    if (job.status === 'failed') {
      const missing = job.error_kind === 'model_not_installed';
      parts.push(el('div', { class: `ai-error${missing ? ' ai-missing' : ''}` },
        missing ? 'Model not installed: ' : '', job.error));
    }
    if (job.text && (active || !job.findings?.length)) {
      parts.push(el('pre', { class: 'ai-text' }, job.text));
    }
    if (job.task === 'impression' && job.result?.data) {
      parts.push(el('pre', { class: 'ai-text' }, String(job.result.data)));
    }
    const findings = this.data.findingsOf(job.job_id);
    if (findings.length) {
      parts.push(el('ol', { class: 'ai-findings' }, findings.map((f) => this.renderFinding(f, job))));
    }
    const reviewed = findings.some((f) => !['pending', 'none', ''].includes(f.annotation.review_state));
    const exported = this.data.exports.get(job.job_id);
    if (job.status === 'done' && reviewed && !this.readonly) {
      parts.push(el('div', { class: 'ai-export' },
        el('button', { type: 'button', class: 'ai-export-sr',
          title: 'Store the reviewed findings as a DICOM SR (TID 1500) in this study',
          onclick: (e) => this.exportSr(job, /** @type {HTMLButtonElement} */ (e.currentTarget)) }, 'Export SR'),
        exported ? el('span', { class: 'muted ai-exported', title: exported.sop_instance_uid }, 'SR stored') : null));
    }
    return el('div', { class: 'ai-job', dataset: { job: job.job_id, status: job.status } }, parts);
  }

  renderFinding(finding, job) {
    const a = finding.annotation;
    const last = finding.reviews[finding.reviews.length - 1];
    const image = el('button', { type: 'button', class: 'ai-image link', title: a.sop_instance_uid,
      onclick: () => this.boxes.goTo(a) },
    a.tool === 'ai_box' ? 'box on image' : `${a.provenance?.images_total || 1} image(s)`);
    const decided = a.review_state !== 'pending'
      ? el('span', { class: `ai-review ai-${a.review_state}` },
        `${a.review_state} by ${who(a.reviewed_by)}`, last && last.kind !== 'first' ? ` (${last.kind})` : '')
      : el('span', { class: 'ai-review ai-pending' }, 'awaiting review');
    const body = this.editing === a.id
      ? this.editor(a)
      : el('div', { class: 'ai-finding-text' }, a.label && a.tool === 'ai_box' ? `${a.label}` : a.text || a.label);
    const boxing = this.editingBox === a.id;
    const actions = this.readonly ? [] : boxing ? [
      el('span', { class: 'muted' }, 'Drag the box\'s corners on the image, then'),
      el('button', { type: 'button', class: 'ai-save-box', onclick: () => this.saveBox(a) }, 'Save box'),
      el('button', { type: 'button', class: 'ai-cancel-box', onclick: () => this.cancelBox(a) }, 'Cancel'),
    ] : [
      el('button', { type: 'button', class: 'ai-accept', onclick: () => this.decide(a.id, 'accept') }, 'Accept'),
      el('button', { type: 'button', class: 'ai-edit', onclick: () => { this.editing = a.id; this.render(); } },
        a.tool === 'ai_box' ? 'Edit label' : 'Edit'),
      a.tool === 'ai_box'
        ? el('button', { type: 'button', class: 'ai-edit-box', onclick: () => this.editBox(a) }, 'Edit box')
        : null,
      el('button', { type: 'button', class: 'ai-reject', onclick: () => this.decide(a.id, 'reject') }, 'Reject'),
    ];
    if (['accepted', 'edited'].includes(a.review_state)) {
      actions.push(el('button', { type: 'button', class: 'ai-insert', onclick: () => this.insert(a, job) }, 'Insert in report'));
    }
    const history = finding.reviews.length > 1
      ? el('div', { class: 'ai-history muted' },
        finding.reviews.map((r) => `${r.decision}${changed(r)} by ${who(r.reviewer)} (${r.reviewer_role})`).join(' → '))
      : null;
    return el('li', { class: 'ai-finding', dataset: { annotation: a.id, state: a.review_state } },
      body, el('div', { class: 'ai-finding-meta' }, image, decided), history,
      el('div', { class: 'ai-actions' }, actions));
  }

  editor(a) {
    const area = el('textarea', { class: 'ai-edit-text', rows: 3 });
    area.value = a.text || a.label;
    const save = () => {
      const changes = a.tool === 'ai_box' ? { label: area.value } : { text: area.value };
      this.editing = null;
      this.decide(a.id, 'edit', changes);
    };
    return el('div', { class: 'ai-editor' }, area,
      el('button', { type: 'button', class: 'ai-save', onclick: save }, 'Save'),
      el('button', { type: 'button', onclick: () => { this.editing = null; this.render(); } }, 'Cancel'));
  }

  /** Edit a box's geometry: unlock it on its image, the reader drags it, "Save box". */
  async editBox(a) {
    await this.boxes.goTo(a);
    if (!(await this.boxes.show({ annotation: a })) || !this.boxes.startEdit(a.id)) {
      this.say('The box\'s image is not on screen: show its series first.');
      return;
    }
    this.editingBox = a.id;
    this.render();
  }

  async saveBox(a) {
    const points = this.boxes.corners(a.id);
    this.editingBox = null;
    this.boxes.endEdit(a.id);
    const [[x0, y0], [x1, y1]] = points || [[0, 0], [0, 0]];
    const before = a.geometry?.points || [];
    const same = points && before.length === 2 && points.every((p, i) => p.every((v, j) => Math.abs(v - before[i][j]) < 0.5));
    if (!points || x1 - x0 < 1 || y1 - y0 < 1 || same) {
      this.say(points && same ? 'The box did not move: nothing to save.' : 'The box has no size: not saved.');
      this.render();
      return;
    }
    await this.decide(a.id, 'edit', { geometry: { points } });
  }

  cancelBox(a) {
    this.editingBox = null;
    this.boxes.endEdit(a.id);
    this.render();
  }

  /** Store the job's reviewed findings as an SR; the new series then shows in the list. */
  async exportSr(job, button) {
    if (button) button.disabled = true;
    try {
      const stored = await this.data.exportSr(job.job_id);
      const refresh = this.viewer.refreshSeriesList;
      if (typeof refresh === 'function') {
        await refresh.call(this.viewer);
        this.say(`Stored as DICOM SR ${stored.sop_instance_uid}: series "AI results (reviewed)".`);
      } else {
        this.say(`Stored as DICOM SR ${stored.sop_instance_uid}: reload the viewer to see its series.`);
      }
    } catch (err) {
      this.say(`The SR export was refused (${err.status || 'network'})`);
    } finally {
      if (button) button.disabled = false;
    }
  }

  async decide(id, decision, changes) {
    try {
      await this.data.review(id, decision, changes);
    } catch (err) {
      this.say(`The review was refused (${err.status || 'network'})`);
    }
  }

  insert(a, job) {
    const text = a.tool === 'ai_box' ? a.label : a.text || a.label;
    this.viewer.emit('report-insert', {
      text, source: 'ai', section: 'findings',
      meta: { annotation: a.id, job: job.job_id, random_weights: job.random_weights },
    });
  }
}
