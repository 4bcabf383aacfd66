"""Spoken test audio: ``espeak-ng`` (Debian package, ``make chromium`` installs it) resampled
to what the dictation socket carries, 16 kHz mono int16, for Chromium's fake microphone."""

from __future__ import annotations

import shutil
import subprocess
import wave
from math import gcd
from pathlib import Path

import numpy as np

RATE = 16000


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples of a PCM WAV (first channel) and its rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, "16-bit PCM expected"
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels())[:, 0], w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def rms(samples: np.ndarray) -> float:
    """Root mean square on the -1..1 scale."""
    x = samples.astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def spoken_wav(text: str, path: Path, *, pad_s: float = 0.3) -> Path:
    """``text`` spoken by espeak-ng, resampled (scipy's polyphase filter) to 16 kHz mono.

    ``pad_s`` of silence on each side gives the utterance its pauses.
    """
    from scipy.signal import resample_poly

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is missing: run `make chromium` (apt-get install espeak-ng)")
    raw = path.with_suffix(".espeak.wav")
    subprocess.run([espeak, "-s", "150", "-w", str(raw), text], check=True)
    samples, rate = read_wav(raw)
    g = gcd(RATE, rate)
    resampled = resample_poly(samples.astype(np.float64), RATE // g, rate // g)
    pad = np.zeros(int(pad_s * RATE))
    out = np.clip(np.round(np.concatenate([pad, resampled, pad])), -32768, 32767)
    raw.unlink()
    return write_wav(path, out.astype(np.int16))
