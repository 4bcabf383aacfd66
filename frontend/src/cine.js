/**
 * Cine: one stack viewport playing its images in a loop at a chosen rate, with the
 * toolbar's play button and frames-per-second field. Only one cell plays at a time; a cell
 * that changes series or leaves the grid stops (``stop``).
 */
import { utilities as toolUtilities } from '@cornerstonejs/tools';

import { actionButton, el } from './dom.js';

/**
 * @typedef {object} CineDeps
 * @property {() => import('./layout.js').Cell} cellToPlay the active stack cell, or the first
 */

export class Cine {
  /** @param {CineDeps} deps */
  constructor(deps) {
    this.deps = deps;
    this.playing = false;
    this.fps = 15;
    /** @type {import('./layout.js').Cell | null} the cell playing */
    this.cell = null;
    this.button = actionButton('cine', 'Cine', 'Play / stop cine (Space)', () => this.toggle());
    this.fpsInput = el('input', {
      type: 'number', min: 1, max: 60, value: this.fps, class: 'vw-fps', title: 'Cine frames per second',
      'aria-label': 'Cine frames per second',
      onchange: (e) => {
        this.setFps(Number(e.target.value));
        e.target.blur();
      },
    });
  }

  /** The toolbar's cine controls. */
  controls() {
    return [this.button, this.fpsInput];
  }

  setFps(fps) {
    this.fps = Math.max(1, Math.min(60, Math.round(fps) || 15));
    this.fpsInput.value = this.fps;
    if (this.playing) {
      this.toggle(false);
      this.toggle(true);
    }
  }

  toggle(on = !this.playing) {
    const c = this.deps.cellToPlay();
    if (on) {
      toolUtilities.cine.playClip(c.element, { framesPerSecond: this.fps, loop: true });
      this.playing = true;
      this.cell = c;
    } else {
      this.stop(this.cell || c);
    }
    this.button.classList.toggle('on', this.playing);
  }

  /** Stop if cell ``c`` is the one playing. */
  stop(c) {
    if (this.playing && this.cell === c) {
      toolUtilities.cine.stopClip(c.element);
      this.playing = false;
      this.button.classList.remove('on');
    }
  }
}
