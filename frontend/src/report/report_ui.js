/**
 * The report panel (dock or full page): loads the study's report or one of its addenda,
 * opens it in the co-edited editor and lays out the features around it, each its own
 * module: the head (header_ui.js), sign-off, versions and addenda (signoff_ui.js),
 * critical results (critical_ui.js) and impression suggestions (impression_ui.js).
 * Data comes from report_data.js (REST) and provider.js (the Yjs socket); the viewer's
 * events drive the editor (index.js wires them).
 */
import * as Y from 'yjs';

import { el } from '../dom.js';
import { colourFor } from './colours.js';
import { CriticalResults } from './critical_ui.js';
import { ReportEditor } from './editor.js';
import { ReportHeader } from './header_ui.js';
import { ImpressionSuggestions } from './impression_ui.js';
import { ReportProvider } from './provider.js';
import * as api from './report_data.js';
import { SignOff } from './signoff_ui.js';

/** Why the socket refused an edit, for people. */
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
    /** @type {Record<string, any>} */
    this.me = viewer.config?.user || {};
    /** @type {any} the study's report */
    this.original = null;
    /** @type {any} the one being edited: the original or one of its addenda */
    this.report = null;
    /** @type {ReportEditor | null} */
    this.editor = null;
    /** @type {ReportProvider | null} */
    this.provider = null;
    /** @type {Promise<void> | null} */
    this.starting = null;
    this.macroList = null;
    root.classList.add('rr-report');
    this.build();
  }

  build() {
    this.header = new ReportHeader({ onMic: () => this.viewer.dictation?.toggle(), page: this.page });
    this.header.mic.hidden = !this.viewer.dictation;
    this.signoff = new SignOff(this);
    this.critical = new CriticalResults(this);
    this.impression = new ImpressionSuggestions(this);
    this.switcher = el('div', { class: 'rr-switcher' });
    this.editorHost = el('div', { class: 'rr-editor' });
    this.toolbar = el('div', { class: 'rr-toolbar', role: 'toolbar', 'aria-label': 'Report actions' });
    this.prompt = el('div', { class: 'rr-prompt' });
    this.message = el('div', { class: 'rr-message', role: 'status', 'aria-live': 'polite' });
    this.root.replaceChildren(
      this.header.node, this.switcher, this.editorHost, this.toolbar, this.prompt, this.impression.node,
      this.signoff.versions.node, this.message,
    );
    this.root.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') {
        e.preventDefault();
        if (this.can('save_version')) this.signoff.saveVersion();
      }
    });
  }

  /** A line in the status area (``kind`` 'error' shows it as one).
   * @param {string} text
   * @param {string} [kind] */
  say(text, kind = '') {
    this.message.textContent = text || '';
    this.message.dataset.kind = kind;
  }

  /** Whether the server allows ``action`` on the report being edited, for this user.
   * @param {string} action */
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
    this.header.showNone();
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

  /** @param {any} report */
  setOriginal(report) {
    this.original = report;
    this.renderSwitcher();
  }

  /** Open ``report`` in the editor: a fresh Y document synced over its socket.
   * @param {any} report */
  async edit(report) {
    const same = this.report?.id === report.id && this.provider && !this.provider.closed;
    this.report = report;
    if (!same) this.openDocument(report);
    this.render();
  }

  /** @param {any} report */
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
      this.header.setConnection(status);
      if (status === 'refused') this.say('You may not open this report.', 'error');
    });
    this.provider.on('synced', () => {
      this.root.dataset.synced = '1';
    });
    this.provider.on('presence', (people) => this.header.setPresence(people));
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

  closeDocument() {
    this.editor?.destroy();
    this.provider?.destroy();
    this.editor = null;
    this.provider = null;
    delete this.root.dataset.synced;
  }

  /** The socket refused an edit: read-only, and the server's text again.
   * @param {string} reason */
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
    this.header.show(r);
    this.root.dataset.status = r.status;
    /** @type {(action: string, label: string, run: () => any, extra?: object) => HTMLElement} */
    const button = (action, label, run, extra = {}) => el('button', {
      type: 'button', dataset: { action }, onclick: run, ...extra,
    }, label);
    this.toolbar.replaceChildren(
      ...this.signoff.buttons(button), ...this.critical.buttons(button), ...this.impression.buttons(button),
    );
    this.critical.render();
    this.impression.render();
    this.signoff.maybeShowChanges();
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

  destroy() {
    this.closeDocument();
  }
}
