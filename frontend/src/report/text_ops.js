/**
 * The report's plain-text format (docs/reports.md): headings on their own line in
 * capitals ending with a colon, fields as «…» spans. Pure functions over a string; the
 * editor turns their answers into CodeMirror transactions.
 */

export const HEADING = /^([A-Z][A-Z0-9 /&()-]*):\s*$/;
const FIELD = /«[^«»\n]*»/g;
// Where a missing section goes: before the first present heading that comes later here.
const ORDER = [
  'EXAM TYPE', 'PROCEDURE', 'CLINICAL HISTORY', 'INDICATION', 'TECHNIQUE', 'COMPARISON',
  'FINDINGS', 'IMPRESSION', 'PLAN', 'ADDENDUM',
];

/** Every field as ``{from, to, raw, kind, options, unit}``. */
export function fields(text) {
  const out = [];
  for (const m of text.matchAll(FIELD)) {
    const inner = m[0].slice(1, -1).trim();
    const field = { from: m.index, to: m.index + m[0].length, raw: m[0], kind: 'blank', options: [], unit: '' };
    if (inner.includes('|')) {
      field.kind = 'choice';
      field.options = inner.split('|').map((o) => o.trim());
    } else {
      const number = inner.match(/^_+\s+(\S.*)$/);
      if (number) {
        field.kind = 'number';
        field.unit = number[1].trim();
      }
    }
    out.push(field);
  }
  return out;
}

/** The field after ``pos`` (or before, ``dir`` -1), wrapping around; null when none. */
export function nextField(text, pos, dir = 1) {
  const all = fields(text);
  if (!all.length) return null;
  if (dir > 0) return all.find((f) => f.from >= pos) || all[0];
  return [...all].reverse().find((f) => f.to <= pos) || all[all.length - 1];
}

/** The field containing [from, to], if any. */
export function fieldAt(text, from, to = from) {
  return fields(text).find((f) => f.from <= from && to <= f.to) || null;
}

/** Headings as ``[{name, from, to, lineEnd}]`` (``to`` = end of the heading line). */
export function headings(text) {
  const out = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const m = line.match(HEADING);
    if (m) out.push({ name: m[1].trim(), from: offset, to: offset + line.length });
    offset += line.length + 1;
  }
  return out;
}

export function normaliseSection(name) {
  return String(name || '').replace(/[[\]:]/g, '').trim().toUpperCase();
}

/**
 * Where the cursor goes for section ``name``: the end of its text (before the blank
 * lines ahead of the next heading). When the heading is missing, ``insert`` says what to
 * add and where (``{at, text}``) and ``cursor`` is the position after inserting.
 */
export function sectionTarget(text, name) {
  const wanted = normaliseSection(name);
  const all = headings(text);
  const index = all.findIndex((h) => h.name === wanted);
  if (index >= 0) {
    const bodyEnd = index + 1 < all.length ? all[index + 1].from : text.length;
    let end = bodyEnd;
    while (end > all[index].to && /\s/.test(text[end - 1])) end -= 1;
    if (end === all[index].to) return { cursor: end, insert: { at: end, text: '\n' }, after: end + 1 };
    return { cursor: end, insert: null };
  }
  const rank = ORDER.indexOf(wanted);
  const later = rank < 0 ? null : all.find((h) => ORDER.indexOf(h.name) > rank);
  if (later) {
    const block = `${wanted}:\n\n\n`;
    return { cursor: later.from + wanted.length + 2, insert: { at: later.from, text: block } };
  }
  const trimmed = text.replace(/\s+$/, '');
  const lead = trimmed.length ? '\n\n' : '';
  const block = `${lead}${wanted}:\n`;
  return {
    cursor: trimmed.length + block.length,
    insert: { at: trimmed.length, text: block, replaceTo: text.length },
  };
}

/**
 * What to put before ``insert`` at ``pos`` so it meets the text before it properly.
 * ``join``: 'space' (a space unless at a line start or after whitespace), 'attach'
 * (nothing: punctuation joins the word), 'none' (nothing), 'line' (a new line unless at a
 * line start).
 */
export function separator(before, join = 'space') {
  if (join === 'attach' || join === 'none' || before === '') return '';
  const last = before[before.length - 1];
  if (join === 'line') return last === '\n' ? '' : '\n';
  return /\s/.test(last) || last === '«' ? '' : ' ';
}
