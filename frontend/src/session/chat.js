/**
 * The session's chat: the study's messages so far (a reload keeps the history), the live
 * ``chat.message`` events after them, each shown once, and the form that sends one.
 */
import { el } from '../dom.js';
import { request } from '../http.js';

/**
 * @typedef {object} ChatDeps
 * @property {string} sessionId
 * @property {(message: any) => void} send to the session's socket
 */

export class SessionChat {
  /** @param {ChatDeps} deps */
  constructor(deps) {
    this.deps = deps;
    /** @type {Set<string>} ids of the messages shown */
    this.ids = new Set();
    this.log = el('ol', { class: 'rr-session-chat' });
    this.input = el('input', { type: 'text', maxlength: 4000, placeholder: 'Message', 'aria-label': 'Chat message' });
    this.form = el('form', { class: 'rr-session-chat-form' }, this.input);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (text) this.deps.send({ type: 'chat.send', text });
      this.input.value = '';
    });
    // Typing in the chat must not drive the viewer's keyboard shortcuts.
    this.input.addEventListener('keydown', (e) => e.stopPropagation());
  }

  /** The study's chat so far; events add to it after. */
  async load() {
    try {
      let url = `/api/sessions/${this.deps.sessionId}/chat/`;
      while (url) {
        const body = await request('GET', url);
        for (const message of Array.isArray(body) ? body : body?.results || []) this.add(message);
        url = Array.isArray(body) ? null : body?.next;
      }
    } catch (err) {
      console.warn('session: chat history not loaded', err);
    }
  }

  add(message) {
    // History and the live event of the same message (a resume after a reload) show once.
    if (message.id !== undefined) {
      if (this.ids.has(String(message.id))) return;
      this.ids.add(String(message.id));
    }
    const who = message.author?.display_name || 'Someone';
    this.log.append(el('li', {}, el('b', {}, `${who}: `), message.text));
    this.log.scrollTop = this.log.scrollHeight;
  }
}
