"""Every WebSocket consumer refuses oversized messages and closes once its session is idle.

Oversized: a typed ``too_large`` error and the socket keeps its state (the report's
Yjs socket closes 1009 and its cursor goes). Idle: the server closes with 4408 even
when the client keeps sending pings, and the Django session is ended.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from importlib import import_module

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from reading.accounts.middleware import LAST_ACTIVITY_KEY
from reading.reading_sessions import services as session_services
from reading.reading_sessions.models import Participant, PresenceState
from reading.reports.models import Report
from reading.routing import websocket_urlpatterns
from reading.sockets import CLOSE_IDLE, CLOSE_TOO_LARGE
from reading.studies.models import Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def study(transactional_db):
    ds = make_ct_series(1)[0]
    assert ingest_instance(to_bytes(ds)).ok
    return Study.objects.get(study_instance_uid=str(ds.StudyInstanceUID))


@pytest.fixture
def reading_session(study, attending):
    return session_services.create_session(study=study, host=attending, title="Board")


def _socket(user, path, session_key=None):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    comm.scope["user"] = user
    if session_key:
        comm.scope["session"] = import_module(django_settings.SESSION_ENGINE).SessionStore(
            session_key
        )
    return comm


async def _open(user, path, session_key=None):
    comm = _socket(user, path, session_key)
    connected, code = await comm.connect(timeout=5)
    assert connected, code
    return comm


async def _json_until(comm, kind, timeout=3.0):
    while True:
        message = json.loads(await comm.receive_from(timeout=timeout))
        if message["type"] == kind:
            return message


def _paths(study, reading_session):
    uid = study.study_instance_uid
    return {
        "worklist": "/ws/worklist/",
        "ai": f"/ws/ai/studies/{uid}/",
        "session": f"/ws/sessions/{reading_session.pk}/",
        "dictation": f"/ws/dictation/{uid}/?stream={uuid.uuid4()}",
    }


# -- message size --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["worklist", "ai", "dictation"])
async def test_oversized_text_and_binary_get_an_error_and_the_socket_lives_on(
    settings, name, attending, study, reading_session
):
    settings.WEBSOCKET_MAX_TEXT_BYTES = 2000
    settings.WEBSOCKET_MAX_BINARY_BYTES = 50_000
    comm = await _open(attending, _paths(study, reading_session)[name])
    # UTF-8 bytes count, not characters: 700 × "é" is 1400 bytes, 1100 × is 2200.
    await comm.send_to(
        text_data=json.dumps({"type": "ping", "pad": "é" * 1100}, ensure_ascii=False)
    )
    error = await _json_until(comm, "error")
    assert (error["code"], error["limit"]) == ("too_large", 2000)  # dictation's 4 KiB is above
    await comm.send_to(bytes_data=b"\x01" * 50_001)
    error = await _json_until(comm, "error")
    assert (error["code"], error["limit"]) == ("too_large", 50_000)
    await comm.send_to(text_data=json.dumps({"type": "ping", "pad": "é" * 700}, ensure_ascii=False))
    assert (await _json_until(comm, "pong"))["type"] == "pong"
    await comm.disconnect()


async def test_dictation_keeps_its_own_smaller_text_limit(attending, study, reading_session):
    comm = await _open(attending, _paths(study, reading_session)["dictation"])
    await _json_until(comm, "ready")
    await comm.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 5000}))
    error = await _json_until(comm, "error")
    assert (error["code"], error["limit"]) == ("too_large", 4096)
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    assert (await _json_until(comm, "pong"))["acked"] == 0
    await comm.disconnect()


async def test_session_refuses_oversized_messages_and_keeps_the_participant(
    settings, attending, resident, study, reading_session
):
    settings.WEBSOCKET_MAX_TEXT_BYTES = 4096
    path = _paths(study, reading_session)["session"]
    host = await _open(attending, path)
    guest = await _open(resident, path)
    await _json_until(guest, "participant.joined")
    await guest.send_to(text_data=json.dumps({"type": "chat.send", "text": "x" * 5000}))
    error = await _json_until(guest, "error")
    assert error["payload"]["code"] == "too_large"
    await guest.send_to(bytes_data=b"\x00" * (settings.WEBSOCKET_MAX_BINARY_BYTES + 1))
    assert (await _json_until(guest, "error"))["payload"]["code"] == "too_large"
    # Still joined, still in the group: a chat from the host reaches it, in sequence.
    await host.send_to(text_data=json.dumps({"type": "chat.send", "text": "hello", "ref": 1}))
    chat = await _json_until(guest, "chat.message")
    assert chat["payload"]["text"] == "hello"
    await guest.send_to(text_data=json.dumps({"type": "ping", "ref": 2}))
    assert (await _json_until(guest, "pong"))["payload"]["last_seq"] == chat["seq"]
    online = Participant.objects.filter(session_id=reading_session.pk).exclude(
        state=PresenceState.OFFLINE
    )
    assert await sync_to_async(online.count)() == 2
    await guest.disconnect()
    await _json_until(host, "participant.left")
    assert await sync_to_async(online.count)() == 1
    await host.disconnect()


async def test_report_socket_closes_1009_and_its_cursor_goes(settings, attending, study):
    from tests.reports.coedit_client import Editor

    settings.WEBSOCKET_MAX_BINARY_BYTES = 10_000
    report = await sync_to_async(Report.objects.create)(study=study, text="x", created_by=attending)
    a, b = Editor(attending, report.pk), Editor(attending, report.pk)
    assert (await a.connect())[0] and (await b.connect())[0]
    await a.announce(77, 1, '{"user":{"name":"A"}}')
    await b.drain()
    await a.comm.send_to(bytes_data=b"\x00" * 10_001)
    assert await a.comm.receive_output(timeout=2) == {
        "type": "websocket.close",
        "code": CLOSE_TOO_LARGE,
    }
    await a.comm.send_input({"type": "websocket.disconnect", "code": CLOSE_TOO_LARGE})
    await b.drain()
    assert b.awareness[-1].endswith(b"null")  # client 77 is gone for the other editor
    await b.edit(lambda t: t.insert(0, "Still editing. "))
    await b.drain()
    await b.comm.disconnect()
    text = await sync_to_async(lambda: Report.objects.get(pk=report.pk).text)()
    assert text.startswith("Still editing. ")


# -- idle logoff ---------------------------------------------------------------------------


def _logged_in_session_key(user) -> str:
    client = Client()
    client.force_login(user)  # notes the first activity (accounts/signals.py)
    return client.session.session_key


def _touch(session_key):
    store = import_module(django_settings.SESSION_ENGINE).SessionStore(session_key)
    store[LAST_ACTIVITY_KEY] = time.time()
    store.save()


def _session_exists(session_key) -> bool:
    return import_module(django_settings.SESSION_ENGINE).SessionStore().exists(session_key)


async def _pinging_until_closed(comm, timeout):
    """Send pings (which are no user activity) until the server closes; returns the code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await comm.send_to(text_data=json.dumps({"type": "ping"}))
        # receive_nothing, not a receive_output that times out: that would stop the consumer.
        while not await comm.receive_nothing(timeout=0.3):
            output = await comm.receive_output(timeout=1)
            if output["type"] == "websocket.close":
                return output.get("code")
    raise AssertionError("the socket was not closed")


@pytest.mark.parametrize("name", ["worklist", "ai", "session", "dictation"])
async def test_idle_sessions_sockets_are_closed_despite_pings(
    settings, name, attending, study, reading_session
):
    settings.SESSION_IDLE_TIMEOUT = 1
    key = await sync_to_async(_logged_in_session_key)(attending)
    comm = await _open(attending, _paths(study, reading_session)[name], key)
    started = time.monotonic()
    assert await _pinging_until_closed(comm, timeout=6) == CLOSE_IDLE
    assert 1 <= time.monotonic() - started < 4
    assert not await sync_to_async(_session_exists)(key)  # logged off on the server too
    await comm.send_input({"type": "websocket.disconnect", "code": CLOSE_IDLE})
    if name == "session":
        await asyncio.sleep(0.3)
        participant = Participant.objects.filter(session_id=reading_session.pk, user=attending)
        assert (await sync_to_async(participant.get)()).state == PresenceState.OFFLINE


async def test_every_socket_of_an_idle_page_says_idle(settings, attending, study, reading_session):
    # The viewer's sockets all reach the deadline at once; the first ends the session,
    # the others find it gone: the page must read 4408 from each (it shows the reason).
    settings.SESSION_IDLE_TIMEOUT = 1
    key = await sync_to_async(_logged_in_session_key)(attending)
    paths = _paths(study, reading_session)
    comms = [await _open(attending, paths[name], key) for name in ("ai", "dictation", "session")]
    codes = await asyncio.gather(*(_pinging_until_closed(c, timeout=6) for c in comms))
    assert codes == [CLOSE_IDLE] * 3
    assert not await sync_to_async(_session_exists)(key)


async def test_report_socket_is_closed_when_idle(settings, attending, study):
    settings.SESSION_IDLE_TIMEOUT = 1
    report = await sync_to_async(Report.objects.create)(study=study, text="x", created_by=attending)
    key = await sync_to_async(_logged_in_session_key)(attending)
    comm = await _open(attending, f"/ws/reports/{report.pk}/", key)
    deadline = time.monotonic() + 5
    output = {}
    while output.get("type") != "websocket.close" and time.monotonic() < deadline:
        if not await comm.receive_nothing(timeout=0.2):
            output = await comm.receive_output(timeout=1)
    assert output == {"type": "websocket.close", "code": CLOSE_IDLE}


async def test_activity_elsewhere_keeps_the_socket_open(settings, attending, study):
    settings.SESSION_IDLE_TIMEOUT = 2
    key = await sync_to_async(_logged_in_session_key)(attending)
    comm = await _open(attending, "/ws/worklist/", key)
    await asyncio.sleep(1.5)
    await sync_to_async(_touch)(key)  # a page request or the page's activity report
    assert await comm.receive_nothing(timeout=2.0)  # past the first deadline (2 s + 1 s)
    started = time.monotonic()
    assert await _pinging_until_closed(comm, timeout=5) == CLOSE_IDLE
    assert time.monotonic() - started < 3


async def test_a_session_logged_out_elsewhere_closes_4401(settings, attending, study):
    settings.SESSION_IDLE_TIMEOUT = 1
    key = await sync_to_async(_logged_in_session_key)(attending)
    store = import_module(django_settings.SESSION_ENGINE).SessionStore(key)
    await sync_to_async(store.delete)(key)
    comm = await _open(attending, "/ws/worklist/", key)
    assert await _pinging_until_closed(comm, timeout=4) == 4401


# -- the server-level cap -----------------------------------------------------------------


def test_every_daphne_command_caps_websocket_messages_at_the_binary_limit():
    import re
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    limit = str(django_settings.WEBSOCKET_MAX_BINARY_BYTES)
    texts = [
        (root / "deploy" / "Procfile").read_text(),
        (root / "deploy" / "systemd" / "reading-room-web@.service").read_text(),
    ]
    make = (root / "Makefile").read_text()
    assert f"WEBSOCKET_MAX_BINARY_BYTES ?= {limit}" in make
    texts.append(make.replace("$(WEBSOCKET_MAX_BINARY_BYTES)", limit))
    commands = [
        line for text in texts for line in text.splitlines() if re.search(r"daphne -b", line)
    ]
    assert len(commands) == 4
    for line in commands:
        argv = shlex.split(line.split("=", 1)[-1].split(": ", 1)[-1].strip().strip('"'))
        for option in ("--websocket-max-message-size", "--websocket-max-frame-size"):
            assert argv[argv.index(option) + 1] == limit, line


@pytest.mark.slow
def test_daphne_itself_closes_1009_beyond_the_server_cap(settings, attending):
    """A real Daphne started as deploy/ starts it: over the cap the server fails the
    connection (1009); between the application's limit and the cap, a typed error."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tests.scaleout.cluster import Cluster, cookie_for

    cookie = cookie_for(attending)
    with Cluster(settings.STORAGE_DIR, web=1) as cluster:
        host = cluster.urls[0].split("//", 1)[1]
        options = {
            "origin": f"http://{host}",
            "additional_headers": {"Cookie": f"sessionid={cookie}"},
            "max_size": None,
        }
        with connect(f"ws://{host}/ws/worklist/", **options) as ws:
            ws.send(json.dumps({"type": "ping", "pad": "x" * 100_000}))
            error = json.loads(ws.recv(timeout=10))
            assert (error["code"], error["limit"]) == ("too_large", 65536)
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
            ws.send(b"\x00" * (django_settings.WEBSOCKET_MAX_BINARY_BYTES + 1))
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == CLOSE_TOO_LARGE
