/**
 * Dictation, the data part: microphone capture, the dictation socket, resend after a
 * dropped connection, and the transcripts (protocol: docs/realtime.md, "Dictation socket").
 *
 * ``ws/dictation/<study uid>/?stream=<uuid>[&session=<id>]``: the client sends binary
 * frames (uint32 LE sequence number + int16 LE mono PCM at 16 kHz) and ``stop`` at the
 * end of an utterance; the server answers ``ready`` (with the last stored ``seq``), ``ack``,
 * ``partial``/``final`` transcripts, ``lag`` and ``error``. Every frame is kept until it is
 * acknowledged; a reconnect with the same stream id resends the rest, so a dropped
 * connection mid-sentence loses no audio and stores none twice.
 *
 * The UI (dictation_ui.js) listens to this object's events:
 *   'change'  {state, connection, ...}  anything the panel shows, except the level and text
 *   'level'   {rms, peak}               one per ~100 ms frame while listening
 *   'text'                              the transcripts changed
 *   'final'   {message}                 a finished segment of this speaker
 */
import { Emitter } from '../emitter.js';
import { leaveIfSignedOut } from '../sockets.js';
import { Capture } from './capture.js';
import { Transcript } from './transcript.js';

const FINAL_CLOSE_CODES = new Map([
  [4401, 'Signed out: reload the page to dictate.'],
  [4403, 'No access to this study, or signed out: reload the page.'],
  [4404, 'This study or session no longer exists.'],
  [4400, 'The dictation socket refused this page (bad stream id): reload the page.'],
]);
const PING_MS = 20000;
// Audio kept for resend while the server is out of reach: one hour at 32 kB/s.
const MAX_UNACKED_BYTES = 3600 * 16000 * 2;
const REMOTE_LINES = 6;

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; the page may be served over plain http.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class DictationStream extends Emitter {
  constructor({ studyUid, sessionId = null, me = null }) {
    super();
    this.studyUid = studyUid;
    this.sessionId = sessionId;
    this.me = me;
    this.streamId = uuid();
    this.state = 'idle'; // idle | starting | listening | stopping | error
    this.connection = 'connecting'; // connecting | live | offline | closed
    this.closedReason = null;
    this.model = null;
    this.error = null;
    this.lagSeconds = 0;
    this.seq = 0;
    this.acked = 0;
    this.unacked = []; // [{seq, data: ArrayBuffer}] in seq order
    this.unackedBytes = 0;
    this.stopsAfter = []; // seq numbers after which a not yet sent ``stop`` belongs
    this.ready = false;
    this.retries = 0;
    this.framesSent = 0;
    this.samples = 0; // int16 samples captured on this stream
    this.framesResent = 0;
    this.transcript = new Transcript();
    this.remote = new Map(); // speaker key -> {name, lines: [{key, text, final}]}
    this.finals = 0; // finals received for this stream
    this.lastFinal = 0; // the highest final ``n`` received (``finals=`` on reconnect)
    this.capture = new Capture((pcm, rms, peak) => this.onFrame(pcm, rms, peak));
  }

  // ---- the socket ----------------------------------------------------------------------

  url() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const params = new URLSearchParams({ stream: this.streamId });
    if (this.sessionId) params.set('session', this.sessionId);
    // Finals produced while we were away come again after ``ready``.
    if (this.lastFinal) params.set('finals', String(this.lastFinal));
    return `${scheme}://${window.location.host}/ws/dictation/${encodeURIComponent(this.studyUid)}/?${params}`;
  }

  connect() {
    const ws = new WebSocket(this.url());
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.ready = false;
    this.setConnection(this.retries ? 'offline' : 'connecting');
    ws.onopen = () => {
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.sendJson({ type: 'ping' }), PING_MS);
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(message);
    };
    ws.onclose = (event) => this.closed(ws, event.code);
  }

  closed(ws, code) {
    if (this.ws !== ws) return; // an old socket, already replaced
    clearInterval(this.pinger);
    this.ws = null;
    const wasReady = this.ready;
    this.ready = false;
    if (leaveIfSignedOut(code)) return;
    const final = FINAL_CLOSE_CODES.get(code);
    if (final) {
      this.closedReason = final;
      this.setConnection('closed');
      return;
    }
    this.setConnection('offline');
    // A refusal at the handshake reaches the browser as 1006, like a network failure:
    // after a second socket that closed before ``ready``, ask over HTTP whether it is one.
    if (!wasReady && this.retries >= 1) this.probeAccess();
    // 0.5 s doubling to 10 s, with jitter; the same stream id resumes after ``acked``.
    const delay = Math.min(10000, 500 * 2 ** this.retries) * (0.75 + Math.random() / 2);
    this.retries += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  async probeAccess() {
    let status;
    try {
      const url = `/api/dictation/utterances/?study=${encodeURIComponent(this.studyUid)}`;
      status = (await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })).status;
    } catch {
      return; // the network: keep retrying
    }
    const code = { 401: 4401, 403: 4403, 404: 4404 }[status];
    if (!code || this.connection === 'live') return;
    clearTimeout(this.reconnectTimer);
    this.closedReason = FINAL_CLOSE_CODES.get(code);
    this.setConnection('closed');
  }

  /** Drop the connection now (a network blip); it comes back by itself and resends. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    ws.close();
    // Offline, the closing handshake may never finish: reconnect without waiting for it.
    this.closed(ws, 1006);
  }

  get open() {
    return this.ready && this.ws?.readyState === WebSocket.OPEN;
  }

  sendJson(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  handle(message) {
    switch (message.type) {
      case 'ready':
        this.retries = 0;
        this.model = message.model || null;
        this.forget(message.acked || 0);
        // A stream the server knows further than this page (never expected): continue it.
        if (this.seq < this.acked) this.seq = this.acked;
        this.ready = true;
        this.setConnection('live');
        this.resend();
        break;
      case 'ack':
      case 'stopped':
      case 'pong':
        this.forget(message.type === 'ack' ? message.seq : message.acked || 0);
        this.changed();
        break;
      case 'partial':
      case 'final':
        this.onTranscript(message);
        break;
      case 'lag':
        this.lagSeconds = Number(message.behind_s) || 0;
        this.changed();
        break;
      case 'error':
        this.onError(message);
        break;
      default:
        break;
    }
  }

  onError(message) {
    if (message.code === 'model_not_installed') {
      // The panel already says so (with the fix) from ``ready``; audio is still stored.
      if (this.model) this.model.installed = false;
      if (message.instruction && this.model) this.model.instruction = message.instruction;
      this.changed();
      return;
    }
    console.warn('dictation: server error', message);
    if (message.code === 'out_of_order' && message.expected && this.open) {
      // The server stored everything before ``expected``: send the rest again.
      this.forget(message.expected - 1);
      for (const frame of this.unacked) this.ws.send(frame.data);
      this.framesResent += this.unacked.length;
    }
    this.error = { code: message.code, detail: message.detail || message.code };
    this.changed();
  }

  // ---- frames: numbered, kept until acknowledged, resent after a reconnect --------------

  onFrame(pcm, rms, peak) {
    this.emit('level', { rms, peak });
    this.seq += 1;
    this.samples += pcm.byteLength / 2;
    const data = new ArrayBuffer(4 + pcm.byteLength);
    new DataView(data).setUint32(0, this.seq, true);
    new Uint8Array(data, 4).set(new Uint8Array(pcm));
    this.unacked.push({ seq: this.seq, data });
    this.unackedBytes += pcm.byteLength;
    while (this.unackedBytes > MAX_UNACKED_BYTES && this.unacked.length) {
      // Out of reach for over an hour: the oldest audio goes (and the UI says so).
      this.unackedBytes -= this.unacked.shift().data.byteLength - 4;
      this.error = { code: 'audio_dropped', detail: 'The server has been out of reach too long: old audio was dropped.' };
    }
    if (this.open) {
      this.ws.send(data);
      this.framesSent += 1;
    }
  }

  /** The server has stored every frame up to ``seq``. */
  forget(seq) {
    if (seq > this.acked) this.acked = seq;
    let n = 0;
    while (n < this.unacked.length && this.unacked[n].seq <= this.acked) {
      this.unackedBytes -= this.unacked[n].data.byteLength - 4;
      n += 1;
    }
    if (n) this.unacked.splice(0, n);
  }

  /** After ``ready``: every frame the server lacks, in order, with the stops between them. */
  resend() {
    const stops = this.stopsAfter;
    this.stopsAfter = [];
    let i = 0;
    while (i < stops.length && stops[i] <= this.acked) {
      this.sendJson({ type: 'stop' });
      i += 1;
    }
    for (const frame of this.unacked) {
      this.ws.send(frame.data);
      this.framesResent += 1;
      while (i < stops.length && stops[i] === frame.seq) {
        this.sendJson({ type: 'stop' });
        i += 1;
      }
    }
    this.changed();
  }

  // ---- listening -------------------------------------------------------------------------

  async start() {
    if (this.state === 'listening' || this.state === 'starting') return;
    if (this.connection === 'closed') return;
    this.error = null;
    this.setState('starting');
    try {
      await this.capture.start();
    } catch (err) {
      console.warn('dictation: microphone failed', err);
      const denied = err?.name === 'NotAllowedError' || err?.name === 'SecurityError';
      this.error = {
        code: denied ? 'mic_denied' : err?.code || 'mic_failed',
        detail: denied ? "Microphone blocked: allow it in the browser's site settings." : String(err?.message || err),
      };
      await this.capture.stop().catch(() => {});
      this.setState('error');
      return;
    }
    this.setState('listening');
    if (this.stopRequested) {
      this.stopRequested = false;
      await this.stop();
    }
  }

  /** End the utterance: the last frame, then ``stop`` (now, or after the resend). */
  async stop() {
    if (this.state === 'starting') {
      this.stopRequested = true; // a push-to-talk key released before the mic opened
      return;
    }
    if (this.state !== 'listening') return;
    this.setState('stopping');
    await this.capture.stop();
    this.emit('level', { rms: 0, peak: 0 });
    // Frames go out as they come while the socket is ready, so ``stop`` follows them.
    if (this.open) this.sendJson({ type: 'stop' });
    else this.stopsAfter.push(this.seq);
    this.setState('idle');
  }

  toggle() {
    return this.state === 'listening' || this.state === 'starting' ? this.stop() : this.start();
  }

  // ---- transcripts -----------------------------------------------------------------------

  onTranscript(message) {
    const fresh = this.transcript.apply(message.type, message);
    this.emit('text');
    if (message.type !== 'final' || !fresh) return;
    this.finals += 1;
    if (message.n > (this.lastFinal || 0)) this.lastFinal = message.n;
    this.emit('final', { message });
  }

  /** A ``dictation.partial``/``dictation.final`` session event (other speakers). */
  onSessionEvent(envelope) {
    if (envelope.type !== 'dictation.partial' && envelope.type !== 'dictation.final') return;
    const p = envelope.payload || {};
    const user = p.user || p.speaker || p.author || null;
    if (p.stream ? p.stream === this.streamId : user?.username === this.me) return;
    const speakerKey = user?.username || p.stream || 'someone';
    if (!this.remote.has(speakerKey)) {
      this.remote.set(speakerKey, { name: user?.display_name || user?.username || 'Someone', lines: [], finals: 0 });
    }
    const speaker = this.remote.get(speakerKey);
    const key = `${p.stream}:${p.utterance}:${p.segment}`;
    const final = envelope.type === 'dictation.final';
    if (final) speaker.finals += 1;
    // A partial replaces the open line of its segment; a final fixes it.
    const at = speaker.lines.findIndex((l) => l.key === key);
    const line = { key, text: p.text || '', final };
    if (at >= 0) {
      if (!speaker.lines[at].final || final) speaker.lines[at] = line;
    } else {
      if (!final) speaker.lines = speaker.lines.filter((l) => l.final);
      speaker.lines.push(line);
    }
    speaker.lines = speaker.lines.slice(-REMOTE_LINES);
    this.emit('text');
  }

  // ---- state -----------------------------------------------------------------------------

  setState(state) {
    this.state = state;
    this.changed();
  }

  setConnection(connection) {
    this.connection = connection;
    this.changed();
  }

  changed() {
    this.emit('change', this.snapshot());
  }

  /** Everything the panel shows, and what the tests read. */
  snapshot() {
    return {
      state: this.state,
      connection: this.connection,
      closedReason: this.closedReason,
      model: this.model,
      error: this.error,
      lagSeconds: this.lagSeconds,
      stream: this.streamId,
      seq: this.seq,
      samples: this.samples,
      acked: this.acked,
      unacked: this.unacked.length,
      framesSent: this.framesSent,
      framesResent: this.framesResent,
      finals: this.finals,
      transcript: this.transcript.lines(),
      remote: [...this.remote.entries()].map(([username, s]) => ({ username, name: s.name, finals: s.finals, lines: s.lines })),
    };
  }
}
