/** A dictation final as report edits (the ops of docs/realtime.md, "Dictation socket"). */
const INLINE_OPS = new Set(['text', 'punct', 'newline', 'paragraph', 'marker']);

/**
 * What a final does to the report, in order: ``['report-insert', {text, ...}]`` for each run
 * of inline ops (text, punctuation, line breaks, unknown markers) and
 * ``['report-command', {op, ...}]`` for the rest (section, next_field, scratch, macro, sign).
 *
 * An insert's text carries no leading separator; ``meta.join`` says how it meets the text
 * before the cursor: ``'space'`` (a space unless at the start of a line or after
 * whitespace), ``'attach'`` (punctuation joined to the previous word) or ``'none'``.
 * ``meta.marker`` flags an unknown MedASR marker, to be shown for review.
 */
export function reportActions(message) {
  const meta = { utterance: message.utterance, stream: message.stream, segment: message.segment, n: message.n };
  const ops = Array.isArray(message.ops) && message.ops.length
    ? message.ops
    : [{ op: 'text', text: message.text || '' }];
  const actions = [];
  let run = null;
  const flush = () => {
    if (run && run.text) actions.push(['report-insert', { text: run.text, source: 'dictation', meta: { ...meta, join: run.join, ...(run.marker ? { marker: true } : {}) } }]);
    run = null;
  };
  let attachNext = false;
  for (const raw of ops) {
    const op = { ...raw, op: raw.op || raw.kind };
    const text = op.text ?? op.value ?? '';
    if (!INLINE_OPS.has(op.op)) {
      flush();
      attachNext = false;
      actions.push(['report-command', { ...op, source: 'dictation', meta }]);
      continue;
    }
    if (op.op === 'marker') flush(); // its own insert, so the editor can mark it
    let piece;
    let join;
    if (op.op === 'newline' || op.op === 'paragraph') {
      piece = op.op === 'newline' ? '\n' : '\n\n';
      join = 'none';
    } else if (op.op === 'punct' && op.attach !== 'right') {
      piece = text;
      join = 'attach';
    } else {
      piece = text;
      join = attachNext ? 'attach' : 'space';
    }
    if (!piece) continue;
    if (!run) run = { text: piece, join, marker: op.op === 'marker' };
    else run.text += (join === 'space' && !/\s$/.test(run.text) ? ' ' : '') + piece;
    attachNext = op.op === 'punct' && op.attach === 'right';
    if (op.op === 'marker') flush();
  }
  flush();
  return actions;
}

