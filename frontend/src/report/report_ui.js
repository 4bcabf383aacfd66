/**
 * The report panel (dock or full page): status, who is editing, the co-edited editor,
 * sign-off, versions and diff, addenda, critical results, impression suggestions.
 * Data comes from report_data.js (REST) and provider.js (the Yjs socket); the viewer's
 * events drive the editor (index.js wires them).
 */
import * as Y from 'yjs';

import { el } from '../layout.js';
import { ReportEditor } from './editor.js';
import { ReportProvider } from './provider.js';
import * as api from './report_data.js';
import { VersionsView } from './versions_ui.js';
import { colourFor } from './colours.js';

const SIGN_LABEL = { preliminary: 'Sign preliminary', final: 'Sign final' };
const DENIED = {
  final: 'Signed final: the text can no longer change (add an addendum).',
  addended: 'Signed final and addended: the text can no longer change.',
  not_allowed: 'Read-only for you now (a preliminary is edited by the attending).',
};

export class ReportPanel {
  /**
   * @param {HTMLElement} root
   * @param {{viewer: any, studyUid?: string, reportId?: string, page?: boolean}} options
   */
  constructor(root, { viewer, studyUid, reportId = null, page = false }) {
    this.root = root;
    this.viewer = viewer;
    this.studyUid = studyUid;
    this.startId = reportId;
    this.page = page;
    this.me = viewer.config?.user || {};
    this.original = null; // the study's report
    this.report = null; // the one being edited: the original or one of its addenda
    this.macroList = null;
    root.classList.add('rr-report');
    this.build();
  }

  build() {
    this.badge = el('span', { class: 'rr-badge', dataset: { status: 'none' } }, 'No report');
    this.title = el('span', { class: 'rr-title' }, 'Report');
    this.presenceList = el('span', { class: 'rr-presence', 'aria-label': 'Editing now' });
    this.connection = el('span', { class: 'rr-conn', title: 'Connection' });
    this.mic = el('button', {
      type: 'button', class: 'rr-mic', title: 'Dictate (F9)', 'aria-label': 'Dictate',
      onclick: () => this.viewer.dictation?.toggle(),
    }, 'Mic');
    this.mic.hidden = !this.viewer.dictation;
    this.pageLink = el('a', { class: 'rr-link', target: '_blank', rel: 'noopener', title: 'Open the report on its own page' }, 'Full page');
    this.pdfLink = el('a', { class: 'rr-link', target: '_blank', rel: 'noopener', title: 'Printable PDF' }, 'PDF');
    this.pageLink.hidden = this.page;
    this.pdfLink.hidden = true;
    this.switcher = el('div', { class: 'rr-switcher' });
    this.editorHost = el('div', { class: 'rr-editor' });
    this.toolbar = el('div', { class: 'rr-toolbar', role: 'toolbar', 'aria-label': 'Report actions' });
    this.prompt = el('div', { class: 'rr-prompt' });
    this.suggestion = el('div', { class: 'rr-suggestion' });
    this.versions = new VersionsView();
    this.message = el('div', { class: 'rr-message', role: 'status', 'aria-live': 'polite' });
    this.root.replaceChildren(
      el('div', { class: 'rr-head' }, this.badge, this.title, this.presenceList, this.connection,
        el('span', { class: 'rr-spacer' }), this.mic, this.pageLink, this.pdfLink),
      this.switcher, this.editorHost, this.toolbar, this.prompt, this.suggestion,
      this.versions.node, this.message,
    );
    this.root.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        if (this.can('save_version')) this.saveVersion();
      }
    });
  }

  say(text, kind = '') {
    this.message.textContent = text || '';
    this.message.dataset.kind = kind;
  }

  can(action) {
    return Boolean(this.report?.actions?.includes(action));
  }

  // -- loading -------------------------------------------------------------------------

  async load() {
    try {
      const first = this.startId ? await api.getReport(this.startId) : await api.studyReport(this.studyUid);
      if (!first) {
        this.showStart();
        return;
      }
      const original = first.parent_id ? await api.getReport(first.parent_id) : first;
      this.setOriginal(original);
      const open = original.addenda.find((a) => a.status !== 'final');
      await this.edit(first.parent_id ? first : (open ? await api.getReport(open.id) : original));
    } catch (err) {
      this.say(`The report could not be loaded: ${err.message}`, 'error');
    }
  }

  showStart() {
    this.badge.textContent = 'No report';
    this.badge.dataset.status = 'none';
    const start = el('button', { type: 'button', class: 'primary', dataset: { action: 'start' }, onclick: () => this.start() }, 'Start report');
    this.toolbar.replaceChildren(start);
    this.editorHost.replaceChildren(el('p', { class: 'rr-empty' }, 'No report yet. Start one from the study’s template.'));
  }

  /** Create the study's draft (from its template) and open it. */
  async start() {
    if (this.starting) return this.starting;
    this.starting = (async () => {
      const report = await api.startReport(this.studyUid);
      this.setOriginal(report);
      await this.edit(report);
    })();
    try {
      await this.starting;
    } finally {
      this.starting = null;
    }
    return null;
  }

  setOriginal(report) {
    this.original = report;
    this.renderSwitcher();
  }

  /** Open ``report`` in the editor: a fresh Y document synced over its socket. */
  async edit(report) {
    const same = this.report?.id === report.id && this.provider && !this.provider.closed;
    this.report = report;
    if (!same) this.openDocument(report);
    this.render();
  }

  openDocument(report) {
    this.closeDocument();
    const doc = new Y.Doc();
    const user = {
      name: this.me.display_name || this.me.name || this.me.username || 'me',
      username: this.me.username || '',
      color: colourFor(this.me.username || ''),
    };
    this.provider = new ReportProvider(report.id, doc, user);
    this.editor = new ReportEditor(this.editorHost, {
      ytext: doc.getText('text'),
      awareness: this.provider.awareness,
      macros: () => this.macros(),
      notify: (m) => this.say(m),
    });
    this.editorHost.replaceChildren(this.editor.view.dom);
    this.editor.setReadOnly(!this.can('edit'));
    this.provider.on('status', (status) => {
      this.connection.dataset.status = status;
      this.connection.title = status;
      if (status === 'refused') this.say('You may not open this report.', 'error');
    });
    this.provider.on('synced', () => {
      this.root.dataset.synced = '1';
    });
    this.provider.on('presence', (people) => this.renderPresence(people));
    this.provider.on('denied', (reason) => this.denied(reason));
    this.root.dataset.reportId = report.id;
  }

  /** Resolves once the editor holds the server's text (or after ``ms``). */
  whenSynced(ms = 5000) {
    const provider = this.provider;
    if (!provider || provider.synced) return Promise.resolve();
    return new Promise((resolve) => {
      provider.on('synced', resolve);
      setTimeout(resolve, ms);
    });
  }

  closeDocument() {
    this.editor?.destroy();
    this.provider?.destroy();
    this.editor = null;
    this.provider = null;
    delete this.root.dataset.synced;
  }

  async denied(reason) {
    const wasWritable = this.editor && !this.editor.isReadOnly;
    this.editor?.setReadOnly(true);
    this.say(DENIED[reason] || `Read-only (${reason}).`);
    const fresh = await api.getReport(this.report.id);
    this.report = fresh;
    // Anything typed in the race was refused: start again from what the server holds.
    if (wasWritable) this.openDocument(fresh);
    this.render();
  }

  /** Reload after a status change (own action, session event, socket refusal). */
  async refresh() {
    if (!this.report) return this.load();
    const id = this.report.id;
    const fresh = await api.getReport(id);
    const original = fresh.parent_id ? await api.getReport(fresh.parent_id) : fresh;
    if (this.report?.id !== id) return null; // switched report meanwhile (an addendum)
    this.original = original;
    const writable = fresh.actions.includes('edit');
    const wasWritable = this.report.actions?.includes('edit');
    this.report = fresh;
    if (writable && !wasWritable && this.provider?.denied) this.openDocument(fresh);
    else this.editor?.setReadOnly(!writable);
    this.renderSwitcher();
    this.render();
    return null;
  }

  async macros() {
    if (!this.macroList) this.macroList = await api.macros().catch(() => []);
    return this.macroList;
  }

  // -- rendering -----------------------------------------------------------------------

  render() {
    const r = this.report;
    this.badge.textContent = r.status_label;
    this.badge.dataset.status = r.status;
    this.title.textContent = r.is_addendum ? 'Addendum' : 'Report';
    this.title.title = r.template?.name ? `Template: ${r.template.name}` : '';
    this.pageLink.href = r.links?.page || `/reports/${r.id}/`;
    this.pdfLink.href = r.links?.pdf || '';
    this.pdfLink.hidden = r.status === 'draft';
    this.root.dataset.status = r.status;
    const buttons = [];
    const button = (action, label, run, extra = {}) => buttons.push(el('button', {
      type: 'button', dataset: { action }, onclick: run, ...extra,
    }, label));
    if (this.can('sign_preliminary')) button('sign-preliminary', SIGN_LABEL.preliminary, () => this.confirmSign('preliminary'));
    if (this.can('sign_final')) button('sign-final', SIGN_LABEL.final, () => this.confirmSign('final'), { class: 'primary' });
    if (this.can('sign_final') || this.can('sign_preliminary')) {
      button('sign-next', 'Sign and next', () => this.confirmSign(this.can('sign_final') ? 'final' : 'preliminary', true));
    }
    if (this.can('save_version')) button('save-version', 'Save version', () => this.saveVersion(), { title: 'Ctrl+S' });
    button('versions', 'Versions', () => this.toggleVersions());
    if (this.can('add_addendum')) button('add-addendum', 'Add addendum', () => this.addAddendum());
    const critical = this.original?.critical;
    if (this.can('flag_critical') && !critical?.flagged) button('flag-critical', 'Flag critical', () => this.criticalForm());
    if (critical?.flagged && critical.open && this.can('record_communication')) {
      button('record-communication', 'Record communication', () => this.communicationForm());
    }
    if (this.can('draft_impression')) button('draft-impression', 'Draft impression', () => this.draftImpression());
    this.toolbar.replaceChildren(...buttons);
    this.renderCritical();
    this.renderSuggestions();
    this.maybeShowChanges();
  }

  renderSwitcher() {
    const addenda = this.original?.addenda || [];
    if (!addenda.length) {
      this.switcher.replaceChildren();
      return;
    }
    const tab = (label, id) => el('button', {
      type: 'button',
      class: `rr-tab${this.report?.id === id ? ' on' : ''}`,
      dataset: { reportId: id },
      onclick: async () => this.edit(await api.getReport(id)).then(() => this.renderSwitcher()),
    }, label);
    this.switcher.replaceChildren(
      tab('Original', this.original.id),
      ...addenda.map((a, i) => tab(`Addendum ${i + 1} · ${a.status}`, a.id)),
    );
  }

  renderPresence(people) {
    this.presenceList.replaceChildren(...people.map((p) => el('span', {
      class: `rr-person${p.self ? ' self' : ''}`,
      title: p.self ? `${p.name} (you)` : `${p.name} is editing`,
      dataset: { username: p.username || '' },
      style: `--c:${p.color}`,
    }, p.name)));
  }

  renderCritical() {
    const c = this.original?.critical;
    this.root.querySelector('.rr-critical')?.remove();
    if (!c?.flagged) return;
    const told = c.communications.map((m) => `${m.recipient} (${m.method.replace('_', ' ')}, ${new Date(m.communicated_at).toLocaleString()}${m.acknowledged ? ', read back' : ''})`);
    const node = el('div', { class: `rr-critical${c.open ? ' open' : ''}` },
      el('strong', {}, c.severity === 'urgent' ? 'Urgent' : 'Critical'), ` ${c.finding}`,
      el('div', { class: 'muted' }, c.open ? 'Not yet communicated with read-back.' : `Told: ${told.join('; ')}`));
    this.toolbar.before(node);
  }

  // -- actions -------------------------------------------------------------------------

  /** Wait until the server holds what this editor shows (the last keystrokes may still
   * be on the socket when a REST call arrives). */
  async settle(timeoutMs = 4000) {
    if (!this.editor || this.editor.isReadOnly) return;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const fresh = await api.getReport(this.report.id);
      if (fresh.text === this.editor.text) return;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }

  confirmSign(level, andNext = false) {
    const label = andNext ? `${SIGN_LABEL[level]} and open the next study` : SIGN_LABEL[level];
    const note = level === 'final'
      ? 'Your attestation is stored and the text becomes immutable.'
      : 'The report goes to an attending for the final signature.';
    this.ask(`${label}?`, note, [
      ['confirm-sign', 'Sign', () => this.sign(level, andNext, false), 'primary'],
    ]);
  }

  ask(question, note, choices) {
    const bar = el('div', { class: 'rr-ask' },
      el('div', {}, el('strong', {}, question), note ? el('span', { class: 'muted' }, ` ${note}`) : null),
      ...choices.map(([action, label, run, cls]) => el('button', {
        type: 'button', class: cls || '', dataset: { action },
        onclick: () => {
          this.prompt.replaceChildren();
          run();
        },
      }, label)),
      el('button', { type: 'button', dataset: { action: 'cancel' }, onclick: () => this.prompt.replaceChildren() }, 'Cancel'));
    this.prompt.replaceChildren(bar);
    bar.querySelector('button')?.focus();
  }

  async sign(level, andNext, allowUnfilled) {
    try {
      await this.settle();
      const body = { allow_unfilled: allowUnfilled };
      if (andNext) body.next_query = '';
      const answer = await api.sign(this.report.id, level, body);
      this.say(level === 'final' ? 'Signed final.' : 'Signed preliminary; sent to the attending.');
      if (andNext) {
        if (answer.next?.viewer_url) {
          window.location.href = answer.next.viewer_url;
          return;
        }
        this.say('Signed. No next study on your worklist.');
      }
      await this.refresh();
    } catch (err) {
      if (err.code === 'unfilled_fields') {
        this.ask('Some fields are still blank.', err.message, [
          ['sign-anyway', 'Sign anyway', () => this.sign(level, andNext, true), 'primary'],
          ['fill-fields', 'Fill them', () => this.editor?.jumpField(1) && this.editor.focus()],
        ]);
        return;
      }
      this.say(err.message, 'error');
    }
  }

  async saveVersion() {
    try {
      await this.settle();
      const version = await api.saveVersion(this.report.id);
      this.say(`Saved as version ${version.number}.`);
      await this.refresh();
      if (this.versions.open) await this.versions.show(this.report);
    } catch (err) {
      this.say(err.message, 'error');
    }
  }

  async toggleVersions() {
    if (this.versions.open) this.versions.hide();
    else await this.versions.show(this.report).catch((err) => this.say(err.message, 'error'));
  }

  /** The resident sees what the attending changed once the report is signed final. */
  maybeShowChanges() {
    const r = this.report;
    const mine = r.signers?.preliminary?.user?.username === this.me.username;
    const byOther = r.signers?.final && r.signers.final.user?.username !== this.me.username;
    if (mine && byOther && !this.shownChanges) {
      this.shownChanges = true;
      this.versions.show(r, { from: '', to: 'current' }).catch(() => {});
    }
  }

  async addAddendum() {
    try {
      const addendum = await api.addAddendum(this.original.id);
      this.original = await api.getReport(this.original.id);
      await this.edit(addendum);
      this.renderSwitcher();
      this.say('Addendum started: type it, then sign it.');
      await this.whenSynced();
      this.editor?.goToSection('ADDENDUM');
      this.editor?.focus();
    } catch (err) {
      this.say(err.message, 'error');
    }
  }

  criticalForm() {
    const finding = el('input', { type: 'text', name: 'finding', placeholder: 'Critical finding', 'aria-label': 'Critical finding' });
    const severity = el('select', { name: 'severity', 'aria-label': 'Severity' },
      el('option', { value: 'critical' }, 'Critical (immediate)'), el('option', { value: 'urgent' }, 'Urgent (same day)'));
    const form = el('form', {
      class: 'rr-form',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          this.original = await api.flagCritical(this.original.id, finding.value, severity.value);
          this.prompt.replaceChildren();
          await this.refresh();
          this.say('Flagged critical. Record who was told.');
        } catch (err) {
          this.say(err.message, 'error');
        }
      },
    }, finding, severity, el('button', { type: 'submit', class: 'primary', dataset: { action: 'confirm-critical' } }, 'Flag'),
    el('button', { type: 'button', onclick: () => this.prompt.replaceChildren() }, 'Cancel'));
    this.prompt.replaceChildren(form);
    finding.focus();
  }

  communicationForm() {
    const recipient = el('input', { type: 'text', name: 'recipient', placeholder: 'Who was told', 'aria-label': 'Recipient' });
    const method = el('select', { name: 'method', 'aria-label': 'How' },
      ...[['phone', 'Phone'], ['in_person', 'In person'], ['page', 'Page'], ['secure_message', 'Secure message'], ['other', 'Other']]
        .map(([v, l]) => el('option', { value: v }, l)));
    const ack = el('input', { type: 'checkbox', name: 'acknowledged', checked: 'checked' });
    const form = el('form', {
      class: 'rr-form',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api.recordCommunication(this.original.id, {
            recipient: recipient.value, method: method.value, acknowledged: ack.checked,
          });
          this.prompt.replaceChildren();
          await this.refresh();
        } catch (err) {
          this.say(err.message, 'error');
        }
      },
    }, recipient, method, el('label', {}, ack, ' read back'),
    el('button', { type: 'submit', class: 'primary', dataset: { action: 'confirm-communication' } }, 'Record'),
    el('button', { type: 'button', onclick: () => this.prompt.replaceChildren() }, 'Cancel'));
    this.prompt.replaceChildren(form);
    recipient.focus();
  }

  // -- impression suggestions ----------------------------------------------------------

  async draftImpression() {
    try {
      await this.settle();
      const answer = await api.requestImpression(this.report.id);
      this.say('Drafting an impression from the findings…');
      this.waitForSuggestion(answer.suggestion?.id);
    } catch (err) {
      this.say(err.status === 503 ? 'No AI engine is available to draft an impression.' : err.message, 'error');
    }
  }

  async waitForSuggestion(id, tries = 60) {
    for (let i = 0; i < tries; i += 1) {
      const fresh = await api.getReport(this.report.id);
      const s = fresh.impression_suggestions?.find((x) => x.id === id);
      if (s && s.status !== 'requested') {
        this.report = { ...this.report, impression_suggestions: fresh.impression_suggestions };
        this.renderSuggestions();
        if (s.status === 'failed') this.say('The impression could not be drafted.', 'error');
        else this.say('');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }

  showSuggestion(suggestion) {
    const list = (this.report.impression_suggestions || []).filter((s) => s.id !== suggestion.id);
    this.report = { ...this.report, impression_suggestions: [suggestion, ...list] };
    this.renderSuggestions();
  }

  renderSuggestions() {
    const pending = (this.report?.impression_suggestions || []).find((s) => s.status === 'pending');
    if (!pending || !this.can('edit')) {
      this.suggestion.replaceChildren();
      return;
    }
    const p = pending.provenance || {};
    const box = el('textarea', { rows: '3', 'aria-label': 'Suggested impression' });
    box.value = pending.text;
    const origin = [p.model, p.random_weights ? 'RANDOM WEIGHTS: test model output, not a reading' : null]
      .filter(Boolean).join(' · ');
    const decide = async (decision) => {
      try {
        const text = box.value;
        const kind = decision === 'rejected' ? 'rejected' : (text.trim() === pending.text.trim() ? 'accepted' : 'edited');
        await api.decideImpression(this.report.id, pending.id, kind, text);
        if (kind !== 'rejected') {
          this.editor.goToSection('IMPRESSION');
          this.editor.selectBlankInSection?.('IMPRESSION');
          this.editor.insert({ text, source: 'ai', meta: { join: 'line', suggestion: pending.id } });
        }
        await this.refresh();
      } catch (err) {
        this.say(err.message, 'error');
      }
    };
    this.suggestion.replaceChildren(el('div', { class: 'rr-suggest' },
      el('div', { class: 'rr-suggest-head' }, 'Suggested impression', origin ? el('span', { class: 'muted' }, ` · ${origin}`) : null),
      box,
      el('div', {},
        el('button', { type: 'button', class: 'primary', dataset: { action: 'accept-impression' }, onclick: () => decide('accepted') }, 'Insert'),
        el('button', { type: 'button', dataset: { action: 'reject-impression' }, onclick: () => decide('rejected') }, 'Discard'))));
  }

  destroy() {
    this.closeDocument();
  }
}
