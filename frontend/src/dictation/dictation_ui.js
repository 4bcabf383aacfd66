/**
 * Dictation, the UI part: the Dictation dock panel (microphone button, level meter,
 * connection and lag, the model's state, the live transcript of this speaker and of the
 * other participants), and a red dot on its tab while the microphone is open. It reads the
 * ``DictationStream`` (dictation_data.js) only through its events and ``snapshot()``.
 */
import { el } from '../layout.js';
import './dictation.css';

const CONNECTION_LABELS = {
  connecting: 'Connecting',
  live: 'Connected',
  offline: 'Offline, reconnecting',
  closed: 'Closed',
};
const STATE_LABELS = {
  idle: 'Dictate',
  starting: 'Opening microphone',
  listening: 'Stop',
  stopping: 'Stopping',
  error: 'Dictate',
};
// The level meter spans -60 dBFS (silence) to 0 dBFS (full scale).
const METER_FLOOR_DB = -60;

function levelPercent(rms) {
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.max(0, Math.min(100, ((db - METER_FLOOR_DB) / -METER_FLOOR_DB) * 100));
}

export class DictationPanel {
  constructor(viewer, stream, controls) {
    this.viewer = viewer;
    this.stream = stream;
    this.controls = controls;
    this.level = 0;
    this.levelFrame = 0;
  }

  install() {
    const root = this.viewer.dock.addPanel('dictation', 'Dictation', { order: 20 });
    this.micButton = el(
      'button',
      {
        type: 'button',
        class: 'rr-dict-mic',
        dataset: { action: 'dictation-toggle' },
        title: 'Start / stop dictation (D); hold ` to talk',
        onclick: (e) => {
          e.currentTarget.blur();
          this.controls.toggle();
        },
      },
      el('span', { class: 'rr-dict-dot', 'aria-hidden': 'true' }),
      el('span', { class: 'rr-dict-mic-label' }, STATE_LABELS.idle),
    );
    this.connection = el('span', { class: 'rr-dict-connection', role: 'status' });
    this.meterBar = el('div', { class: 'rr-dict-meter-bar' });
    this.meter = el('div', { class: 'rr-dict-meter', title: 'Microphone level', 'aria-hidden': 'true' }, this.meterBar);
    this.modelNote = el('div', { class: 'rr-dict-model', hidden: true });
    this.lagNote = el('div', { class: 'rr-dict-lag', role: 'status', hidden: true });
    this.errorNote = el('div', { class: 'rr-dict-error', role: 'alert', hidden: true });
    this.mine = el('div', { class: 'rr-dict-transcript', 'aria-live': 'polite' });
    this.others = el('div', { class: 'rr-dict-others' });
    root.append(
      el('div', { class: 'rr-dict' },
        el('div', { class: 'rr-dict-head' }, this.micButton, this.connection),
        this.meter,
        this.modelNote,
        this.lagNote,
        this.errorNote,
        this.mine,
        this.others,
        el('p', { class: 'rr-dict-keys' },
          el('kbd', {}, 'D'), ' start / stop · hold ', el('kbd', {}, '`'), ' to talk · ',
          el('kbd', {}, 'F9'), ' start / stop while typing in the report'),
      ),
    );
    this.root = root;

    // While the microphone is open the tab says so, whichever panel is shown.
    this.tab = this.viewer.dock.panels.get('dictation')?.tab;

    this.stream.on('change', () => this.render());
    this.stream.on('text', () => this.renderText());
    this.stream.on('level', ({ rms }) => this.setLevel(rms));
    this.render();
    this.renderText();
  }

  setLevel(rms) {
    this.level = levelPercent(rms);
    if (this.levelFrame) return;
    this.levelFrame = requestAnimationFrame(() => {
      this.levelFrame = 0;
      this.meterBar.style.width = `${this.level.toFixed(1)}%`;
      this.meter.dataset.level = String(Math.round(this.level));
    });
  }

  render() {
    const s = this.stream.snapshot();
    const active = s.state === 'listening' || s.state === 'starting';
    const button = this.micButton;
    button.dataset.state = s.state;
    button.classList.toggle('on', active);
    button.setAttribute('aria-pressed', String(active));
    button.disabled = s.connection === 'closed' || s.state === 'stopping';
    this.tab?.classList.toggle('rr-dict-live', active);
    this.micButton.querySelector('.rr-dict-mic-label').textContent = STATE_LABELS[s.state] || s.state;
    this.connection.dataset.state = s.connection;
    this.connection.textContent = s.connection === 'closed'
      ? s.closedReason || CONNECTION_LABELS.closed
      : CONNECTION_LABELS[s.connection] + (s.unacked && s.connection !== 'live' ? ` · ${(s.unacked / 10).toFixed(1)} s kept to send` : '');
    this.renderModel(s.model);
    const lagging = s.lagSeconds >= 1;
    this.lagNote.hidden = !lagging;
    this.lagNote.textContent = lagging ? `Transcription is ${Math.round(s.lagSeconds)} s behind; nothing is lost.` : '';
    if (s.error && s.error !== this.shownError) this.viewer.dock.attention('dictation');
    this.shownError = s.error;
    this.errorNote.hidden = !s.error;
    this.errorNote.textContent = s.error ? s.error.detail : '';
    this.root.dataset.state = s.state;
  }

  renderModel(model) {
    const note = this.modelNote;
    // Flag the tab once when there is something to fix (the model missing, an error).
    const problem = model && !model.installed ? 'model' : null;
    if (problem && this.flagged !== problem) this.viewer.dock.attention('dictation');
    this.flagged = problem;
    if (!model) {
      note.hidden = true;
      return;
    }
    if (!model.installed) {
      note.hidden = false;
      note.dataset.kind = 'missing';
      const instruction = model.instruction || 'MEDASR_MODEL=<hub id or local folder>';
      note.replaceChildren(
        el('strong', {}, 'MedASR is not installed: no transcript.'),
        ' Audio is still recorded and kept. To transcribe, ',
        el('code', { class: 'rr-dict-instruction' }, instruction),
        ' and restart the server.',
      );
    } else if (model.random_weights) {
      note.hidden = false;
      note.dataset.kind = 'random';
      note.replaceChildren(
        el('span', { class: 'rr-dict-random' }, 'random weights: output is noise'),
        ` ${model.name || ''}`,
      );
    } else {
      note.hidden = false;
      note.dataset.kind = 'ok';
      note.replaceChildren(
        el('span', { class: 'rr-dict-model-name' }, model.name || 'MedASR'),
        model.precision ? ` · ${model.precision}` : '',
        model.lm ? ' · n-gram LM' : '',
      );
    }
  }

  renderText() {
    const s = this.stream.snapshot();
    const lines = s.transcript.filter((l) => l.final || l.partial).slice(-20);
    this.mine.replaceChildren(
      ...(lines.length
        ? lines.map((l) => el('p', { class: 'rr-dict-line', dataset: { utterance: l.utterance } },
          l.final ? el('span', { class: 'rr-dict-final' }, l.final) : null,
          l.final && l.partial ? ' ' : null,
          l.partial ? el('span', { class: 'rr-dict-partial' }, l.partial) : null))
        : [el('p', { class: 'rr-dict-empty' }, 'Your transcript appears here.')]),
    );
    this.mine.scrollTop = this.mine.scrollHeight;
    this.others.replaceChildren(
      ...s.remote.map((speaker) => el(
        'div',
        { class: 'rr-dict-speaker', dataset: { username: speaker.username } },
        el('span', { class: 'rr-dict-name' }, speaker.name),
        ...speaker.lines.map((l) => el('span', { class: l.final ? 'rr-dict-final' : 'rr-dict-partial' }, ` ${l.text}`)),
      )),
    );
  }
}
