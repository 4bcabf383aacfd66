/**
 * The report panel's head: status badge, title, who is editing now, the socket's
 * connection state, the dictation microphone and the links to the full page and the PDF.
 */
import { el } from '../dom.js';

/** @typedef {{name: string, username?: string, color: string, self?: boolean}} Person */

export class ReportHeader {
  /**
   * @param {{onMic: () => void, page: boolean}} options ``onMic`` toggles dictation;
   *   ``page``: the panel is the full report page (no "Full page" link)
   */
  constructor({ onMic, page }) {
    this.badge = el('span', { class: 'rr-badge', dataset: { status: 'none' } }, 'No report');
    this.title = el('span', { class: 'rr-title' }, 'Report');
    this.presenceList = el('span', { class: 'rr-presence', 'aria-label': 'Editing now' });
    this.connection = el('span', { class: 'rr-conn', title: 'Connection' });
    this.mic = el('button', {
      type: 'button', class: 'rr-mic', title: 'Dictate (F9)', 'aria-label': 'Dictate', onclick: onMic,
    }, 'Mic');
    this.pageLink = el('a', { class: 'rr-link', target: '_blank', rel: 'noopener', title: 'Open the report on its own page' }, 'Full page');
    this.pdfLink = el('a', { class: 'rr-link', target: '_blank', rel: 'noopener', title: 'Printable PDF' }, 'PDF');
    this.pageLink.hidden = page;
    this.pdfLink.hidden = true;
    /** @type {HTMLElement} */
    this.node = el('div', { class: 'rr-head' }, this.badge, this.title, this.presenceList, this.connection,
      el('span', { class: 'rr-spacer' }), this.mic, this.pageLink, this.pdfLink);
  }

  /** The study has no report yet. */
  showNone() {
    this.badge.textContent = 'No report';
    this.badge.dataset.status = 'none';
  }

  /** @param {any} report the report being edited (the API's representation) */
  show(report) {
    this.badge.textContent = report.status_label;
    this.badge.dataset.status = report.status;
    this.title.textContent = report.is_addendum ? 'Addendum' : 'Report';
    this.title.title = report.template?.name ? `Template: ${report.template.name}` : '';
    this.pageLink.href = report.links?.page || `/reports/${report.id}/`;
    this.pdfLink.href = report.links?.pdf || '';
    this.pdfLink.hidden = report.status === 'draft';
  }

  /** @param {string} status the provider's socket status */
  setConnection(status) {
    this.connection.dataset.status = status;
    this.connection.title = status;
  }

  /** @param {Person[]} people */
  setPresence(people) {
    this.presenceList.replaceChildren(...people.map((p) => el('span', {
      class: `rr-person${p.self ? ' self' : ''}`,
      title: p.self ? `${p.name} (you)` : `${p.name} is editing`,
      dataset: { username: p.username || '' },
      style: `--c:${p.color}`,
    }, p.name)));
  }

  /** The microphone follows the dictation feature's state ('listening', 'starting', ...).
   * @param {string | null | undefined} state */
  setDictationState(state) {
    this.mic.hidden = false;
    this.mic.classList.toggle('on', state === 'listening' || state === 'starting');
    this.mic.dataset.state = String(state || '');
  }
}
