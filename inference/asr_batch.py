"""MedASR beyond one live stream: several streams fed at once, and whole recordings offline.

Each :class:`inference.medasr.StreamingTranscriber` yields its decode requests from a
generator; :func:`feed_many` collects the pending request of every stream and decodes
them together in batched forward passes. :func:`transcribe` runs a whole recording
through the same streaming path.
"""

from __future__ import annotations

import numpy as np

from inference.asr_engine import AsrEngine, length_groups
from inference.asr_protocol import StreamSettings, TranscriptEvent, to_float32
from inference.medasr import StreamingTranscriber


def feed_many(engine: AsrEngine, work: list[tuple], on_done=None) -> list[list[TranscriptEvent]]:
    """Feed one chunk to each of several streams, batching their decodes.

    ``work`` holds ``(transcriber, chunk)`` or ``(transcriber, chunk, partial)``
    (``partial=False``: skip this chunk's partial). Each round collects the
    pending request of every stream and decodes them together (in length
    groups); results are identical to feeding the streams one by one. A chunk
    of ``None`` means "finish this stream". ``on_done(index, events)`` is called
    as each stream's work completes (from the calling thread).
    """
    generators = [
        (t.finish_requests() if chunk is None else t.feed_requests(chunk, *rest))
        for t, chunk, *rest in work
    ]
    results: list[list[TranscriptEvent] | None] = [None] * len(work)
    pending: dict[int, np.ndarray] = {}
    for index, generator in enumerate(generators):
        try:
            pending[index] = next(generator)
        except StopIteration as stop:
            results[index] = stop.value
            if on_done is not None:
                on_done(index, stop.value or [])
    while pending:
        requests, pending = pending, {}
        order = list(requests)
        # Shortest first: a stream whose only request is a partial is done (and
        # ``on_done`` hears of it) before the long finals of the round are decoded.
        for group in length_groups([len(requests[i]) for i in order]):
            indices = [order[g] for g in group]
            decoded = engine.logprobs_batch([requests[i] for i in indices])
            for index, logprobs in zip(indices, decoded, strict=True):
                try:
                    pending[index] = generators[index].send(logprobs)
                except StopIteration as stop:
                    results[index] = stop.value
                    if on_done is not None:
                        on_done(index, stop.value or [])
    return [r or [] for r in results]


def transcribe(
    engine: AsrEngine, audio, settings: StreamSettings | None = None, chunk_s: float = 5.0
) -> list[TranscriptEvent]:
    """Offline transcription of a whole recording through the same streaming path; finals only."""
    samples = to_float32(audio)
    transcriber = StreamingTranscriber(engine, settings)
    step = int(chunk_s * engine.sample_rate)
    events: list[TranscriptEvent] = []
    for i in range(0, len(samples), step):
        events.extend(transcriber.feed(samples[i : i + step]))
    events.extend(transcriber.finish())
    return [e for e in events if e.type == "final"]
