"""Hostile input gets a 4xx or an error event: never a 500, a 1011 close or a ghost."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from reading.reading_sessions.models import ChatMessage, Participant
from tests.reading_sessions.conftest import ct_study, session, ws  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)
HUGE = "1" + "0" * 30
MANY = ",".join(f"1.2.3.{i}" for i in range(5000))


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


@pytest.mark.parametrize(
    "path",
    [
        f"/dicomweb/studies?limit={HUGE}",
        f"/dicomweb/studies?offset={HUGE}",
        f"/dicomweb/studies?StudyInstanceUID={MANY}",
        f"/dicomweb/studies?PatientID={MANY}",
        f"/api/sessions/?limit={HUGE}",
        f"/api/sessions/?offset={HUGE}",
        "/api/sessions/?study=" + "x" * 5000,
        f"/api/worklist/?limit={HUGE}",
        f"/api/worklist/?offset={HUGE}",
    ],
)
def test_huge_numbers_and_long_lists_are_client_errors(client, attending, ct_study, path):  # noqa: F811
    client.force_login(attending)
    response = client.get(path)
    assert response.status_code < 500, (path[:80], response.status_code)


def test_session_events_with_huge_after(client, attending, session):  # noqa: F811
    client.force_login(attending)
    response = client.get(f"/api/sessions/{session.pk}/events?after={HUGE}&limit={HUGE}")
    assert response.status_code < 500


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": []}',
        '{"type": {"a": 1}}',
        '{"type": "chat.send", "ref": [], "text": []}',
        "[" * 100_000 + "]" * 100_000,
        '{"type": "chat.send", "text": ' + "[" * 200 + "]" * 200 + "}",
        '{"type": "chat.send", "text": "\\ud800 lone"}',
        '{"type": "chat.send", "text": "nul \\u0000 here"}',
        '{"type": "annotation.create", "annotation": {"label": "\\udfff"}}',
        "null",
        "12",
    ],
)
async def test_session_socket_answers_hostile_messages_with_an_error(
    ws,  # noqa: F811
    attending,
    session,  # noqa: F811
    raw,
):
    client = ws(attending, session)
    connected, _ = await client.connect()
    assert connected
    await client.until("participant.joined")
    await client.comm.send_to(text_data=raw)
    error = await client.until("error")
    assert error["payload"]["code"] in ("bad_message", "unknown_type", "invalid", "too_large")
    # Still connected and present.
    await client.send({"type": "ping", "ref": "p"})
    await client.until("pong")
    connected_now = await database_sync_to_async(
        lambda: Participant.objects.get(session=session, user=attending).connections
    )()
    assert connected_now >= 1
    # Read back and looked at here: PostgreSQL refuses NUL even inside a LIKE pattern.
    stored = await database_sync_to_async(
        lambda: list(ChatMessage.objects.values_list("text", flat=True))
    )()
    assert not any("\x00" in text for text in stored)
    await client.close()


async def test_worklist_socket_answers_binary_and_bad_frames(attending):
    from reading.worklist.consumers import WorklistConsumer

    comm = WebsocketCommunicator(WorklistConsumer.as_asgi(), "/ws/worklist/")
    comm.scope["user"] = attending
    assert (await comm.connect())[0]
    for frame in ({"bytes_data": b"\x00\x01"}, {"text_data": "not json"}, {"text_data": "[]"}):
        await comm.send_to(**frame)
        assert (await comm.receive_json_from(timeout=2))["type"] == "error"
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from(timeout=2) == {"type": "pong"}
    await comm.disconnect()
