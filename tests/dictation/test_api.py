"""Stored dictation over REST: segments and audio for readers of the study only."""

from __future__ import annotations

import io
import uuid
import wave
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from reading.dictation import services
from reading.dictation.models import Utterance
from tests.dictation.conftest import speech

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def utterance(attending, ct_study):
    stream = uuid.uuid4()
    services.connect_stream(attending, ct_study.study_instance_uid, stream)
    audio = speech(0.5)
    for seq, start in enumerate(range(0, len(audio), 1600), start=1):
        assert services.store_frame(stream, seq, audio[start : start + 1600].tobytes()).status == (
            "stored"
        )
    assert services.store_frame(stream, 2, b"\x00\x00").status == "duplicate"
    utterance_id, samples = services.stop_utterance(stream)
    assert samples == len(audio)
    event = {
        "segment": 0,
        "text": "Lungs clear.",
        "ops": [
            {"op": "text", "text": "Lungs clear"},
            {"op": "punct", "text": ".", "attach": "left"},
        ],
        "words": [
            {"text": "lungs", "start": 0.04, "end": 0.2},
            {"text": "clear", "start": 0.24, "end": 0.4},
        ],
        "start": 0.04,
        "end": 0.4,
    }
    services.save_final(utterance_id, event, decoder="greedy", model="tiny", random_weights=True)
    return Utterance.objects.get(pk=utterance_id), audio


def test_segments_and_audio_for_a_reader(client, resident, ct_study, utterance):
    row, audio = utterance
    client.force_login(resident)
    listing = client.get(f"/api/dictation/utterances/?study={ct_study.study_instance_uid}")
    assert listing.status_code == 200
    assert [u["id"] for u in listing.json()["results"]] == [str(row.pk)]
    detail = client.get(f"/api/dictation/utterances/{row.pk}/").json()
    assert detail["segments"][0]["words"][1] == {"text": "clear", "start": 0.24, "end": 0.4}
    assert detail["text"] == "Lungs clear." and detail["duration_s"] == 0.5
    response = client.get(detail["audio_url"])
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wav:
        assert wav.getframerate() == 16000
        assert np.array_equal(np.frombuffer(wav.readframes(10**6), "<i2"), audio)


def test_outsider_gets_nothing(client, outsider, ct_study, utterance):
    row, _ = utterance
    client.force_login(outsider)
    assert client.get(f"/api/dictation/utterances/{row.pk}/").status_code == 403
    assert client.get(f"/api/dictation/utterances/{row.pk}/audio.wav").status_code == 403
    listing = client.get(f"/api/dictation/utterances/?study={ct_study.study_instance_uid}")
    assert listing.status_code == 403
    client.logout()
    assert client.get(f"/api/dictation/utterances/{row.pk}/").status_code in (302, 401, 403)


def test_retention_deletes_old_audio_and_keeps_transcripts(settings, client, resident, utterance):
    row, _ = utterance
    path = services.audio_file(row)
    assert path.exists()
    settings.DICTATION_AUDIO_RETENTION_DAYS = 0
    assert services.purge_audio() == 0  # 0 keeps everything
    settings.DICTATION_AUDIO_RETENTION_DAYS = 30
    assert services.purge_audio(now=timezone.now() + timedelta(days=29)) == 0
    assert services.purge_audio(now=timezone.now() + timedelta(days=31)) == 1
    assert not path.exists()
    client.force_login(resident)
    detail = client.get(f"/api/dictation/utterances/{row.pk}/").json()
    assert detail["audio_url"] is None and detail["segments"][0]["text"] == "Lungs clear."
    assert client.get(f"/api/dictation/utterances/{row.pk}/audio.wav").status_code == 404
