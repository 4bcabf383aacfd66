"""The dictation socket with the tiny random-weight MedASR (its words are noise; the
tests check the path, never the words)."""

from __future__ import annotations

import struct
import uuid
import wave

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from reading.dictation.models import DictationStream, Segment, Utterance
from reading.dictation.services import audio_file
from reading.reading_sessions import services as session_services
from reading.reading_sessions.models import SessionEvent
from tests.dictation.conftest import Socket, frames, silence, speech

pytestmark = pytest.mark.django_db(transaction=True)


async def _ready(socket) -> dict:
    connected, code = await socket.connect()
    assert connected, code
    ready = await socket.recv()
    assert ready["type"] == "ready"
    return ready


async def _send_all(socket, chunks):
    for chunk in chunks:
        await socket.send_bytes(chunk)


async def test_audio_in_partials_and_finals_out_to_speaker_and_participants(
    medasr, dictate, attending, resident, ct_study, session
):
    guest = Socket(resident, f"/ws/sessions/{session.pk}/")
    assert (await guest.connect())[0]
    speaker = dictate(attending, ct_study, session=session)
    ready = await _ready(speaker)
    assert ready["acked"] == 0 and ready["model"]["installed"] is True
    assert ready["model"]["random_weights"] is True

    audio = np.concatenate([speech(1.6), silence(1.0), speech(0.8)])
    await _send_all(speaker, frames(audio))
    partial = await speaker.until("partial")
    assert {"stream", "utterance", "segment", "text", "ops", "words", "start", "end"} <= set(
        partial
    )
    final = await speaker.until("final")
    assert final["n"] == 1 and final["utterance"] == partial["utterance"]
    assert final["random_weights"] is True
    await speaker.send({"type": "stop"})
    stopped = await speaker.until("stopped")
    assert stopped["utterance"] == final["utterance"] and stopped["acked"] == len(frames(audio))
    last = await speaker.until("final", n=2)  # the flush of the open segment
    assert last["end"] <= len(audio) / 16000 + 0.05

    # The other participant: partials ephemeral (seq null), finals stored and numbered.
    seen_partial = await guest.until("dictation.partial")
    assert seen_partial["seq"] is None
    assert seen_partial["payload"]["user"]["id"] == attending.pk
    seen_final = await guest.until("dictation.final")
    assert seen_final["seq"] is not None
    assert seen_final["payload"]["utterance"] == final["utterance"]
    assert seen_final["payload"]["user"]["id"] == attending.pk
    assert "ops" in seen_final["payload"] and "text" in seen_final["payload"]

    stored = await sync_to_async(
        lambda: list(SessionEvent.objects.filter(session=session).values_list("type", flat=True))
    )()
    assert "dictation.final" in stored and "dictation.partial" not in stored

    utterance = await sync_to_async(Utterance.objects.get)(pk=final["utterance"])
    assert utterance.samples == len(audio) and utterance.ended_at is not None
    path = audio_file(utterance)
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (16000, 1, len(audio))
        assert np.array_equal(np.frombuffer(wav.readframes(len(audio)), "<i2"), audio)
    segments = await sync_to_async(lambda: list(Segment.objects.filter(utterance=utterance)))()
    assert [s.n for s in segments] == [1, 2]
    await speaker.close()
    await guest.close()


async def test_resend_after_reconnect_stores_each_frame_once(medasr, dictate, attending, ct_study):
    stream = uuid.uuid4()
    audio = speech(1.2, seed=3)
    chunks = frames(audio)  # 12 frames of 100 ms
    first = dictate(attending, ct_study, stream=stream)
    await _ready(first)
    await _send_all(first, chunks[:7])
    await first.until("ack", seq=7)
    await first.close()  # dropped mid-sentence; the client had acks up to 5 only

    again = dictate(attending, ct_study, stream=stream)
    ready = await _ready(again)
    assert ready["acked"] == 7 and ready["utterance"]
    await _send_all(again, chunks[5:])  # resends 6 and 7
    assert (await again.until("ack", seq=6))["seq"] == 6
    await again.until("ack", seq=12)
    await again.send({"type": "stop"})
    await again.until("stopped")

    row = await sync_to_async(DictationStream.objects.get)(pk=stream)
    assert row.last_seq == 12
    utterance = await sync_to_async(Utterance.objects.get)(pk=ready["utterance"])
    assert utterance.samples == len(audio)
    with wave.open(str(audio_file(utterance))) as wav:
        assert np.array_equal(np.frombuffer(wav.readframes(10**6), "<i2"), audio)
    await again.close()


async def test_finals_missed_while_away_are_sent_again(medasr, dictate, attending, ct_study):
    stream = uuid.uuid4()
    first = dictate(attending, ct_study, stream=stream)
    await _ready(first)
    await _send_all(first, frames(np.concatenate([speech(1.0), silence(1.0)])))
    final = await first.until("final")
    await first.close()
    back = dictate(attending, ct_study, stream=stream, finals=0)
    await _ready(back)
    resent = await back.recv()
    assert resent["type"] == "final" and resent["id"] == final["id"]
    await back.close()


async def test_outsider_and_anonymous_are_refused(dictate, outsider, ct_study):
    assert await dictate(outsider, ct_study).connect() == (False, 4403)
    assert await dictate(None, ct_study).connect() == (False, 4401)


async def test_session_of_another_study_is_refused(dictate, attending, ct_study, session):
    from reading.studies.models import Study
    from reading.studies.services import ingest_instance
    from tests.dicom_factory import make_ct_series, to_bytes

    def other_study():
        datasets = make_ct_series(1)
        assert ingest_instance(to_bytes(datasets[0])).ok
        return Study.objects.get(study_instance_uid=str(datasets[0].StudyInstanceUID))

    other = await sync_to_async(other_study)()
    assert await dictate(attending, other, session=session).connect() == (False, 4403)
    # And a stream of one user cannot be taken over by another.
    stream = uuid.uuid4()
    await _ready(dictate(attending, ct_study, stream=stream))
    resident = await sync_to_async(
        lambda: session_services.get_user_model().objects.create(username="r2", role="resident")
    )()
    assert await dictate(resident, ct_study, stream=stream).connect() == (False, 4403)
    assert await dictate(attending, ct_study, stream="not-a-uuid").connect() == (False, 4400)


async def test_malformed_oversized_and_out_of_order_frames(medasr, dictate, attending, ct_study):
    socket = dictate(attending, ct_study)
    await _ready(socket)
    await socket.send_bytes(b"\x01\x00")
    assert (await socket.until("error"))["code"] == "bad_frame"
    await socket.send_bytes(struct.pack("<I", 1) + b"\x00\x00\x00")  # odd PCM length
    assert (await socket.until("error"))["code"] == "bad_frame"
    await socket.send_bytes(struct.pack("<I", 1) + b"\x00\x00" * 16001)
    assert (await socket.until("error"))["code"] == "too_large"
    await socket.send_bytes(frames(speech(0.1), first_seq=3)[0])
    gap = await socket.until("error")
    assert (gap["code"], gap["expected"]) == ("out_of_order", 1)
    await socket.send("not json")
    assert (await socket.until("error"))["code"] == "bad_message"
    await socket.send({"type": "dance"})
    assert (await socket.until("error"))["code"] == "unknown_type"
    # Still usable.
    await socket.send_bytes(frames(speech(0.1))[0])
    assert (await socket.until("ack"))["seq"] == 1
    await socket.send({"type": "ping"})
    assert (await socket.until("pong"))["acked"] == 1
    await socket.close()


async def test_model_missing_is_said_and_audio_still_stored(settings, dictate, attending, ct_study):
    settings.MEDASR_MODEL = ""
    socket = dictate(attending, ct_study)
    ready = await _ready(socket)
    model = ready["model"]
    assert model["installed"] is False
    assert "MEDASR_MODEL=" in model["instruction"]
    assert "build_tiny_models" in model["instruction"]
    await _send_all(socket, frames(speech(0.3)))
    error = await socket.until("error")
    assert error["code"] == "model_not_installed" and "MEDASR_MODEL=" in error["instruction"]
    # The error comes when loading fails (importing torch first), before or after the acks.
    if not any(m["type"] == "ack" and m.get("seq") == 3 for m in socket.seen):
        await socket.until("ack", seq=3)
    await socket.send({"type": "stop"})
    stopped = await socket.until("stopped")
    utterance = await sync_to_async(Utterance.objects.get)(pk=stopped["utterance"])
    assert utterance.samples == int(0.3 * 16000)
    await socket.close()
