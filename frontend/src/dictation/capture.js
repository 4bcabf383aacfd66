/**
 * The microphone as 16 kHz int16 frames: ``getUserMedia`` into an
 * ``AudioContext({sampleRate: 16000})`` (the browser resamples) and the AudioWorklet in
 * capture-worklet.js (Float32 -> Int16, ~100 ms frames, level).
 */
// Bundled by Vite as its own file under /static/viewer/assets/ (``?worker&url``): a plain
// ``new URL('./capture-worklet.js', import.meta.url)`` is inlined as a data: URL below
// Vite's 4 kB asset limit, which a Content-Security-Policy would refuse.
import workletUrl from './capture-worklet.js?worker&url';

const SAMPLE_RATE = 16000;

/** ``onframe(pcm: ArrayBuffer, rms, peak)`` for each frame while started. */
export class Capture {
  constructor(onframe) {
    this.onframe = onframe;
    this.context = null;
    this.node = null;
    this.source = null;
    this.stream = null;
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw Object.assign(new Error('The microphone needs a secure page (https or localhost).'), {
        code: 'insecure',
      });
    }
    if (!this.context) {
      // The browser resamples the microphone to the context's rate: no resampler of ours.
      this.context = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: 'interactive' });
      await this.context.audioWorklet.addModule(workletUrl);
    }
    if (this.context.sampleRate !== SAMPLE_RATE) {
      throw new Error(`The browser records at ${this.context.sampleRate} Hz, not 16 kHz.`);
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    await this.context.resume();
    this.source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, 'rr-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: 'explicit',
    });
    this.node.port.onmessage = (event) => {
      const m = event.data;
      if (m.type === 'frame') this.onframe(m.pcm, m.rms, m.peak);
      else if (m.type === 'flushed') this.flushed?.();
    };
    this.source.connect(this.node);
  }

  /** Stop listening; resolves once the last partial frame has been handed over. */
  async stop() {
    const node = this.node;
    if (node) {
      await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 500);
        this.flushed = () => {
          clearTimeout(timer);
          resolve(undefined);
        };
        node.port.postMessage({ type: 'flush' });
      });
      this.source?.disconnect();
      node.disconnect();
      node.port.onmessage = null;
    }
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.node = this.source = this.stream = null;
    this.flushed = null;
  }
}

