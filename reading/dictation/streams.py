"""One live dictation stream: its queued audio, the utterance being transcribed, how far
behind it is, and what its transcriber's events become (a final saved then sent, a
partial sent to the speaker and, ephemerally, to the reading session).

:mod:`reading.dictation.transcription` schedules the streams on the model's pool; it
takes work from a :class:`Stream` and hands the events back to :func:`deliver`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from channels.db import database_sync_to_async

from reading.dictation import services
from reading.dictation.models import SAMPLE_RATE, group_for_stream
from reading.reading_sessions import events as ev
from reading.reading_sessions.models import group_for_session

LAG_REPORT_S = 2.0  # the speaker is told once this much audio waits
LAG_CLEAR_S = 1.0  # ... and told it is over below this
LAG_EVERY_S = 1.0  # at most one lag message a second
PARTIAL_FIELDS = ("segment", "text", "ops", "words", "start", "end")


@dataclass
class Stream:
    """One socket's dictation, as the transcription service holds it."""

    id: str
    user: dict
    session: str | None
    items: deque = field(default_factory=deque)  # ("audio", utt, offset, bytes) | ("stop", utt)
    pending_samples: int = 0
    utterance: str | None = None
    transcriber: object = None
    fed: int = 0  # samples of the utterance given to the transcriber
    busy: bool = False
    lag_reported: bool = False
    lag_sent_at: float = 0.0
    warned: bool = False

    # -- input -------------------------------------------------------------------------

    def queue(self, message: dict) -> None:
        """Queue an ``asr.audio`` or ``asr.stop`` message (see consumers)."""
        if message["type"] == "asr.audio":
            pcm = message["pcm"]
            self.items.append(("audio", message["utterance"], message["offset"], pcm))
            self.pending_samples += len(pcm) // 2
        else:
            self.items.append(("stop", message["utterance"], message.get("offset", 0), b""))

    def take_work(self, limit: int):
        """The next piece of work: ``(utterance, [(offset, samples), ...])`` with up to
        ``limit`` samples of one utterance, ``(utterance, None)`` to finish the open
        utterance, or None (a stop for an utterance that never started)."""
        kind, utterance, offset, _ = self.items[0]
        if kind == "stop":
            self.items.popleft()
            if self.utterance != utterance or self.transcriber is None:
                return None if not self.items else self.take_work(limit)
            return utterance, None
        chunks, taken = [], 0
        while self.items and self.items[0][0] == "audio" and self.items[0][1] == utterance:
            _, _, offset, pcm = self.items.popleft()
            samples = np.frombuffer(pcm, dtype="<i2")
            self.pending_samples -= len(samples)
            chunks.append((offset, samples))
            taken += len(samples)
            if taken >= limit:
                break
        return utterance, chunks

    def has_more_audio(self, utterance: str) -> bool:
        """More of ``utterance`` is queued behind the work taken (a fresher partial next)."""
        return any(item[0] == "audio" and item[1] == utterance for item in self.items)

    def drop_audio(self) -> None:
        """Forget the queued audio (it is stored; nothing can transcribe it now)."""
        self.items.clear()
        self.pending_samples = 0

    # -- the utterance -----------------------------------------------------------------

    def open_utterance(self, utterance: str, new_transcriber) -> None:
        """Make ``utterance`` the one transcribed, with a transcriber from
        ``new_transcriber()`` when it is a new one."""
        if self.utterance != utterance:
            self.utterance = utterance
            self.transcriber = new_transcriber()
            self.fed = 0

    def close_utterance(self) -> None:
        self.transcriber = None
        self.utterance = None

    def contiguous(self, work) -> np.ndarray:
        """Join frames; drop what the transcriber already had, pad what it never got."""
        parts = []
        for offset, samples in work:
            if offset < self.fed:
                samples = samples[self.fed - offset :]
            elif offset > self.fed:
                parts.append(np.zeros(offset - self.fed, np.int16))
            parts.append(samples)
            self.fed += len(samples) + max(0, offset - self.fed)
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    # -- state -------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        return not self.items and not self.busy and self.transcriber is None

    def lag_message(self, now: float) -> dict | None:
        """A ``lag`` message when the speaker should hear how far behind the stream is
        (or that it caught up), else None."""
        behind = self.pending_samples / SAMPLE_RATE
        if behind >= LAG_REPORT_S and now - self.lag_sent_at >= LAG_EVERY_S:
            self.lag_reported, self.lag_sent_at = True, now
            return {"type": "lag", "behind_s": round(behind, 1)}
        if self.lag_reported and behind < LAG_CLEAR_S:
            self.lag_reported, self.lag_sent_at = False, now
            return {"type": "lag", "behind_s": 0.0}
        return None


# -- output ----------------------------------------------------------------------------


async def send(layer, stream_id: str, message: dict) -> None:
    """To the stream's socket (its group: the socket may live in another process)."""
    await layer.group_send(
        group_for_stream(stream_id), {"type": "dictation.message", "message": message}
    )


async def deliver(layer, stream: Stream, utterance: str, event, info) -> None:
    """One transcriber event out: a final is saved (durable, replayed) before it is sent;
    a partial goes to the speaker and, ephemeral, to the reading session."""
    data = event.as_dict()
    if event.type == "final":
        message = await database_sync_to_async(services.save_final)(
            utterance,
            data,
            decoder=getattr(event, "decoder", "greedy") or "greedy",
            model=info.source,
            random_weights=info.random_weights,
        )
        message.pop("user", None)
        message["audio_end"] = data["audio_end"]
        await send(layer, stream.id, message)
        return
    message = {
        "type": "partial",
        "stream": stream.id,
        "utterance": utterance,
        **{k: data[k] for k in PARTIAL_FIELDS},
        "audio_end": data["audio_end"],
        "random_weights": info.random_weights,
    }
    await send(layer, stream.id, message)
    if stream.session:
        payload = {k: v for k, v in message.items() if k not in ("type", "words")}
        payload["user"] = stream.user
        envelope = ev.ephemeral(ev.DICTATION_PARTIAL, payload)
        await layer.group_send(group_for_session(stream.session), ev.group_message(envelope))


def model_missing_message(exc) -> dict:
    """The ``error`` a speaker gets once when MedASR is not installed."""
    return {
        "type": "error",
        "code": "model_not_installed",
        "detail": f"{exc} (the audio is stored and can be transcribed later)",
        "instruction": getattr(exc, "instructions", ""),
    }
