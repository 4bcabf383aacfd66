/**
 * Versions and the diff between two of them (or a version and the current text):
 * insertions and deletions highlighted, so a resident sees what the attending changed.
 */
import { el } from '../dom.js';
import * as api from './report_data.js';

const REASON = { save: 'saved', sign_preliminary: 'signed preliminary', sign_final: 'signed final' };

export class VersionsView {
  constructor() {
    this.node = el('section', { class: 'rr-versions', hidden: true, 'aria-label': 'Versions' });
    this.open = false;
  }

  hide() {
    this.open = false;
    this.node.hidden = true;
  }

  /** Show the versions of ``report`` and a diff (default: the server's, from the last
   * preliminary signature to the current text). */
  async show(report, { from = '', to = 'current' } = {}) {
    this.open = true;
    this.node.hidden = false;
    this.report = report;
    const list = await api.versions(report.id);
    const option = (value, label) => el('option', { value: String(value) }, label);
    this.from = el('select', { 'aria-label': 'From version', onchange: () => this.compare() },
      option('', 'default'), ...list.map((v) => option(v.number, `v${v.number}`)));
    this.to = el('select', { 'aria-label': 'To version', onchange: () => this.compare() },
      option('current', 'current'), ...list.map((v) => option(v.number, `v${v.number}`)));
    this.from.value = String(from);
    this.to.value = String(to);
    this.diffNode = el('div', { class: 'rr-diff', 'aria-label': 'Changes' });
    const rows = list.slice().reverse().map((v) => el('li', {},
      el('span', { class: 'rr-vnum' }, `v${v.number}`), ' ',
      REASON[v.reason] || v.reason, ' · ', v.created_by?.name || v.created_by?.username || '', ' · ',
      el('time', { datetime: v.created_at }, new Date(v.created_at).toLocaleString())));
    this.node.replaceChildren(
      el('div', { class: 'rr-vhead' }, el('strong', {}, 'Versions'),
        el('label', {}, ' compare ', this.from), el('label', {}, ' with ', this.to),
        el('button', { type: 'button', class: 'link', onclick: () => this.hide() }, 'Close')),
      el('ul', { class: 'rr-vlist' }, rows.length ? rows : el('li', { class: 'muted' }, 'No saved versions yet.')),
      this.diffNode,
    );
    if (list.length) await this.compare();
  }

  async compare() {
    try {
      const answer = await api.diff(this.report.id, this.from.value, this.to.value);
      this.renderDiff(answer);
    } catch (err) {
      this.diffNode.replaceChildren(el('p', { class: 'muted' }, err.code === 'no_version'
        ? 'Nothing to compare yet.' : `No diff: ${err.message}`));
    }
  }

  renderDiff(answer) {
    const ops = answer.ops || [];
    const changed = ops.some((o) => o.op !== 'equal');
    const label = `v${answer.from} → ${answer.to === 'current' ? 'current' : `v${answer.to}`}`;
    this.diffNode.replaceChildren(
      el('div', { class: 'rr-diff-head' }, label, changed ? '' : ' · no changes'),
      el('pre', { class: 'rr-diff-text' }, ops.map((o) => {
        if (o.op === 'insert') return el('ins', {}, o.text);
        if (o.op === 'delete') return el('del', {}, o.text);
        return o.text;
      })),
    );
  }
}
