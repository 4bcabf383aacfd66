/**
 * The report's Yjs document over ``/ws/reports/<id>/`` (docs/realtime.md, "Report
 * co-editing"): the y-websocket protocol of y-protocols (sync step 1/2 and updates,
 * awareness, auth). Reconnects by itself; whatever was typed offline is in the local
 * document and goes to the server in the next sync step 2.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as authProtocol from 'y-protocols/auth';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';

import { leaveIfSignedOut } from '../sockets.js';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const MESSAGE_AUTH = 2;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_NOT_FOUND = 4404;
// Ask for what we may have missed (a dropped broadcast) every so often.
const RESYNC_MS = 15000;

export class ReportProvider {
  /**
   * @param {string} reportId
   * @param {import('yjs').Doc} doc
   * @param {{name: string, color: string, username: string}} user
   */
  constructor(reportId, doc, user) {
    this.reportId = reportId;
    this.doc = doc;
    this.awareness = new awarenessProtocol.Awareness(doc);
    this.awareness.setLocalStateField('user', { ...user, colorLight: `${user.color}33` });
    this.handlers = new Map();
    this.synced = false;
    this.denied = null;
    this.closed = false;
    this.attempt = 0;
    this.ws = null;

    this.onDocUpdate = (update, origin) => {
      if (origin === this) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeUpdate(encoder, update);
      this.send(encoding.toUint8Array(encoder));
    };
    this.onAwarenessUpdate = ({ added, updated, removed }, origin) => {
      if (origin === this) {
        // Somebody new: tell them who we are now rather than at our next renewal.
        if (added.some((id) => id !== doc.clientID)) this.sendAwareness([doc.clientID]);
        this.emit('presence', this.presence());
        return;
      }
      this.sendAwareness([...added, ...updated, ...removed]);
      this.emit('presence', this.presence());
    };
    this.onUnload = () => awarenessProtocol.removeAwarenessStates(this.awareness, [doc.clientID], 'unload');
    doc.on('update', this.onDocUpdate);
    this.awareness.on('update', this.onAwarenessUpdate);
    window.addEventListener('pagehide', this.onUnload);
    this.resync = setInterval(() => this.sendSyncStep1(), RESYNC_MS);
    this.connect();
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
  }

  emit(type, detail) {
    for (const handler of this.handlers.get(type) || []) handler(detail);
  }

  connect() {
    if (this.closed) return;
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${window.location.host}/ws/reports/${this.reportId}/`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.emit('status', 'connected');
      this.sendSyncStep1();
      if (this.awareness.getLocalState() !== null) this.sendAwareness([this.doc.clientID]);
    };
    ws.onmessage = (event) => this.receive(new Uint8Array(event.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.synced = false;
      // Everyone else's cursor is stale until we are back.
      const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID);
      awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
      if (leaveIfSignedOut(event.code) || event.code === CLOSE_FORBIDDEN || event.code === CLOSE_NOT_FOUND) {
        this.closed = true;
        this.emit('status', 'refused');
        return;
      }
      this.emit('status', 'disconnected');
      if (this.closed) return;
      const delay = Math.min(10000, 500 * 2 ** this.attempt++);
      this.retry = setTimeout(() => this.connect(), delay);
    };
  }

  receive(data) {
    const decoder = decoding.createDecoder(data);
    const encoder = encoding.createEncoder();
    const kind = decoding.readVarUint(decoder);
    if (kind === MESSAGE_SYNC) {
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      const step = syncProtocol.readSyncMessage(decoder, encoder, this.doc, this);
      if (encoding.length(encoder) > 1) this.send(encoding.toUint8Array(encoder));
      if (step === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        this.emit('synced', true);
      }
    } else if (kind === MESSAGE_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), this);
    } else if (kind === MESSAGE_AUTH) {
      authProtocol.readAuthMessage(decoder, this.doc, (_doc, reason) => {
        this.denied = reason;
        this.emit('denied', reason);
      });
    }
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(message);
  }

  sendSyncStep1() {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(encoder, this.doc);
    this.send(encoding.toUint8Array(encoder));
  }

  sendAwareness(clients) {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients));
    this.send(encoding.toUint8Array(encoder));
  }

  /** Who has this report open: ``[{clientId, name, color, username, self}]``. */
  presence() {
    const out = [];
    for (const [clientId, state] of this.awareness.getStates()) {
      if (state?.user) out.push({ clientId, ...state.user, self: clientId === this.doc.clientID });
    }
    return out;
  }

  /** Close the socket now; it comes back by itself (for tests, like a network drop). */
  drop() {
    this.ws?.close();
  }

  destroy() {
    this.closed = true;
    clearInterval(this.resync);
    clearTimeout(this.retry);
    window.removeEventListener('pagehide', this.onUnload);
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'destroy');
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    this.awareness.destroy();
    const ws = this.ws;
    this.ws = null;
    ws?.close();
  }
}
