/**
 * Live reading sessions in the viewer (protocol: docs/realtime.md, "Live reading sessions").
 *
 * Loads the session over REST, then follows its event stream on
 * ``ws/sessions/<id>/?after=<seq>``: shared annotations are applied through the viewer's
 * ``applyAnnotation``/``removeAnnotation``, the presenter's viewport through
 * ``applyViewport``. The socket reconnects by itself and resumes from the last applied
 * ``seq``; events are applied one at a time, in order, each once.
 */
import { request } from '../http.js';
import { leaveIfSignedOut } from '../sockets.js';
import { el } from './launcher.js';
import './session.css';

const FINAL_CLOSE_CODES = new Map([
  [4401, 'signed out'],
  [4403, 'no access'],
  [4404, 'no such session'],
  [4410, 'ended'],
]);
const PING_MS = 20000;
const IDLE_MS = 5 * 60 * 1000;

export class SessionClient {
  constructor(viewer, sessionId) {
    this.viewer = viewer;
    this.id = sessionId;
    this.me = viewer.config.user?.username;
    this.lastSeq = 0;
    this.session = null;
    this.participants = new Map(); // username -> participant payload
    this.following = true;
    this.connection = 'connecting';
    this.ws = null;
    this.retries = 0;
    this.queue = Promise.resolve();
    this.applied = { annotations: 0, viewports: 0 };
    this.pointers = new Map();
    this.lastActivity = Date.now();
    this.idle = false;
  }

  get isPresenter() {
    return this.session?.presenter?.username === this.me;
  }

  get isHost() {
    return this.session?.host?.username === this.me;
  }

  async start() {
    this.buildUi();
    this.session = await request('GET', `/api/sessions/${this.id}/`);
    this.lastSeq = this.session.last_seq;
    for (const p of this.session.participants) this.participants.set(p.user.username, p);
    this.render();
    this.loadReaders();
    await this.loadChat();
    if (this.session.status !== 'active') {
      this.setConnection('ended');
      return this;
    }
    if (!this.isPresenter && this.session.viewport?.viewportId) {
      await this.followViewport(this.session.viewport);
    }
    this.viewer.on('viewport-changed', (state) => this.onLocalViewport(state));
    for (const type of ['pointermove', 'keydown', 'wheel']) {
      window.addEventListener(type, () => this.onActivity(), { passive: true });
    }
    this.viewer.stage?.addEventListener('pointermove', (e) => this.onPointer(e));
    setInterval(() => this.checkIdle(), 30000);
    this.connect();
    return this;
  }

  // ---- the socket ----------------------------------------------------------------------

  connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${window.location.host}/ws/sessions/${this.id}/?after=${this.lastSeq}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setConnection(this.retries ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      this.retries = 0;
      this.setConnection('live');
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: 'ping' }), PING_MS);
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      // One at a time, in arrival order: applying an annotation awaits image lookups.
      this.queue = this.queue.then(() => this.handle(message)).catch((err) => {
        console.error('session: event failed', message.type, err);
      });
    };
    ws.onclose = (event) => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      if (leaveIfSignedOut(event.code)) return;
      const final = FINAL_CLOSE_CODES.get(event.code);
      if (final) {
        this.setConnection(final === 'ended' ? 'ended' : 'closed', final);
        return;
      }
      this.setConnection('offline');
      // Back off 0.5 s, 1 s, 2 s ... up to 10 s, with jitter; then resume after lastSeq.
      const delay = Math.min(10000, 500 * 2 ** this.retries) * (0.75 + Math.random() / 2);
      this.retries += 1;
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Drop the connection now (as a closing laptop lid would); it comes back by itself. */
  drop() {
    this.ws?.close();
  }

  // ---- events from the session ---------------------------------------------------------

  async handle(message) {
    if (message.seq !== null && message.seq !== undefined) {
      if (message.seq <= this.lastSeq) return; // already applied
      this.lastSeq = message.seq;
    }
    const p = message.payload || {};
    switch (message.type) {
      case 'session.state':
        this.session = p;
        this.participants = new Map(p.participants.map((x) => [x.user.username, x]));
        break;
      case 'participant.joined':
      case 'participant.left':
      case 'participant.idle':
      case 'participant.active':
        this.participants.set(p.user.username, p);
        if (message.type !== 'participant.idle' && message.type !== 'participant.active') {
          const verb = message.type === 'participant.joined' ? 'joined' : 'left';
          if (p.user.username !== this.me) this.viewer.notify(`${p.user.display_name} ${verb}`);
        }
        break;
      case 'presenter.changed':
        this.session.presenter = p.presenter;
        this.viewer.notify(`${p.presenter.display_name} presents`);
        break;
      case 'presenter.requested':
        if (this.isPresenter || this.isHost) {
          this.viewer.notify(`${p.user.display_name} asks to present`);
          this.requests = new Set([...(this.requests || []), p.user.username]);
        }
        break;
      case 'viewport.changed':
        if (p.viewport && !this.isPresenter) {
          this.session.viewport = p.viewport;
          if (this.following) await this.followViewport(p.viewport);
        }
        break;
      case 'pointer.moved':
        this.showPointer(p);
        return;
      case 'annotation.created':
      case 'annotation.updated':
      case 'annotation.reviewed':
      case 'annotation.deleted':
        await this.applyAnnotation(p);
        break;
      case 'chat.message':
        this.addChat(p);
        break;
      case 'session.ended':
        this.session.status = 'ended';
        this.viewer.notify('The session has ended');
        break;
      case 'error':
        console.warn('session: server error', p);
        if (p.code !== 'rate_limited') this.viewer.notify(`Session: ${p.detail}`);
        return;
      default:
        // dictation.*, ai.*, report.*: the feature panels listen (main.js).
        if (message.type !== 'ack' && message.type !== 'pong') this.viewer.emit('session-event', message);
        return;
    }
    this.render();
  }

  async applyAnnotation(record) {
    const sync = this.viewer.annotations;
    // Our own drawing may still be on its way to the server: wait, so the event for it
    // finds it known instead of drawing it twice.
    if (sync.pending.size) await Promise.allSettled([...sync.pending.values()]);
    const uid = sync.byServer.get(String(record.id));
    const local = uid && sync.byLocal.get(uid);
    if (record.deleted_at) {
      if (uid) this.viewer.removeAnnotation(record.id);
    } else if (!local || (record.version || 0) > (local.version || 0)) {
      // Last writer wins: a higher version replaces what is shown.
      await this.viewer.applyAnnotation(record);
    } else {
      return;
    }
    this.applied.annotations += 1;
  }

  async followViewport(state) {
    await this.viewer.applyViewport(state);
    this.applied.viewports += 1;
  }

  // ---- what this user does -------------------------------------------------------------

  onLocalViewport(state) {
    if (state.remote || !this.isPresenter || this.session?.status !== 'active') return;
    this.send({ type: 'viewport.update', viewport: state });
  }

  onActivity() {
    this.lastActivity = Date.now();
    if (this.idle) {
      this.idle = false;
      this.send({ type: 'presence', state: 'active' });
    }
  }

  checkIdle() {
    if (!this.idle && Date.now() - this.lastActivity > IDLE_MS) {
      this.idle = true;
      this.send({ type: 'presence', state: 'idle' });
    }
  }

  onPointer(event) {
    if (!this.isPresenter || !event.altKey) return; // Alt + move points for the others
    const cell = event.target.closest?.('.vw-cell');
    if (!cell) return;
    const rect = cell.getBoundingClientRect();
    this.send({
      type: 'pointer.move',
      pointer: {
        viewportId: cell.dataset.viewportId,
        x: (event.clientX - rect.left) / rect.width,
        y: (event.clientY - rect.top) / rect.height,
      },
    });
  }

  showPointer(payload) {
    const { pointer, colour, user } = payload;
    const cell = this.viewer.root.querySelector(`.vw-cell[data-viewport-id="${pointer?.viewportId}"]`);
    if (!cell || typeof pointer.x !== 'number' || typeof pointer.y !== 'number') return;
    let dot = this.pointers.get(user);
    if (!dot) {
      dot = el('div', { class: 'rr-pointer' });
      this.pointers.set(user, dot);
    }
    if (dot.parentNode !== cell) cell.append(dot);
    dot.style.background = colour;
    dot.style.left = `${pointer.x * 100}%`;
    dot.style.top = `${pointer.y * 100}%`;
    clearTimeout(dot.timer);
    dot.timer = setTimeout(() => dot.remove(), 2000);
  }

  // ---- the panel -----------------------------------------------------------------------

  buildUi() {
    this.status = el('span', { class: 'rr-session-status', 'data-state': 'connecting' }, 'Connecting');
    this.people = el('ul', { class: 'rr-session-people' });
    this.followBox = el('input', { type: 'checkbox', checked: true, 'data-action': 'follow' });
    this.followBox.addEventListener('change', () => {
      // The box gives the focus back, so Space, the arrows and the other keys drive the
      // viewer again instead of toggling following.
      this.followBox.blur();
      this.following = this.followBox.checked;
      if (this.following && this.session?.viewport?.viewportId) {
        this.followViewport(this.session.viewport); // snap back
      }
    });
    this.requestButton = el('button', { type: 'button', 'data-action': 'request-presenter' }, 'Ask to present');
    this.requestButton.addEventListener('click', () => this.send({ type: 'presenter.request' }));
    this.chatLog = el('ol', { class: 'rr-session-chat' });
    this.chatInput = el('input', { type: 'text', maxlength: 4000, placeholder: 'Message', 'aria-label': 'Chat message' });
    const chatForm = el('form', { class: 'rr-session-chat-form' }, this.chatInput);
    chatForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.chatInput.value.trim();
      if (text) this.send({ type: 'chat.send', text });
      this.chatInput.value = '';
    });
    // Typing in the chat must not drive the viewer's keyboard shortcuts.
    this.chatInput.addEventListener('keydown', (e) => e.stopPropagation());
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
    this.panel = el(
      'section',
      { class: 'rr-session', 'aria-label': 'Live session' },
      el('div', { class: 'vw-side-title' }, 'Live session ', this.status),
      this.people,
      el('div', { class: 'rr-session-invite' }, this.inviteSelect, this.inviteButton),
      this.linkInput,
      el('div', { class: 'rr-session-actions' }, this.copyButton, this.requestButton, this.endButton),
      el('label', { class: 'rr-session-follow' }, this.followBox, ' Follow the presenter'),
      this.chatLog,
      chatForm,
    );
    const sidebar = this.viewer.sidebar || this.viewer.root;
    sidebar.prepend(this.panel);
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
    const inSession = new Set(this.participants.keys());
    const options = (this.readers || [])
      .filter((r) => r.username !== this.me && !inSession.has(r.username))
      .map((r) => el('option', { value: r.username }, `${r.name} (${r.role})`));
    const chosen = this.inviteSelect.value;
    this.inviteSelect.replaceChildren(el('option', { value: '' }, 'Invite a colleague…'), ...options);
    if (options.some((o) => o.value === chosen)) this.inviteSelect.value = chosen;
  }

  async invite() {
    const username = this.inviteSelect.value;
    if (!username) return;
    try {
      await request('POST', `/api/sessions/${this.id}/invite/`, { usernames: [username] });
      const who = this.inviteSelect.selectedOptions[0]?.textContent || username;
      this.viewer.notify(`Invited ${who}`);
      this.inviteSelect.value = '';
    } catch (err) {
      this.viewer.notify(`Could not invite (${err.status || err.message})`);
    }
  }

  inviteLink() {
    return this.session ? new URL(this.session.invite_url, window.location.origin).href : '';
  }

  async copyLink() {
    const link = this.inviteLink();
    this.linkInput.value = link;
    try {
      await navigator.clipboard.writeText(link);
      this.viewer.notify('Invite link copied');
    } catch {
      this.linkInput.select(); // the clipboard is refused: leave it selected to copy by hand
      this.viewer.notify('Invite link selected: copy it with Ctrl+C');
    }
  }

  async end() {
    try {
      this.session = await request('POST', `/api/sessions/${this.id}/end/`);
      this.setConnection('ended');
      this.render();
    } catch (err) {
      this.viewer.notify(`Could not end the session (${err.status || err.message})`);
    }
  }

  setConnection(state, detail = '') {
    this.connection = state;
    const labels = {
      connecting: 'Connecting',
      live: 'Live',
      offline: 'Offline, reconnecting',
      reconnecting: 'Reconnecting',
      ended: 'Ended',
      closed: `Closed (${detail})`,
    };
    this.status.dataset.state = state;
    this.status.textContent = labels[state] || state;
  }

  render() {
    if (!this.session) return;
    const presenter = this.session.presenter?.username;
    this.people.replaceChildren(
      ...[...this.participants.values()].map((p) => {
        const item = el(
          'li',
          { 'data-username': p.user.username, 'data-state': p.state },
          el('span', { class: 'rr-swatch', style: `background:${p.colour}` }),
          el('span', { class: 'rr-name' }, p.user.display_name),
          el('span', { class: 'rr-role' }, p.role),
          p.user.username === presenter ? el('span', { class: 'rr-badge' }, 'presenting') : null,
          p.state !== 'active' ? el('span', { class: 'rr-presence' }, p.state) : null,
        );
        if ((this.isHost || this.isPresenter) && p.user.username !== presenter && p.state !== 'offline') {
          const hand = el('button', { type: 'button', 'data-action': 'make-presenter' }, 'Hand over');
          hand.addEventListener('click', () => this.send({ type: 'presenter.set', user_id: p.user.id }));
          item.append(hand);
        }
        return item;
      }),
    );
    const active = this.session.status === 'active';
    this.requestButton.hidden = this.isPresenter || !active;
    this.followBox.disabled = this.isPresenter;
    this.endButton.hidden = !this.isHost || !active;
    this.inviteSelect.disabled = !active;
    this.inviteButton.disabled = !active;
    this.copyButton.disabled = !active;
    if (!this.linkInput.value) {
      this.linkInput.value = this.inviteLink();
      this.linkInput.title = 'Works for colleagues who may read this study';
    }
    if (this.inviteSelect) this.renderInvite();
  }

  /** The study's chat so far (a reload keeps the history); events add to it after. */
  async loadChat() {
    try {
      let url = `/api/sessions/${this.id}/chat/`;
      while (url) {
        const body = await request('GET', url);
        for (const message of Array.isArray(body) ? body : body?.results || []) this.addChat(message);
        url = Array.isArray(body) ? null : body?.next;
      }
    } catch (err) {
      console.warn('session: chat history not loaded', err);
    }
  }

  addChat(message) {
    // History and the live event of the same message (a resume after a reload) show once.
    this.chatIds = this.chatIds || new Set();
    if (message.id !== undefined) {
      if (this.chatIds.has(String(message.id))) return;
      this.chatIds.add(String(message.id));
    }
    const who = message.author?.display_name || 'Someone';
    this.chatLog.append(el('li', {}, el('b', {}, `${who}: `), message.text));
    this.chatLog.scrollTop = this.chatLog.scrollHeight;
  }

  /** For tests and debugging. */
  state() {
    return {
      connection: this.connection,
      lastSeq: this.lastSeq,
      presenter: this.session?.presenter?.username || null,
      isPresenter: this.isPresenter,
      following: this.following,
      participants: [...this.participants.values()].map((p) => ({
        username: p.user.username,
        state: p.state,
        colour: p.colour,
      })),
      applied: { ...this.applied },
    };
  }
}

export async function startSession(viewer, sessionId) {
  const client = new SessionClient(viewer, sessionId);
  window.readingSession = client;
  viewer.session = client;
  try {
    await client.start();
  } catch (err) {
    client.setConnection('closed', err.status === 403 || err.status === 404 ? 'no access' : 'error');
    viewer.notify(`Could not join the session (${err.status || err.message})`);
  }
  return client;
}
