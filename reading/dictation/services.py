"""Writes of the dictation app: streams, audio frames, utterances, final segments.

The only code that saves dictation rows, writes audio files or publishes
``dictation.final`` session events. Audio frames are stored exactly once: a frame
is appended only when its ``seq`` is the stream's ``last_seq + 1``, under a row
lock, and the file is first cut to the length the database records, so a crash
between the write and the commit cannot duplicate audio.
"""

from __future__ import annotations

import uuid
import wave
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from reading.dictation.models import SAMPLE_RATE, DictationStream, Segment, Utterance
from reading.reading_sessions import events as ev
from reading.reading_sessions.access import get_session_for_user
from reading.reading_sessions.eventlog import publish_event
from reading.studies.access import get_study_for_user

MAX_FRAME_SAMPLES = SAMPLE_RATE  # 1 s per frame at most


class StreamRefused(PermissionDenied):
    """The stream, session or study is not this user's to dictate into."""


def user_ref(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": str(user),
        "role": getattr(user, "role", ""),
    }


def audio_root() -> Path:
    return Path(settings.DATA_DIR) / "dictation"


def audio_file(utterance: Utterance) -> Path | None:
    return (Path(settings.DATA_DIR) / utterance.audio) if utterance.audio else None


@dataclass(frozen=True)
class Connected:
    stream_id: str
    study_uid: str
    session_id: str | None
    acked: int
    utterance: str | None
    user: dict


def connect_stream(user, study_uid: str, stream_id, session_id=None) -> Connected:
    """Check access (study, and session when given: accessible and on this study) and
    open or resume the stream. Raises PermissionDenied / Http404 / ValueError."""
    stream_id = uuid.UUID(str(stream_id))
    study = get_study_for_user(user, study_uid)
    session = None
    if session_id:
        session = get_session_for_user(user, session_id)
        if session.study_id != study.pk:
            raise StreamRefused("That session is on another study.")
    with transaction.atomic():
        stream, created = DictationStream.objects.select_for_update().get_or_create(
            id=stream_id, defaults={"user": user, "study": study, "session": session}
        )
        if not created and (stream.user_id != user.pk or stream.study_id != study.pk):
            raise StreamRefused("That dictation stream belongs to another user or study.")
        if not created and session is not None and stream.session_id != session.pk:
            stream.session = session
            stream.save(update_fields=["session", "updated_at"])
    return Connected(
        stream_id=str(stream.pk),
        study_uid=study.study_instance_uid,
        session_id=str(session.pk) if session else None,
        acked=stream.last_seq,
        utterance=str(stream.open_utterance_id) if stream.open_utterance_id else None,
        user=user_ref(user),
    )


@dataclass(frozen=True)
class Stored:
    status: str  # stored | duplicate | gap
    acked: int
    utterance: str | None = None
    offset: int = 0  # samples of the utterance before this frame


def store_frame(stream_id, seq: int, pcm: bytes) -> Stored:
    """Append one frame's PCM (int16 LE) to the stream's open utterance, exactly once."""
    with transaction.atomic():
        stream = DictationStream.objects.select_for_update().get(pk=stream_id)
        if seq <= stream.last_seq:
            return Stored("duplicate", stream.last_seq)
        if seq != stream.last_seq + 1:
            return Stored("gap", stream.last_seq)
        utterance = stream.open_utterance
        if utterance is None:
            utterance = Utterance(
                stream=stream,
                study_id=stream.study_id,
                user_id=stream.user_id,
                session_id=stream.session_id,
                first_seq=seq,
            )
            uid = stream.study.study_instance_uid
            utterance.audio = f"dictation/{uid}/{utterance.id}.pcm"
            utterance.save()
            stream.open_utterance = utterance
        path = audio_file(utterance)
        path.parent.mkdir(parents=True, exist_ok=True)
        offset = utterance.samples
        with open(path, "ab") as handle:
            handle.truncate(offset * 2)  # whatever a crashed write left beyond the record
            handle.write(pcm)
        utterance.samples = offset + len(pcm) // 2
        utterance.last_seq = seq
        utterance.save(update_fields=["samples", "last_seq", "audio"])
        stream.last_seq = seq
        stream.save(update_fields=["last_seq", "open_utterance", "updated_at"])
        return Stored("stored", seq, str(utterance.pk), offset)


def stop_utterance(stream_id) -> tuple[str, int] | None:
    """Close the open utterance: its raw PCM becomes a WAV file. Returns (id, samples)."""
    with transaction.atomic():
        stream = DictationStream.objects.select_for_update().get(pk=stream_id)
        utterance = stream.open_utterance
        if utterance is None:
            return None
        stream.open_utterance = None
        stream.save(update_fields=["open_utterance", "updated_at"])
        raw = audio_file(utterance)
        if raw is not None and raw.suffix == ".pcm" and raw.exists():
            wav = raw.with_suffix(".wav")
            write_wav(wav, raw.read_bytes()[: utterance.samples * 2])
            raw.unlink()
            utterance.audio = str(wav.relative_to(settings.DATA_DIR))
        utterance.ended_at = timezone.now()
        utterance.save(update_fields=["audio", "ended_at"])
        return str(utterance.pk), utterance.samples


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)


def wav_bytes(utterance: Utterance) -> bytes | None:
    """The utterance's audio as a WAV file (an open utterance's PCM gets a header)."""
    import io

    path = audio_file(utterance)
    if path is None or not path.exists():
        return None
    if path.suffix == ".wav":
        return path.read_bytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(path.read_bytes()[: utterance.samples * 2])
    return buffer.getvalue()


def final_message(segment: Segment, stream_id: str, user: dict | None = None) -> dict:
    message = {
        "type": "final",
        "stream": str(stream_id),
        "utterance": str(segment.utterance_id),
        "segment": segment.segment,
        "n": segment.n,
        "id": segment.pk,
        "text": segment.text,
        "ops": segment.ops,
        "words": segment.words,
        "start": segment.start,
        "end": segment.end,
        "random_weights": segment.random_weights,
    }
    if user is not None:
        message["user"] = user
    return message


def save_final(utterance_id: str, event: dict, *, decoder: str, model: str, random_weights: bool):
    """Store a final segment; in a session it becomes a durable ``dictation.final`` event.

    ``event`` is :meth:`inference.asr_protocol.TranscriptEvent.as_dict` with times in seconds
    from the utterance's start. Returns the message for the speaker.
    """
    with transaction.atomic():
        utterance = Utterance.objects.select_related("stream", "user").get(pk=utterance_id)
        stream = DictationStream.objects.select_for_update().get(pk=utterance.stream_id)
        stream.finals += 1
        stream.save(update_fields=["finals", "updated_at"])
        segment = Segment.objects.create(
            utterance=utterance,
            n=stream.finals,
            segment=event["segment"],
            text=event["text"],
            ops=event["ops"],
            words=event["words"],
            start=event["start"],
            end=event["end"],
            decoder=decoder,
            model=model[:300],
            random_weights=random_weights,
        )
        user = user_ref(utterance.user)
        message = final_message(segment, stream.pk, user)
        if utterance.session_id:
            payload = {k: v for k, v in message.items() if k != "type"}
            publish_event(utterance.session, ev.DICTATION_FINAL, payload, actor=utterance.user)
    return message


def finals_after(stream_id, n: int) -> list[dict]:
    """Finals of a stream with ``n`` above the client's last one (resent on reconnect)."""
    segments = Segment.objects.filter(utterance__stream_id=stream_id, n__gt=n).order_by("n")
    return [final_message(s, stream_id) for s in segments[:500]]


def purge_audio(days: int | None = None, now=None) -> int:
    """Delete audio files of utterances that ended more than ``days`` ago (the
    DICTATION_AUDIO_RETENTION_DAYS setting; 0 keeps everything). Transcripts stay."""
    days = settings.DICTATION_AUDIO_RETENTION_DAYS if days is None else days
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    purged = 0
    for utterance in Utterance.objects.filter(ended_at__lt=cutoff).exclude(audio=""):
        path = audio_file(utterance)
        if path is not None:
            path.unlink(missing_ok=True)
        utterance.audio = ""
        utterance.audio_purged_at = timezone.now()
        utterance.save(update_fields=["audio", "audio_purged_at"])
        purged += 1
    return purged
