/**
 * The viewer's "Session" toolbar control: start a live reading session on this study,
 * or join one that is running (REST: docs/realtime.md, "Live reading sessions").
 *
 * Loaded on every viewer page; the session client itself (session.js) is loaded only
 * when the URL names a session.
 */
import { el } from '../dom.js';
import { request } from '../http.js';
import './session.css';

/** This page's URL with ``?session=<id>`` (other parameters kept, ``join``/``readonly`` dropped). */
export function sessionUrl(sessionId) {
  const url = new URL(window.location.href);
  url.searchParams.delete('join');
  url.searchParams.delete('readonly');
  if (sessionId) url.searchParams.set('session', sessionId);
  else url.searchParams.delete('session');
  return url.pathname + url.search + url.hash;
}

const activeSessions = (studyUid) =>
  request('GET', `/api/sessions/?status=active&study=${encodeURIComponent(studyUid)}`).then(
    (body) => body.results || body,
  );

export class SessionLauncher {
  constructor(viewer, { sessionId = null } = {}) {
    this.viewer = viewer;
    this.sessionId = sessionId;
    this.studyUid = viewer.config.studyUid;
    this.me = viewer.config.user?.username;
  }

  install() {
    this.button = el(
      'button',
      { type: 'button', 'data-action': 'session-menu', title: 'Live session: start or join (J)',
        'aria-haspopup': 'menu', 'aria-expanded': 'false' },
      this.sessionId ? '● Session' : 'Session',
    );
    if (this.sessionId) this.button.classList.add('rr-live-on');
    this.button.addEventListener('click', (e) => {
      e.currentTarget.blur();
      this.toggle();
    });
    this.menu = el('div', { class: 'rr-session-menu', role: 'menu', hidden: true });
    const group = el('div', { class: 'vw-group rr-session-group', 'aria-label': 'Session' }, this.button, this.menu);
    this.viewer.toolbar.append(group);
    document.addEventListener('pointerdown', (e) => {
      if (!this.menu.hidden && !group.contains(e.target)) this.toggle(false);
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !this.menu.hidden) this.toggle(false);
    });
    this.viewer.toggleSessionMenu = (show) => this.toggle(show);
    return this;
  }

  async toggle(show = this.menu.hidden) {
    this.menu.hidden = !show;
    this.button.setAttribute('aria-expanded', String(show));
    if (show) await this.fill();
  }

  item(action, label, onclick) {
    const b = el('button', { type: 'button', role: 'menuitem', 'data-action': action }, label);
    b.addEventListener('click', onclick);
    return b;
  }

  async fill() {
    this.menu.replaceChildren(el('div', { class: 'rr-menu-note' }, 'Looking for live sessions…'));
    let sessions;
    try {
      sessions = await activeSessions(this.studyUid);
    } catch (err) {
      this.menu.replaceChildren(el('div', { class: 'rr-menu-note' }, `Sessions unavailable (${err.status || err.message})`));
      return;
    }
    const items = [];
    if (this.sessionId) {
      items.push(this.item('leave-session', 'Leave live session', () => {
        window.location.href = sessionUrl(null);
      }));
    } else {
      items.push(this.item('start-session', 'Start live session', () => this.start()));
    }
    for (const s of sessions) {
      if (s.id === this.sessionId) continue;
      const host = s.host.username === this.me ? 'your' : `${s.host.display_name}'s`;
      const people = s.participants.filter((p) => p.state !== 'offline').length;
      const b = this.item('join-session', `Join ${host} session`, () => {
        window.location.href = sessionUrl(s.id);
      });
      b.dataset.sessionId = s.id;
      b.append(el('span', { class: 'rr-menu-meta' }, ` ${people} in`));
      items.push(b);
    }
    if (!sessions.length && !this.sessionId) {
      items.push(el('div', { class: 'rr-menu-note', 'data-note': 'none' }, 'No live session on this study yet — start one?'));
    }
    this.menu.replaceChildren(...items);
    this.menu.querySelector('button')?.focus();
  }

  async start() {
    try {
      const session = await request('POST', '/api/sessions/', { study_instance_uid: this.studyUid });
      window.location.href = sessionUrl(session.id);
    } catch (err) {
      this.viewer.notify(`Could not start a live session (${err.status || err.message})`);
    }
  }

  /** ``?join=1``: go to the study's active session, or say plainly that there is none. */
  async joinActive() {
    let sessions;
    try {
      sessions = await activeSessions(this.studyUid);
    } catch (err) {
      this.viewer.notify(`Could not look for a live session (${err.status || err.message})`);
      return null;
    }
    if (sessions.length) {
      window.location.replace(sessionUrl(sessions[0].id));
      return sessions[0];
    }
    this.viewer.notify('No live session on this study yet — start one? Opened read-only.');
    await this.toggle(true);
    return null;
  }
}

export function installSessionControl(viewer, options) {
  const launcher = new SessionLauncher(viewer, options).install();
  window.readingSessionLauncher = launcher;
  return launcher;
}
