"""The worklist WebSocket: readers only; events for arrival, claim, status; forced logout."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from reading.accounts import services as accounts
from reading.studies.services import ingest_instance
from reading.worklist import assignment, claims, transitions
from reading.worklist.consumers import WorklistConsumer
from tests.dicom_factory import make_dataset, to_bytes
from tests.worklist.conftest import build_study

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    """The ORM calls run on asgiref's worker thread; close its connection so the
    test database can be dropped (PostgreSQL keeps it open for CONN_MAX_AGE)."""
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


async def connect(user):
    comm = WebsocketCommunicator(WorklistConsumer.as_asgi(), "/ws/worklist/")
    comm.scope["user"] = user
    connected, code = await comm.connect()
    return comm, connected, code


async def test_non_readers_are_refused(outsider, admin_user):
    for user in (AnonymousUser(), outsider, admin_user):
        comm, connected, code = await connect(user)
        assert not connected and code == 4403, user


async def test_reader_receives_claim_and_status_events(attending, resident):
    study = await database_sync_to_async(build_study)(accession="WS-1")
    comm, connected, _ = await connect(attending)
    assert connected
    await database_sync_to_async(claims.claim_study)(resident, study)
    event = await comm.receive_json_from(timeout=2)
    assert event["type"] == "worklist.study_claimed"
    assert event["payload"]["accession_number"] == "WS-1"
    assert event["payload"]["claimed_by"]["username"] == resident.username
    await database_sync_to_async(transitions.set_reading_status)(resident, study, "preliminary")
    event = await comm.receive_json_from(timeout=2)
    assert event["type"] == "worklist.status_changed"
    assert event["payload"]["reading_status"] == "preliminary"
    assert event["seq"] > 1
    await database_sync_to_async(claims.release_claim)(resident, study)
    assert (await comm.receive_json_from(timeout=2))["type"] == "worklist.claim_released"
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=2) == {"type": "pong"}
    await comm.disconnect()


async def test_arrival_and_update_events_from_ingest(attending):
    comm, connected, _ = await connect(attending)
    assert connected
    ds = make_dataset(accession="WS-ARRIVE")
    await database_sync_to_async(ingest_instance)(to_bytes(ds))
    event = await comm.receive_json_from(timeout=2)
    assert event["type"] == "worklist.study_arrived"
    assert event["payload"]["accession_number"] == "WS-ARRIVE"
    assert event["payload"]["images"] == 1
    ds2 = make_dataset(
        study_uid=ds.StudyInstanceUID, series_uid=ds.SeriesInstanceUID, accession="WS-ARRIVE"
    )
    await database_sync_to_async(ingest_instance)(to_bytes(ds2))
    event = await comm.receive_json_from(timeout=2)
    assert event["type"] == "worklist.study_updated" and event["payload"]["images"] == 2
    await comm.disconnect()


async def test_priority_and_assignment_events(attending, resident, admin_user):
    study = await database_sync_to_async(build_study)()
    comm, _, _ = await connect(attending)
    await database_sync_to_async(assignment.set_priority)(admin_user, [study.pk], "stat")
    event = await comm.receive_json_from(timeout=2)
    assert event["type"] == "worklist.priority_changed" and event["payload"]["priority"] == "stat"
    await database_sync_to_async(assignment.assign_studies)(admin_user, [study.pk], resident)
    event = await comm.receive_json_from(timeout=2)
    assert event["type"] == "worklist.study_assigned"
    assert event["payload"]["assigned_to"]["username"] == resident.username
    await comm.disconnect()


async def test_deactivation_closes_the_users_sockets(resident, admin_user, attending):
    res_comm, ok, _ = await connect(resident)
    att_comm, ok2, _ = await connect(attending)
    assert ok and ok2
    await database_sync_to_async(accounts.deactivate_user)(admin_user, resident)
    out = await res_comm.receive_output(timeout=2)
    assert out == {"type": "websocket.close", "code": 4401}
    assert await att_comm.receive_nothing(timeout=0.2)
    await att_comm.disconnect()


async def test_losing_the_clinical_role_closes_sockets(resident, admin_user):
    comm, ok, _ = await connect(resident)
    assert ok
    await database_sync_to_async(accounts.set_role)(admin_user, resident, "none")
    out = await comm.receive_output(timeout=2)
    assert out["type"] == "websocket.close"


@pytest.mark.scaleout
async def test_claim_event_and_forced_close_through_redis(attending, resident, admin_user):
    """The same path on channels_redis (what several Daphne processes share)."""
    from django.conf import settings

    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis.")
    study = await database_sync_to_async(build_study)(accession="WS-REDIS")
    att, ok, _ = await connect(attending)
    res, ok2, _ = await connect(resident)
    assert ok and ok2
    await database_sync_to_async(claims.claim_study)(resident, study)
    for comm in (att, res):
        event = await comm.receive_json_from(timeout=3)
        assert event["type"] == "worklist.study_claimed"
        assert event["payload"]["accession_number"] == "WS-REDIS"
    await database_sync_to_async(accounts.deactivate_user)(admin_user, resident)
    closed = await res.receive_output(timeout=3)
    while closed.get("type") != "websocket.close":  # the claim release event comes first
        closed = await res.receive_output(timeout=3)
    assert closed["code"] == 4401
    await att.disconnect()
