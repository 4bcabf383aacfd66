/**
 * Live dictation in the viewer (docs/realtime.md, "Dictation socket"): the data part
 * (dictation_data.js: microphone, socket, resend, transcripts) and the UI part
 * (dictation_ui.js: the Dictation panel), joined here to the viewer's events:
 *
 *   'dictation-state'  emitted on every change (the snapshot), so the report panel can
 *                      show a microphone button driving ``viewer.dictation``
 *   'report-insert' / 'report-command'   each final of this speaker, op by op, in order
 *   'session-event'    other participants' ``dictation.partial``/``dictation.final``
 *
 * ``viewer.dictation``: ``start()``, ``stop()``, ``toggle()``, ``pushToTalk(keydownEvent)``,
 * ``state()`` (a snapshot, also for tests) and ``drop()`` (drop the socket, for tests).
 */
import { DictationStream } from './dictation_data.js';
import { DictationPanel } from './dictation_ui.js';
import { reportActions } from './report_ops.js';

const isEditable = (target) =>
  target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));

/**
 * @param {any} viewer
 * @param {{sessionId?: string | null}} [options]
 */
export function install(viewer, { sessionId = null } = {}) {
  const stream = new DictationStream({
    studyUid: viewer.config.studyUid,
    sessionId,
    me: viewer.config.user?.username,
  });

  let held = null; // the push-to-talk key being held, by ``code``
  const controls = {
    start: () => stream.start(),
    stop: () => stream.stop(),
    toggle: () => stream.toggle(),
    state: () => stream.snapshot(),
    drop: () => stream.drop(),
    stream,
    /** Hold-to-talk from a keydown: listen until that key is released (or focus leaves). */
    pushToTalk(event) {
      if (event?.repeat || held) return;
      if (stream.state === 'listening' || stream.state === 'starting') return; // toggled on
      held = event?.code || 'Backquote';
      const release = (e) => {
        if (e.type === 'keyup' && e.code !== held) return;
        window.removeEventListener('keyup', release, true);
        window.removeEventListener('blur', release);
        held = null;
        stream.stop();
      };
      window.addEventListener('keyup', release, true);
      window.addEventListener('blur', release);
      stream.start();
    },
  };
  viewer.dictation = controls;

  const panel = new DictationPanel(viewer, stream, controls);
  panel.install();

  stream.on('change', (snapshot) => viewer.emit('dictation-state', snapshot));
  stream.on('final', ({ message }) => {
    // Events are synchronous and need no listener: without a report panel nothing waits.
    for (const [type, detail] of reportActions(message)) viewer.emit(type, detail);
  });
  viewer.on('session-event', (envelope) => stream.onSessionEvent(envelope));

  // F9 toggles even while typing in the report (the shortcut table skips text fields).
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'F9' || event.repeat || !isEditable(event.target)) return;
    event.preventDefault();
    stream.toggle();
  });

  // Audio the server has not stored yet would be lost with the page: ask first.
  window.addEventListener('beforeunload', (event) => {
    if (stream.unacked.length || stream.state === 'listening') event.preventDefault();
  });

  stream.connect();
  return controls;
}
