/**
 * AudioWorklet processor: the microphone as 16-bit PCM frames.
 *
 * Runs in an ``AudioContext({sampleRate: 16000})``, so the browser has already resampled
 * the microphone to 16 kHz; this only converts Float32 to Int16 (little-endian, the
 * platform order of every browser) and cuts ~100 ms frames. Each frame is posted to the
 * page with its RMS and peak (0..1) for the level meter. ``{type: 'flush'}`` posts what
 * is buffered (the end of an utterance) and answers ``{type: 'flushed'}`` after it.
 */
// @ts-nocheck - AudioWorkletGlobalScope (sampleRate, registerProcessor) is not in TypeScript's DOM lib.
/* global sampleRate, registerProcessor, AudioWorkletProcessor */

const FRAME_SECONDS = 0.1;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.frameLength = Math.round(sampleRate * FRAME_SECONDS);
    this.buffer = new Int16Array(this.frameLength);
    this.filled = 0;
    this.sumSquares = 0;
    this.peak = 0;
    this.port.onmessage = (event) => {
      if (event.data?.type === 'flush') {
        this.post();
        this.port.postMessage({ type: 'flushed' });
      }
    };
  }

  post() {
    if (!this.filled) return;
    const pcm = this.buffer.slice(0, this.filled);
    const rms = Math.sqrt(this.sumSquares / this.filled);
    this.port.postMessage({ type: 'frame', pcm: pcm.buffer, rms, peak: this.peak }, [pcm.buffer]);
    this.filled = 0;
    this.sumSquares = 0;
    this.peak = 0;
  }

  process(inputs) {
    // Mono: the first channel (getUserMedia asks for one; a stereo device gives its left).
    const channel = inputs[0]?.[0];
    if (channel) {
      for (let i = 0; i < channel.length; i += 1) {
        const s = Math.max(-1, Math.min(1, channel[i]));
        this.buffer[this.filled] = s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff);
        this.filled += 1;
        this.sumSquares += s * s;
        const a = Math.abs(s);
        if (a > this.peak) this.peak = a;
        if (this.filled === this.frameLength) this.post();
      }
    }
    return true;
  }
}

registerProcessor('rr-capture', CaptureProcessor);
