/**
 * Presence in a live session: this reader's idle/active state (no pointer, key or wheel
 * for five minutes is idle), and the presenter's pointer (Alt + move) shown to the
 * others as a dot in the reader's colour.
 */
import { el } from '../dom.js';

const IDLE_MS = 5 * 60 * 1000;
const CHECK_MS = 30000;

/**
 * @typedef {object} PresenceDeps
 * @property {(message: any) => void} send to the session's socket
 * @property {() => boolean} isPresenter
 * @property {HTMLElement | undefined} stage where the presenter points
 * @property {HTMLElement} root where the viewport cells are found
 */

export class Presence {
  /** @param {PresenceDeps} deps */
  constructor(deps) {
    this.deps = deps;
    this.lastActivity = Date.now();
    this.idle = false;
    /** @type {Map<string, HTMLElement & { timer?: any }>} username -> pointer dot */
    this.pointers = new Map();
  }

  /** Watch for activity and the presenter's pointer. */
  start() {
    for (const type of ['pointermove', 'keydown', 'wheel']) {
      window.addEventListener(type, () => this.onActivity(), { passive: true });
    }
    this.deps.stage?.addEventListener('pointermove', (e) => this.onPointer(e));
    setInterval(() => this.checkIdle(), CHECK_MS);
  }

  onActivity() {
    this.lastActivity = Date.now();
    if (this.idle) {
      this.idle = false;
      this.deps.send({ type: 'presence', state: 'active' });
    }
  }

  checkIdle() {
    if (!this.idle && Date.now() - this.lastActivity > IDLE_MS) {
      this.idle = true;
      this.deps.send({ type: 'presence', state: 'idle' });
    }
  }

  onPointer(event) {
    if (!this.deps.isPresenter() || !event.altKey) return; // Alt + move points for the others
    const cell = event.target.closest?.('.vw-cell');
    if (!cell) return;
    const rect = cell.getBoundingClientRect();
    this.deps.send({
      type: 'pointer.move',
      pointer: {
        viewportId: cell.dataset.viewportId,
        x: (event.clientX - rect.left) / rect.width,
        y: (event.clientY - rect.top) / rect.height,
      },
    });
  }

  /** A ``pointer.moved`` event: the dot on its cell, gone after two seconds without moves. */
  showPointer(payload) {
    const { pointer, colour, user } = payload;
    const cell = this.deps.root.querySelector(`.vw-cell[data-viewport-id="${pointer?.viewportId}"]`);
    if (!cell || typeof pointer.x !== 'number' || typeof pointer.y !== 'number') return;
    let dot = this.pointers.get(user);
    if (!dot) {
      dot = el('div', { class: 'rr-pointer' });
      this.pointers.set(user, dot);
    }
    if (dot.parentNode !== cell) cell.append(dot);
    dot.style.background = colour;
    dot.style.left = `${pointer.x * 100}%`;
    dot.style.top = `${pointer.y * 100}%`;
    clearTimeout(dot.timer);
    dot.timer = setTimeout(() => dot.remove(), 2000);
  }
}
