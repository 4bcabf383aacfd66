/** A speaker's live transcript: the socket's partials and finals, by utterance and segment. */

const KEEP_UTTERANCES = 50;

/** One speaker's transcript: utterances of final segments plus the open partial. */
export class Transcript {
  constructor() {
    this.utterances = new Map(); // utterance -> {finals: Map(segment -> text), partial}
  }

  entry(utterance) {
    if (!this.utterances.has(utterance)) {
      this.utterances.set(utterance, { finals: new Map(), partial: null });
      // A day of dictation: the panel shows the recent ones; the report keeps the text.
      if (this.utterances.size > KEEP_UTTERANCES) this.utterances.delete(this.utterances.keys().next().value);
    }
    return this.utterances.get(utterance);
  }

  /** Apply a partial or final; returns false for a final already applied (a resend). */
  apply(type, { utterance = '', segment = 0, text = '' }) {
    const u = this.entry(utterance);
    if (type === 'final') {
      const known = u.finals.has(segment);
      u.finals.set(segment, text);
      if (u.partial && u.partial.segment <= segment) u.partial = null;
      return !known;
    }
    if (!u.finals.has(segment)) u.partial = { segment, text };
    return true;
  }

  lines() {
    // Utterances in the order they began (Map order); segments by number.
    return [...this.utterances.entries()]
      .map(([utterance, u]) => ({
        utterance,
        final: [...u.finals.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t).filter(Boolean).join(' '),
        partial: u.partial?.text || '',
      }));
  }
}
