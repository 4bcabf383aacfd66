"""Word error rate of a CTC model on a folder of audio files with reference transcripts.

    python bench/asr_wer.py --model google/medasr --data DIR
    python bench/asr_wer.py --model ./models/medasr --data DIR --mode offline

DIR holds pairs ``NAME.wav`` + ``NAME.txt`` (the reference). WAVs are read with
the standard library (PCM 16-bit, mono or stereo averaged) and resampled to
16 kHz with scipy's polyphase filter when needed. Two modes:

- ``streaming`` (default): the product path, 100 ms chunks through
  :class:`inference.medasr.StreamingTranscriber`; spoken commands are applied
  and the hypothesis is the concatenated final text;
- ``offline``: one greedy pass over the whole file (up to ``--max-seconds``),
  the model's best case.

Both texts are normalised the same way (lower case, punctuation removed) and
scored with jiwer. The random-weight test models give a WER near 100%: this
script is for whoever has the real weights.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import wave
from math import gcd
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RATE = 16000


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        rate, channels = handle.getframerate(), handle.getnchannels()
        audio = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    audio = audio.reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0
    if rate != RATE:
        from scipy.signal import resample_poly

        divisor = gcd(RATE, rate)
        audio = resample_poly(audio, RATE // divisor, rate // divisor).astype(np.float32)
    return audio


def normalise(text: str) -> str:
    text = re.sub(r"[^\w\s']", " ", text.lower())
    return " ".join(text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="hub id or local folder")
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--mode", choices=["streaming", "offline"], default="streaming")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--limit", type=int, default=0, help="first N files only")
    args = parser.parse_args()

    import jiwer

    from inference.loading import load_asr
    from inference.medasr import StreamingTranscriber

    engine = load_asr(args.model, device=args.device)
    pairs = sorted(p for p in args.data.glob("*.wav") if p.with_suffix(".txt").is_file())
    if args.limit:
        pairs = pairs[: args.limit]
    if not pairs:
        raise SystemExit(f"no NAME.wav + NAME.txt pairs in {args.data}")
    references, hypotheses = [], []
    audio_s = compute_s = 0.0
    for path in pairs:
        audio = read_wav(path)
        start = time.perf_counter()
        if args.mode == "offline":
            clipped = audio[: int(args.max_seconds * RATE)]
            words = engine.words(engine.decode_batch([clipped])[0])
            text = " ".join(w.text for w in words)
        else:
            transcriber = StreamingTranscriber(engine)
            events = []
            step = int(0.1 * RATE)
            for i in range(0, len(audio), step):
                events += transcriber.feed(audio[i : i + step])
            events += transcriber.finish()
            text = " ".join(e.text for e in events if e.type == "final")
        compute_s += time.perf_counter() - start
        audio_s += len(audio) / RATE
        references.append(normalise(path.with_suffix(".txt").read_text()))
        hypotheses.append(normalise(text))
        print(f"{path.name}: {hypotheses[-1][:80]!r}")
    wer = jiwer.wer(references, hypotheses)
    label = " (RANDOM WEIGHTS)" if engine.info.random_weights else ""
    print(
        f"\n{len(pairs)} files, {audio_s:.0f} s of audio, {args.mode}: WER {wer:.1%}, "
        f"RTF {compute_s / audio_s:.3f} on {engine.info.device}{label}"
    )


if __name__ == "__main__":
    main()
