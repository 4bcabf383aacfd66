/**
 * Impression suggestions: ask the AI engine to draft the impression from the findings,
 * wait for it, and offer it for the reader to insert (as is or edited) or discard.
 * A suggestion also arrives as the session's 'report.suggestion' event (index.js).
 */
import { el } from '../dom.js';
import * as api from './report_data.js';

/** @typedef {import('./report_ui.js').ReportPanel} ReportPanel */

export class ImpressionSuggestions {
  /** @param {ReportPanel} panel */
  constructor(panel) {
    this.panel = panel;
    this.node = el('div', { class: 'rr-suggestion' });
  }

  /** @param {(action: string, label: string, run: () => any, extra?: object) => HTMLElement} button */
  buttons(button) {
    return this.panel.can('draft_impression') ? [button('draft-impression', 'Draft impression', () => this.request())] : [];
  }

  async request() {
    const p = this.panel;
    try {
      await p.settle();
      const answer = await api.requestImpression(p.report.id);
      p.say('Drafting an impression from the findings…');
      this.waitFor(answer.suggestion?.id);
    } catch (err) {
      p.say(err.status === 503 ? 'No AI engine is available to draft an impression.' : err.message, 'error');
    }
  }

  /** Poll the report until suggestion ``id`` is drafted (or failed).
   * @param {string | number | undefined} id
   * @param {number} [tries] */
  async waitFor(id, tries = 60) {
    const p = this.panel;
    for (let i = 0; i < tries; i += 1) {
      const fresh = await api.getReport(p.report.id);
      const s = fresh.impression_suggestions?.find((x) => x.id === id);
      if (s && s.status !== 'requested') {
        p.report = { ...p.report, impression_suggestions: fresh.impression_suggestions };
        this.render();
        if (s.status === 'failed') p.say('The impression could not be drafted.', 'error');
        else p.say('');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }

  /** A suggestion pushed by the session's event.
   * @param {any} suggestion */
  show(suggestion) {
    const p = this.panel;
    const list = (p.report.impression_suggestions || []).filter((s) => s.id !== suggestion.id);
    p.report = { ...p.report, impression_suggestions: [suggestion, ...list] };
    this.render();
  }

  render() {
    const p = this.panel;
    const pending = (p.report?.impression_suggestions || []).find((s) => s.status === 'pending');
    if (!pending || !p.can('edit')) {
      this.node.replaceChildren();
      return;
    }
    const prov = pending.provenance || {};
    const box = el('textarea', { rows: '3', 'aria-label': 'Suggested impression' });
    box.value = pending.text;
    const origin = [prov.model, prov.random_weights ? 'RANDOM WEIGHTS: test model output, not a reading' : null]
      .filter(Boolean).join(' · ');
    const decide = async (/** @type {string} */ decision) => {
      try {
        const text = box.value;
        const kind = decision === 'rejected' ? 'rejected' : (text.trim() === pending.text.trim() ? 'accepted' : 'edited');
        await api.decideImpression(p.report.id, pending.id, kind, text);
        if (kind !== 'rejected') {
          p.editor.goToSection('IMPRESSION');
          p.editor.selectBlankInSection?.('IMPRESSION');
          p.editor.insert({ text, source: 'ai', meta: { join: 'line', suggestion: pending.id } });
        }
        await p.refresh();
      } catch (err) {
        p.say(err.message, 'error');
      }
    };
    this.node.replaceChildren(el('div', { class: 'rr-suggest' },
      el('div', { class: 'rr-suggest-head' }, 'Suggested impression', origin ? el('span', { class: 'muted' }, ` · ${origin}`) : null),
      box,
      el('div', {},
        el('button', { type: 'button', class: 'primary', dataset: { action: 'accept-impression' }, onclick: () => decide('accepted') }, 'Insert'),
        el('button', { type: 'button', dataset: { action: 'reject-impression' }, onclick: () => decide('rejected') }, 'Discard'))));
  }
}
