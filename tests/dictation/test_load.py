"""The transcription service behind real time: partials are coalesced or skipped, finals and
audio never are (tiny random-weight MedASR; no database: delivery is captured)."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from reading.dictation import transcription
from tests.dictation.conftest import RATE, silence, speech


async def _transcribe_backlog(service, audio: np.ndarray) -> list:
    delivered = []

    async def deliver(stream, utterance, event):
        delivered.append(event)

    service._deliver = deliver
    n = RATE // 10
    for offset in range(0, len(audio), n):  # all of it queued before the pool runs once
        pcm = audio[offset : offset + n].astype("<i2").tobytes()
        service.submit(
            {"type": "asr.audio", "stream": "s1", "utterance": "u1", "offset": offset, "pcm": pcm}
            | {"user": {}, "session": None}
        )
    service.submit({"type": "asr.stop", "stream": "s1", "utterance": "u1", "user": {}})
    deadline = time.monotonic() + 60
    stream = service.streams["s1"]
    while stream.items or stream.busy or stream.transcriber is not None:
        assert time.monotonic() < deadline, delivered
        await asyncio.sleep(0.05)
    return delivered


async def test_a_stream_behind_gets_fewer_partials_and_every_final(medasr, monkeypatch):
    monkeypatch.setattr(transcription, "MAX_FEED_S", 1.0)  # the backlog is taken 1 s a round
    audio = np.concatenate([speech(3.0, 1), silence(1.0), speech(2.2, 2), silence(1.0)])
    service = transcription.TranscriptionService(1)
    try:
        events = await _transcribe_backlog(service, audio)
    finally:
        await service.close()
    finals = [e for e in events if e.type == "final"]
    partials = [e for e in events if e.type == "partial"]
    # Both utterances are final, whole, in order; unhurried they would have had 5 partials.
    assert [(f.segment, f.reason) for f in finals] == [(0, "pause"), (1, "pause")]
    assert finals[0].audio_start <= 0.01 and 3.0 <= finals[0].audio_end < 4.0
    assert finals[1].audio_start >= finals[0].audio_end and finals[1].audio_end >= 6.2
    assert len(partials) <= 1


def test_partials_are_spaced_out_when_the_pool_is_busy(settings):
    settings.DICTATION_WORKERS = 1
    service = transcription.TranscriptionService.__new__(transcription.TranscriptionService)
    service.workers, service.batches = 1, transcription.deque()
    assert service.partial_stretch() == 1.0
    now = time.monotonic()
    service.batches.extend([(now - 1, 1.5), (now, 1.5)])  # 3 s busy of the last 5 s
    assert service.busy_fraction(now) == 0.6
    assert service.partial_stretch() == 1.2
    service.batches.extend([(now, 5.0), (now, 5.0)])
    assert service.partial_stretch() == transcription.MAX_PARTIAL_STRETCH
    service.batches = transcription.deque([(now - 60, 5.0)])  # long ago
    assert service.partial_stretch() == 1.0
