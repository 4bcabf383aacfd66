/**
 * Live reading sessions in the viewer (protocol: docs/realtime.md, "Live reading sessions").
 *
 * The session client loads the session over REST, then follows its event stream
 * (socket.js): shared annotations are applied through the viewer's
 * ``applyAnnotation``/``removeAnnotation``, the presenter's viewport through
 * ``applyViewport``; events are applied one at a time, in order, each once. It holds the
 * session's state (participants, presenter, following) and tells the panel (panel.js)
 * through its events: ``changed``, ``connection`` {state, detail}, ``loaded``. Presence
 * and the pointer are presence.js's, the chat chat.js's.
 */
import { Emitter } from '../emitter.js';
import { request } from '../http.js';
import { SessionChat } from './chat.js';
import { SessionPanel } from './panel.js';
import { Presence } from './presence.js';
import { SessionSocket } from './socket.js';
import './session.css';

export class SessionClient extends Emitter {
  constructor(viewer, sessionId) {
    super();
    this.viewer = viewer;
    this.id = sessionId;
    this.me = viewer.config.user?.username;
    this.session = null;
    this.participants = new Map(); // username -> participant payload
    this.following = true;
    this.connection = 'connecting';
    this.applied = { annotations: 0, viewports: 0 };
    this.socket = new SessionSocket({
      sessionId,
      onMessage: (message) => this.handle(message),
      onState: (state, detail) => this.setConnection(state, detail),
    });
    const send = (message) => this.send(message);
    this.presence = new Presence({
      send,
      isPresenter: () => this.isPresenter,
      stage: viewer.stage,
      root: viewer.root,
    });
    this.chat = new SessionChat({ sessionId, send });
  }

  get isPresenter() {
    return this.session?.presenter?.username === this.me;
  }

  get isHost() {
    return this.session?.host?.username === this.me;
  }

  /** The last applied event's ``seq``; the socket resumes after it. */
  get lastSeq() {
    return this.socket.lastSeq;
  }

  async start() {
    this.session = await request('GET', `/api/sessions/${this.id}/`);
    this.socket.lastSeq = this.session.last_seq;
    for (const p of this.session.participants) this.participants.set(p.user.username, p);
    this.emit('changed');
    this.emit('loaded');
    await this.chat.load();
    if (this.session.status !== 'active') {
      this.setConnection('ended');
      return this;
    }
    if (!this.isPresenter && this.session.viewport?.viewportId) {
      await this.followViewport(this.session.viewport);
    }
    this.viewer.on('viewport-changed', (state) => this.onLocalViewport(state));
    this.presence.start();
    this.socket.connect();
    return this;
  }

  send(message) {
    this.socket.send(message);
  }

  /** Drop the connection now (as a closing laptop lid would); it comes back by itself. */
  drop() {
    this.socket.drop();
  }

  setConnection(state, detail = '') {
    this.connection = state;
    this.emit('connection', { state, detail });
  }

  // ---- events from the session (in order, each once: socket.js) --------------------------

  async handle(message) {
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
        this.presence.showPointer(p);
        return;
      case 'annotation.created':
      case 'annotation.updated':
      case 'annotation.reviewed':
      case 'annotation.deleted':
        await this.applyAnnotation(p);
        break;
      case 'chat.message':
        this.chat.add(p);
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
    this.emit('changed');
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

  // ---- following the presenter ------------------------------------------------------------

  async followViewport(state) {
    await this.viewer.applyViewport(state);
    this.applied.viewports += 1;
  }

  /** Follow the presenter or not; following again snaps back to the presenter's view. */
  setFollowing(on) {
    this.following = on;
    if (this.following && this.session?.viewport?.viewportId) {
      this.followViewport(this.session.viewport); // snap back
    }
  }

  /** The presenter's own view changes go out to the others. */
  onLocalViewport(state) {
    if (state.remote || !this.isPresenter || this.session?.status !== 'active') return;
    this.send({ type: 'viewport.update', viewport: state });
  }

  // ---- what the panel asks of the session -------------------------------------------------

  invite(username) {
    return request('POST', `/api/sessions/${this.id}/invite/`, { usernames: [username] });
  }

  inviteLink() {
    return this.session ? new URL(this.session.invite_url, window.location.origin).href : '';
  }

  async end() {
    this.session = await request('POST', `/api/sessions/${this.id}/end/`);
    this.setConnection('ended');
    this.emit('changed');
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
  const panel = new SessionPanel({ client, sidebar: viewer.sidebar || viewer.root, notify: (m) => viewer.notify(m) });
  panel.mount();
  try {
    await client.start();
  } catch (err) {
    client.setConnection('closed', err.status === 403 || err.status === 404 ? 'no access' : 'error');
    viewer.notify(`Could not join the session (${err.status || err.message})`);
  }
  return client;
}
