/**
 * The live session's panel at the top of the side bar: the connection, the people and who
 * presents (hand over), invite by name or link, ask to present, end, follow the
 * presenter, and the chat. It draws what the session client (session.js) holds when the
 * client says so (``changed``, ``connection``, ``loaded``) and calls it for what the
 * reader does.
 */
import { el } from '../dom.js';
import { request } from '../http.js';

const CONNECTION_LABELS = {
  connecting: 'Connecting',
  live: 'Live',
  offline: 'Offline, reconnecting',
  reconnecting: 'Reconnecting',
  ended: 'Ended',
};

/**
 * @typedef {object} PanelDeps
 * @property {import('./session.js').SessionClient} client
 * @property {HTMLElement} sidebar where the panel goes (first)
 * @property {(message: string) => void} notify
 */

export class SessionPanel {
  /** @param {PanelDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {any[]} the study's possible readers (worklist API), for the invite list */
    this.readers = [];
  }

  /** Build the panel, show it and follow the client's events. */
  mount() {
    const { client } = this.deps;
    this.status = el('span', { class: 'rr-session-status', 'data-state': 'connecting' }, 'Connecting');
    this.people = el('ul', { class: 'rr-session-people' });
    this.followBox = el('input', { type: 'checkbox', checked: true, 'data-action': 'follow' });
    this.followBox.addEventListener('change', () => {
      // The box gives the focus back, so Space, the arrows and the other keys drive the
      // viewer again instead of toggling following.
      this.followBox.blur();
      client.setFollowing(this.followBox.checked);
    });
    this.requestButton = el('button', { type: 'button', 'data-action': 'request-presenter' }, 'Ask to present');
    this.requestButton.addEventListener('click', () => client.send({ type: 'presenter.request' }));
    // Invite a colleague by name, or share the link (it works for readers of the study).
    this.inviteSelect = el('select', { 'aria-label': 'Colleague to invite', 'data-field': 'invitee' },
      el('option', { value: '' }, 'Invite a colleague…'));
    this.inviteButton = el('button', { type: 'button', 'data-action': 'invite' }, 'Invite');
    this.inviteButton.addEventListener('click', () => this.invite());
    this.linkInput = el('input', {
      type: 'text', readonly: true, class: 'rr-session-link', 'aria-label': 'Invite link', 'data-field': 'invite-link',
    });
    this.copyButton = el('button', { type: 'button', 'data-action': 'copy-link' }, 'Copy invite link');
    this.copyButton.addEventListener('click', () => this.copyLink());
    this.endButton = el('button', { type: 'button', 'data-action': 'end-session', hidden: true }, 'End session');
    this.endButton.addEventListener('click', () => this.end());
    this.node = el(
      'section',
      { class: 'rr-session', 'aria-label': 'Live session' },
      el('div', { class: 'vw-side-title' }, 'Live session ', this.status),
      this.people,
      el('div', { class: 'rr-session-invite' }, this.inviteSelect, this.inviteButton),
      this.linkInput,
      el('div', { class: 'rr-session-actions' }, this.copyButton, this.requestButton, this.endButton),
      el('label', { class: 'rr-session-follow' }, this.followBox, ' Follow the presenter'),
      client.chat.log,
      client.chat.form,
    );
    this.deps.sidebar.prepend(this.node);
    client.on('changed', () => this.render());
    client.on('connection', ({ state, detail }) => this.showConnection(state, detail));
    client.on('loaded', () => this.loadReaders());
  }

  showConnection(state, detail = '') {
    this.status.dataset.state = state;
    this.status.textContent = state === 'closed' ? `Closed (${detail})` : CONNECTION_LABELS[state] || state;
  }

  async loadReaders() {
    try {
      this.readers = await request('GET', '/api/worklist/readers/');
    } catch {
      this.readers = [];
    }
    this.renderInvite();
  }

  renderInvite() {
    const { client } = this.deps;
    const inSession = new Set(client.participants.keys());
    const options = (this.readers || [])
      .filter((r) => r.username !== client.me && !inSession.has(r.username))
      .map((r) => el('option', { value: r.username }, `${r.name} (${r.role})`));
    const chosen = this.inviteSelect.value;
    this.inviteSelect.replaceChildren(el('option', { value: '' }, 'Invite a colleague…'), ...options);
    if (options.some((o) => o.value === chosen)) this.inviteSelect.value = chosen;
  }

  async invite() {
    const username = this.inviteSelect.value;
    if (!username) return;
    try {
      await this.deps.client.invite(username);
      const who = this.inviteSelect.selectedOptions[0]?.textContent || username;
      this.deps.notify(`Invited ${who}`);
      this.inviteSelect.value = '';
    } catch (err) {
      this.deps.notify(`Could not invite (${err.status || err.message})`);
    }
  }

  async copyLink() {
    const link = this.deps.client.inviteLink();
    this.linkInput.value = link;
    try {
      await navigator.clipboard.writeText(link);
      this.deps.notify('Invite link copied');
    } catch {
      this.linkInput.select(); // the clipboard is refused: leave it selected to copy by hand
      this.deps.notify('Invite link selected: copy it with Ctrl+C');
    }
  }

  async end() {
    try {
      await this.deps.client.end();
    } catch (err) {
      this.deps.notify(`Could not end the session (${err.status || err.message})`);
    }
  }

  render() {
    const { client } = this.deps;
    const session = client.session;
    if (!session) return;
    const presenter = session.presenter?.username;
    const mayHandOver = client.isHost || client.isPresenter;
    this.people.replaceChildren(
      ...[...client.participants.values()].map((p) => {
        const item = el(
          'li',
          { 'data-username': p.user.username, 'data-state': p.state },
          el('span', { class: 'rr-swatch', style: `background:${p.colour}` }),
          el('span', { class: 'rr-name' }, p.user.display_name),
          el('span', { class: 'rr-role' }, p.role),
          p.user.username === presenter ? el('span', { class: 'rr-badge' }, 'presenting') : null,
          p.state !== 'active' ? el('span', { class: 'rr-presence' }, p.state) : null,
        );
        if (mayHandOver && p.user.username !== presenter && p.state !== 'offline') {
          const hand = el('button', { type: 'button', 'data-action': 'make-presenter' }, 'Hand over');
          hand.addEventListener('click', () => client.send({ type: 'presenter.set', user_id: p.user.id }));
          item.append(hand);
        }
        return item;
      }),
    );
    const active = session.status === 'active';
    this.requestButton.hidden = client.isPresenter || !active;
    this.followBox.disabled = client.isPresenter;
    this.endButton.hidden = !client.isHost || !active;
    this.inviteSelect.disabled = !active;
    this.inviteButton.disabled = !active;
    this.copyButton.disabled = !active;
    if (!this.linkInput.value) {
      this.linkInput.value = client.inviteLink();
      this.linkInput.title = 'Works for colleagues who may read this study';
    }
    this.renderInvite();
  }
}
