/**
 * Critical results: flag a finding critical or urgent, record who was told (with
 * read-back), and the banner that stays until the communication is recorded.
 */
import { el } from '../dom.js';
import * as api from './report_data.js';

/** @typedef {import('./report_ui.js').ReportPanel} ReportPanel */

const METHODS = [
  ['phone', 'Phone'], ['in_person', 'In person'], ['page', 'Page'],
  ['secure_message', 'Secure message'], ['other', 'Other'],
];

export class CriticalResults {
  /** @param {ReportPanel} panel */
  constructor(panel) {
    this.panel = panel;
  }

  /** The toolbar's buttons: flag (not yet flagged) or record the communication (still open).
   * @param {(action: string, label: string, run: () => any, extra?: object) => HTMLElement} button */
  buttons(button) {
    const p = this.panel;
    const critical = p.original?.critical;
    const out = [];
    if (p.can('flag_critical') && !critical?.flagged) out.push(button('flag-critical', 'Flag critical', () => this.flagForm()));
    if (critical?.flagged && critical.open && p.can('record_communication')) {
      out.push(button('record-communication', 'Record communication', () => this.communicationForm()));
    }
    return out;
  }

  /** The banner above the toolbar: the finding, and who was told or that nobody was yet. */
  render() {
    const p = this.panel;
    const c = p.original?.critical;
    p.root.querySelector('.rr-critical')?.remove();
    if (!c?.flagged) return;
    const told = c.communications.map((m) => `${m.recipient} (${m.method.replace('_', ' ')}, ${new Date(m.communicated_at).toLocaleString()}${m.acknowledged ? ', read back' : ''})`);
    const node = el('div', { class: `rr-critical${c.open ? ' open' : ''}` },
      el('strong', {}, c.severity === 'urgent' ? 'Urgent' : 'Critical'), ` ${c.finding}`,
      el('div', { class: 'muted' }, c.open ? 'Not yet communicated with read-back.' : `Told: ${told.join('; ')}`));
    p.toolbar.before(node);
  }

  /** A form in the prompt area; ``submit`` runs on Enter or the primary button.
   * @param {HTMLElement[]} fields
   * @param {string} action the primary button's data-action
   * @param {string} label
   * @param {() => Promise<void>} submit */
  form(fields, action, label, submit) {
    const p = this.panel;
    const node = el('form', {
      class: 'rr-form',
      onsubmit: async (/** @type {Event} */ e) => {
        e.preventDefault();
        try {
          await submit();
        } catch (err) {
          p.say(err.message, 'error');
        }
      },
    }, ...fields, el('button', { type: 'submit', class: 'primary', dataset: { action } }, label),
    el('button', { type: 'button', onclick: () => p.prompt.replaceChildren() }, 'Cancel'));
    p.prompt.replaceChildren(node);
  }

  flagForm() {
    const p = this.panel;
    const finding = el('input', { type: 'text', name: 'finding', placeholder: 'Critical finding', 'aria-label': 'Critical finding' });
    const severity = el('select', { name: 'severity', 'aria-label': 'Severity' },
      el('option', { value: 'critical' }, 'Critical (immediate)'), el('option', { value: 'urgent' }, 'Urgent (same day)'));
    this.form([finding, severity], 'confirm-critical', 'Flag', async () => {
      p.original = await api.flagCritical(p.original.id, finding.value, severity.value);
      p.prompt.replaceChildren();
      await p.refresh();
      p.say('Flagged critical. Record who was told.');
    });
    finding.focus();
  }

  communicationForm() {
    const p = this.panel;
    const recipient = el('input', { type: 'text', name: 'recipient', placeholder: 'Who was told', 'aria-label': 'Recipient' });
    const method = el('select', { name: 'method', 'aria-label': 'How' },
      ...METHODS.map(([v, l]) => el('option', { value: v }, l)));
    const ack = el('input', { type: 'checkbox', name: 'acknowledged', checked: 'checked' });
    this.form([recipient, method, el('label', {}, ack, ' read back')], 'confirm-communication', 'Record', async () => {
      await api.recordCommunication(p.original.id, {
        recipient: recipient.value, method: method.value, acknowledged: ack.checked,
      });
      p.prompt.replaceChildren();
      await p.refresh();
    });
    recipient.focus();
  }
}
