"""The scale-out deployment in miniature: two Daphne processes, a Huey worker and the
transcription worker on PostgreSQL + Redis (docs/deploy.md).

Participants on different Daphne processes see each other's session events, a
dictation final transcribed by the separate worker, and an AI result computed by
the Huey worker; every web and worker process is its own OS process, as deployed.
Models are tiny random-weight ones (``inference/tiny.py``): the test asserts on the
pipeline, never on words.
"""

from __future__ import annotations

import asyncio
import uuid

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from huey.contrib.djhuey import HUEY

from reading.ai import services as ai_services
from reading.reading_sessions import services as session_services
from tests.ai.conftest import _seed, series_uid
from tests.dictation.conftest import frames, silence, speech
from tests.reading_sessions.wsclient import WSClient
from tests.scaleout.cluster import Cluster, closing, cookie_for

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def study(transactional_db):
    return _seed(("Chest radiograph",))["Chest radiograph PA"]


@pytest.fixture
def cluster(transactional_db, tiny_medgemma, tiny_medasr, settings):
    HUEY.immediate = False  # this process enqueues into Redis like a web process
    HUEY.flush()
    with Cluster(
        settings.STORAGE_DIR, medgemma=tiny_medgemma, medasr=tiny_medasr, web=2
    ) as running:
        yield running
    HUEY.flush()
    HUEY.immediate = True


async def test_participants_on_two_processes_share_events_dictation_and_ai(
    cluster, study, attending, resident, client
):
    session = await sync_to_async(closing(session_services.create_session))(
        study=study, host=attending, title="scale-out"
    )
    a_cookie = await sync_to_async(cookie_for)(attending)
    r_cookie = await sync_to_async(cookie_for)(resident)
    path = f"/ws/sessions/{session.pk}/"
    server_a, server_b = cluster.urls
    host = await WSClient.open(server_a, path, a_cookie)
    guest = await WSClient.open(server_b, path, r_cookie)
    assert (await host.until("participant.joined", timeout=20, role="resident"))["seq"]

    await guest.send({"type": "chat.send", "text": "from B"})
    assert (await host.until("chat.message", timeout=10, text="from B"))["seq"]

    # Dictation on A; the transcription worker answers through Redis; the final is a
    # durable session event that reaches the guest on B.
    stream = uuid.uuid4()
    uid = study.study_instance_uid
    dictation = await WSClient.open(
        server_a, f"/ws/dictation/{uid}/?stream={stream}&session={session.pk}", a_cookie
    )
    ready = (await dictation.recv(timeout=10))[1]
    assert ready["type"] == "ready" and ready["model"]["random_weights"]
    for chunk in frames(np.concatenate([speech(1.5), silence(1.0)])):
        await dictation.connection.send(chunk)
    final = await dictation.until("final", timeout=120)  # the worker loads its model first
    heard = await guest.until("dictation.final", timeout=30)
    assert heard["seq"] and heard["payload"]["id"] == final["id"]
    await dictation.close()

    # An AI analysis requested from a web process runs in the Huey worker; its result
    # reaches both servers' participants.
    job = await sync_to_async(closing(ai_services.request_analysis))(
        attending,
        uid,
        await sync_to_async(closing(series_uid))(study),
        "findings",
        session=session,
        parameters={"max_new_tokens": 16, "min_new_tokens": 16},
    )
    for participant in (host, guest):
        done = await participant.until("ai.job.done", timeout=180, job_id=str(job.pk))
        assert done["seq"] and done["payload"]["status"] == "done"
        assert done["payload"]["random_weights"]
    assert cluster.alive(), cluster.logs()
    await asyncio.gather(host.close(), guest.close())
