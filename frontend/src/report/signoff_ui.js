/**
 * Sign-off and the text's history: sign preliminary / final (and open the next study),
 * the confirmation asked first, save a version, the versions and their diff, addenda.
 */
import { el } from '../dom.js';
import * as api from './report_data.js';
import { VersionsView } from './versions_ui.js';

/** @typedef {import('./report_ui.js').ReportPanel} ReportPanel */
/** @typedef {'preliminary' | 'final'} SignLevel */
/** @typedef {[action: string, label: string, run: () => any, cls?: string]} Choice */

const SIGN_LABEL = { preliminary: 'Sign preliminary', final: 'Sign final' };

export class SignOff {
  /** @param {ReportPanel} panel */
  constructor(panel) {
    this.panel = panel;
    this.versions = new VersionsView();
    this.shownChanges = false;
  }

  /** The toolbar's buttons for what the reader may do now, in toolbar order.
   * @param {(action: string, label: string, run: () => any, extra?: object) => HTMLElement} button */
  buttons(button) {
    const p = this.panel;
    const out = [];
    if (p.can('sign_preliminary')) out.push(button('sign-preliminary', SIGN_LABEL.preliminary, () => this.confirm('preliminary')));
    if (p.can('sign_final')) out.push(button('sign-final', SIGN_LABEL.final, () => this.confirm('final'), { class: 'primary' }));
    if (p.can('sign_final') || p.can('sign_preliminary')) {
      out.push(button('sign-next', 'Sign and next', () => this.confirm(p.can('sign_final') ? 'final' : 'preliminary', true)));
    }
    if (p.can('save_version')) out.push(button('save-version', 'Save version', () => this.saveVersion(), { title: 'Ctrl+S' }));
    out.push(button('versions', 'Versions', () => this.toggleVersions()));
    if (p.can('add_addendum')) out.push(button('add-addendum', 'Add addendum', () => this.addAddendum()));
    return out;
  }

  /** The level the reader signs at now (final before preliminary), or null.
   * @returns {SignLevel | null} */
  level() {
    if (this.panel.can('sign_final')) return 'final';
    return this.panel.can('sign_preliminary') ? 'preliminary' : null;
  }

  /** Ask before signing: a signature cannot be taken back.
   * @param {SignLevel} level
   * @param {boolean} [andNext] then open the next study of the worklist */
  confirm(level, andNext = false) {
    const label = andNext ? `${SIGN_LABEL[level]} and open the next study` : SIGN_LABEL[level];
    const note = level === 'final'
      ? 'Your attestation is stored and the text becomes immutable.'
      : 'The report goes to an attending for the final signature.';
    this.ask(`${label}?`, note, [
      ['confirm-sign', 'Sign', () => this.sign(level, andNext, false), 'primary'],
    ]);
  }

  /** A question in the prompt area with its choices and a Cancel.
   * @param {string} question
   * @param {string} note
   * @param {Choice[]} choices */
  ask(question, note, choices) {
    const prompt = this.panel.prompt;
    const bar = el('div', { class: 'rr-ask' },
      el('div', {}, el('strong', {}, question), note ? el('span', { class: 'muted' }, ` ${note}`) : null),
      ...choices.map(([action, label, run, cls]) => el('button', {
        type: 'button', class: cls || '', dataset: { action },
        onclick: () => {
          prompt.replaceChildren();
          run();
        },
      }, label)),
      el('button', { type: 'button', dataset: { action: 'cancel' }, onclick: () => prompt.replaceChildren() }, 'Cancel'));
    prompt.replaceChildren(bar);
    bar.querySelector('button')?.focus();
  }

  /**
   * @param {SignLevel} level
   * @param {boolean} andNext
   * @param {boolean} allowUnfilled sign although «fields» are still blank
   */
  async sign(level, andNext, allowUnfilled) {
    const p = this.panel;
    try {
      await p.settle();
      /** @type {Record<string, any>} */
      const body = { allow_unfilled: allowUnfilled };
      if (andNext) body.next_query = '';
      const answer = await api.sign(p.report.id, level, body);
      p.say(level === 'final' ? 'Signed final.' : 'Signed preliminary; sent to the attending.');
      if (andNext) {
        if (answer.next?.viewer_url) {
          window.location.href = answer.next.viewer_url;
          return;
        }
        p.say('Signed. No next study on your worklist.');
      }
      await p.refresh();
    } catch (err) {
      if (err.code === 'unfilled_fields') {
        this.ask('Some fields are still blank.', err.message, [
          ['sign-anyway', 'Sign anyway', () => this.sign(level, andNext, true), 'primary'],
          ['fill-fields', 'Fill them', () => p.editor?.jumpField(1) && p.editor.focus()],
        ]);
        return;
      }
      p.say(err.message, 'error');
    }
  }

  async saveVersion() {
    const p = this.panel;
    try {
      await p.settle();
      const version = await api.saveVersion(p.report.id);
      p.say(`Saved as version ${version.number}.`);
      await p.refresh();
      if (this.versions.open) await this.versions.show(p.report);
    } catch (err) {
      p.say(err.message, 'error');
    }
  }

  async toggleVersions() {
    if (this.versions.open) this.versions.hide();
    else await this.versions.show(this.panel.report).catch((err) => this.panel.say(err.message, 'error'));
  }

  /** The resident sees what the attending changed once the report is signed final. */
  maybeShowChanges() {
    const r = this.panel.report;
    const me = this.panel.me.username;
    const mine = r.signers?.preliminary?.user?.username === me;
    const byOther = r.signers?.final && r.signers.final.user?.username !== me;
    if (mine && byOther && !this.shownChanges) {
      this.shownChanges = true;
      this.versions.show(r, { from: '', to: 'current' }).catch(() => {});
    }
  }

  async addAddendum() {
    const p = this.panel;
    try {
      const addendum = await api.addAddendum(p.original.id);
      p.original = await api.getReport(p.original.id);
      await p.edit(addendum);
      p.renderSwitcher();
      p.say('Addendum started: type it, then sign it.');
      await p.whenSynced();
      p.editor?.goToSection('ADDENDUM');
      p.editor?.focus();
    } catch (err) {
      p.say(err.message, 'error');
    }
  }
}
