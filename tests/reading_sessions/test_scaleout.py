"""PostgreSQL + Redis: sequence numbers under concurrency, and two Daphne processes."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection

from reading.reading_sessions import eventlog
from reading.reading_sessions.models import SessionEvent
from tests.reading_sessions.wsclient import WSClient

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


def test_concurrent_writers_get_unique_gapless_seqs(session, attending):
    writers, per_writer = 8, 15
    barrier = threading.Barrier(writers)
    errors = []

    def write(n):
        try:
            barrier.wait()
            for i in range(per_writer):
                eventlog.publish_event(session, "ai.job.progress", {"w": n, "i": i})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = list(
        SessionEvent.objects.filter(session=session).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, writers * per_writer + 2))  # + session.started
    session.refresh_from_db()
    assert session.last_seq == seqs[-1]
    # Each writer's own events are in its order.
    for n in range(writers):
        mine = [
            e.payload["i"]
            for e in SessionEvent.objects.filter(session=session, type="ai.job.progress").order_by(
                "seq"
            )
            if e.payload["w"] == n
        ]
        assert mine == list(range(per_writer))


@pytest.fixture
def two_servers(transactional_db):
    from tests.browser.conftest import _server_env, start_server, stop_server

    env = _server_env()
    servers = [start_server(env) for _ in range(2)]
    yield [url for _, url in servers]
    for proc, _ in servers:
        stop_server(proc)


def _cookie(client, user):
    try:
        client.force_login(user)
        return client.cookies["sessionid"].value
    finally:
        # This runs in asgiref's worker thread: leave no connection open on the test
        # database, or it cannot be dropped at the end of the run.
        connection.close()


async def test_events_cross_between_two_daphne_processes(
    two_servers, session, attending, resident, sop_uids, client
):
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    a_cookie = await sync_to_async(_cookie)(client, attending)
    r_cookie = await sync_to_async(_cookie)(client.__class__(), resident)
    path = f"/ws/sessions/{session.pk}/"
    server_a, server_b = two_servers
    host = await WSClient.open(server_a, path, a_cookie)
    guest = await WSClient.open(server_b, path, r_cookie)
    joined = await host.until("participant.joined", timeout=10, role="resident")
    assert joined["payload"]["user"]["id"] == resident.pk

    await host.send({"type": "chat.send", "text": "from A"})
    chat = await guest.until("chat.message")
    assert chat["payload"]["text"] == "from A"

    await guest.send(
        {
            "type": "annotation.create",
            "annotation": {
                "sop_instance_uid": sop_uids[0],
                "tool": "length",
                "geometry": {"points": [[0, 0], [3, 4]]},
            },
        }
    )
    created = await host.until("annotation.created")
    assert created["payload"]["author"]["id"] == resident.pk

    await host.send({"type": "viewport.update", "viewport": {"slice": 7}})
    viewport = await guest.until("viewport.changed")
    assert viewport["payload"]["viewport"] == {"slice": 7}

    # Idle for longer than channels_redis's 5 s blocking pop: both sockets survive.
    await asyncio.sleep(7)
    await host.send({"type": "chat.send", "text": "still there?"})
    assert (await guest.until("chat.message", text="still there?"))["seq"]

    # The guest drops off; meanwhile A posts; the guest comes back on the other server.
    last = (await host.until("chat.message", text="still there?"))["seq"]
    await guest.close()
    await host.until("participant.left")
    await host.send({"type": "chat.send", "text": "while you were away"})
    missed = await host.until("chat.message", text="while you were away")
    back = await WSClient.open(server_a, f"{path}?after={last}", r_cookie)
    replayed = [(await back.recv())[1] for _ in range(3)]
    assert [m["seq"] for m in replayed] == [last + 1, last + 2, last + 3]
    assert replayed[1]["seq"] == missed["seq"]
    assert replayed[1]["payload"]["text"] == "while you were away"

    # Deactivation announced on one process closes the socket on the other.
    await get_channel_layer().group_send(f"user.{attending.pk}", {"type": "user.disconnect"})
    closed = await host.until("_closed", timeout=10)
    assert closed["code"] == 4401
    await back.close()
