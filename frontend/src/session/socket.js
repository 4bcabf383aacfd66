/**
 * The session's event stream: ``ws/sessions/<id>/?after=<seq>`` (docs/realtime.md, "Live
 * reading sessions"). It pings to stay open, reconnects by itself with back-off and
 * resumes after the last delivered ``seq``; messages are handed on one at a time, in
 * arrival order, each sequenced event once.
 */
import { leaveIfSignedOut } from '../sockets.js';

const FINAL_CLOSE_CODES = new Map([
  [4401, 'signed out'],
  [4403, 'no access'],
  [4404, 'no such session'],
  [4410, 'ended'],
]);
const PING_MS = 20000;

/**
 * @typedef {object} SocketDeps
 * @property {string} sessionId
 * @property {(message: any) => any} onMessage a message to apply (awaited before the next)
 * @property {(state: string, detail?: string) => void} onState 'connecting', 'reconnecting',
 *   'live', 'offline', 'ended' or 'closed' (with why)
 */

export class SessionSocket {
  /** @param {SocketDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** The last sequenced event delivered; a reconnection resumes after it. */
    this.lastSeq = 0;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.retries = 0;
    this.queue = Promise.resolve();
  }

  connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${window.location.host}/ws/sessions/${this.deps.sessionId}/?after=${this.lastSeq}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.deps.onState(this.retries ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      this.retries = 0;
      this.deps.onState('live');
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
      this.queue = this.queue.then(() => this.deliver(message)).catch((err) => {
        console.error('session: event failed', message.type, err);
      });
    };
    ws.onclose = (event) => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      if (leaveIfSignedOut(event.code)) return;
      const final = FINAL_CLOSE_CODES.get(event.code);
      if (final) {
        this.deps.onState(final === 'ended' ? 'ended' : 'closed', final);
        return;
      }
      this.deps.onState('offline');
      // Back off 0.5 s, 1 s, 2 s ... up to 10 s, with jitter; then resume after lastSeq.
      const delay = Math.min(10000, 500 * 2 ** this.retries) * (0.75 + Math.random() / 2);
      this.retries += 1;
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    };
  }

  /** Hand ``message`` on unless it is a sequenced event already delivered. */
  async deliver(message) {
    if (message.seq !== null && message.seq !== undefined) {
      if (message.seq <= this.lastSeq) return; // already applied
      this.lastSeq = message.seq;
    }
    await this.deps.onMessage(message);
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Drop the connection now (as a closing laptop lid would); it comes back by itself. */
  drop() {
    this.ws?.close();
  }
}
