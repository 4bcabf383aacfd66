"""What a MedASR stream takes and gives: its settings, 16 kHz PCM in, transcript events out.

:class:`inference.medasr.StreamingTranscriber` is configured by :class:`StreamSettings`,
reads chunks through :func:`to_float32` and emits :class:`TranscriptEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.asr_engine import Word
from inference.commands import Op


@dataclass(frozen=True)
class StreamSettings:
    """Window, step and pause detection of the streaming transcriber (seconds, dBFS)."""

    # 6 s / 1 s: four live streams keep partials within 1 s on two CPU cores with int8
    # (docs/benchmarks.md); a GPU affords a longer window and a shorter step.
    window_s: float = 6.0
    step_s: float = 1.0
    pause_s: float = 0.6
    silence_dbfs: float = -40.0
    preroll_s: float = 0.3
    right_context_s: float = 1.0
    # Partials decode the trailing audio earlier partials have not fixed, with this much
    # left context; a word is fixed once partial_right_s of audio follows it. None: every
    # partial re-decodes the whole open segment (the costlier original scheme).
    partial_context_s: float | None = 0.5
    partial_right_s: float = 0.5

    def __post_init__(self):
        if not 0 < self.step_s <= self.window_s:
            raise ValueError("step_s must be in (0, window_s]")
        if self.right_context_s * 2 >= self.window_s:
            raise ValueError("window_s must exceed twice right_context_s")


@dataclass
class TranscriptEvent:
    """One message of the protocol: ``partial`` (may be revised) or ``final`` (never is).

    ``start``/``end`` come from the CTC frames of the first and last token (40 ms
    each); ``audio_start``/``audio_end`` are the bounds of the decoded audio.
    Times are seconds from the start of the stream.
    """

    type: str
    segment: int
    text: str
    ops: list[Op]
    words: list[Word]
    start: float
    end: float
    audio_start: float
    audio_end: float
    reason: str = ""  # for finals: pause, window, finish
    decoder: str = "greedy"  # finals: kenlm-beam when the model folder has an LM

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "segment": self.segment,
            "text": self.text,
            "ops": [op.as_dict() for op in self.ops],
            "words": [{"text": w.text, "start": w.start, "end": w.end} for w in self.words],
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "audio_start": round(self.audio_start, 3),
            "audio_end": round(self.audio_end, 3),
            "reason": self.reason,
        }


def to_float32(chunk) -> np.ndarray:
    """PCM as float32 in [-1, 1]: int16 is scaled, floats are kept, bytes are int16 LE."""
    if isinstance(chunk, bytes | bytearray | memoryview):
        chunk = np.frombuffer(chunk, dtype="<i2")
    array = np.asarray(chunk)
    if array.ndim != 1:
        raise ValueError("expected mono PCM (a 1-D array)")
    if array.dtype == np.int16:
        return array.astype(np.float32) / 32768.0
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    raise TypeError(f"PCM must be int16 or float, got {array.dtype}")
