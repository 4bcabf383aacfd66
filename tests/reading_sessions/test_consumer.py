"""The session WebSocket: who may join, and every event type."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from reading.annotations.models import Source
from reading.annotations.services import create_annotation
from reading.reading_sessions import eventlog, services
from reading.reading_sessions.models import (
    ChatMessage,
    Participant,
    ReadingSession,
    SessionEvent,
)
from tests.reading_sessions.session_helpers import join_session, length_annotation

pytestmark = pytest.mark.django_db(transaction=True)


async def test_host_connects_gets_state_and_own_join(ws, attending, session):
    client = await join_session(ws, attending, session)
    state = await client.recv()
    assert state["type"] == "session.state" and state["seq"] is None
    assert state["payload"]["id"] == str(session.pk)
    assert state["payload"]["last_seq"] >= 1
    joined = await client.recv()
    assert joined["type"] == "participant.joined"
    assert joined["seq"] == 2  # 1 is session.started
    assert joined["payload"]["user"]["username"] == attending.username
    assert joined["payload"]["role"] == "attending"
    assert joined["payload"]["colour"].startswith("#")
    await client.close()
    left = await sync_to_async(SessionEvent.objects.get)(session=session, type="participant.left")
    assert left.seq == 3


async def test_outsider_and_anonymous_are_refused(ws, outsider, session):
    from django.contrib.auth.models import AnonymousUser

    connected, code = await ws(outsider, session).connect()
    assert (connected, code) == (False, 4403)
    connected, code = await ws(AnonymousUser(), session).connect()
    assert not connected
    assert not await sync_to_async(Participant.objects.filter(user=outsider).exists)()


async def test_resident_and_invited_user_join(ws, attending, resident, django_user_model, session):
    invited = await sync_to_async(django_user_model.objects.create_user)(
        "res2", password="pw-res2-xx", role="resident"
    )
    await sync_to_async(services.invite_users)(session, by=attending, usernames=["res2"])
    host = await join_session(ws, attending, session)
    await host.until("participant.joined")
    for user in (resident, invited):
        client = await join_session(ws, user, session)
        await client.until("participant.joined")
        event = await host.until("participant.joined")
        assert event["payload"]["user"]["username"] == user.username
        assert event["payload"]["role"] == "resident"


async def test_deactivated_user_is_disconnected_and_cannot_return(ws, resident, session):
    client = await join_session(ws, resident, session)
    await client.until("participant.joined")
    resident.is_active = False
    await sync_to_async(resident.save)()
    # What the accounts/worklist side sends when an admin deactivates someone.
    await get_channel_layer().group_send(f"user.{resident.pk}", {"type": "user.disconnect"})
    output = await client.comm.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": 4401}
    connected, code = await ws(resident, session).connect()
    assert (connected, code) == (False, 4403)


async def test_presence_presenter_and_chat_events(ws, attending, resident, session):
    host = await join_session(ws, attending, session)
    guest = await join_session(ws, resident, session)
    await guest.until("participant.joined")
    await guest.send({"type": "presence", "state": "idle", "ref": "p1"})
    idle = await host.until("participant.idle")
    assert idle["payload"]["state"] == "idle"
    ack = await guest.until("ack")
    assert ack["payload"] == {"ref": "p1", "type": "presence", "seq": idle["seq"]}
    await guest.send({"type": "presence", "state": "active"})
    assert (await host.until("participant.active"))["payload"]["user"]["id"] == resident.pk

    await guest.send({"type": "presenter.request"})
    request = await host.until("presenter.requested")
    assert request["payload"]["user"]["id"] == resident.pk
    # A follower cannot take the role; the host hands it over.
    await guest.send({"type": "presenter.set", "user_id": resident.pk, "ref": "x"})
    error = await guest.until("error")
    assert error["payload"]["code"] == "forbidden" and error["payload"]["ref"] == "x"
    await host.send({"type": "presenter.set", "user_id": resident.pk})
    changed = await guest.until("presenter.changed")
    assert changed["payload"]["presenter"]["id"] == resident.pk
    assert changed["payload"]["previous"]["id"] == attending.pk

    await guest.send({"type": "chat.send", "text": "Look at the left lower lobe"})
    chat = await host.until("chat.message")
    assert chat["payload"]["text"] == "Look at the left lower lobe"
    assert chat["payload"]["author"]["username"] == resident.username
    message = await sync_to_async(ChatMessage.objects.get)()
    assert message.study_id == session.study_id  # kept with the study


async def test_viewport_only_from_presenter_throttled_latest_kept(ws, attending, resident, session):
    host = await join_session(ws, attending, session)
    follower = await join_session(ws, resident, session)
    await follower.until("participant.joined")
    for i in range(40):
        await host.send({"type": "viewport.update", "viewport": {"slice": i, "series": "s1"}})
    received = []
    # (A receive that times out would cancel the consumer: ask for "nothing" first.)
    while not await follower.nothing(timeout=0.5):
        message = await follower.recv()
        if message["type"] == "viewport.changed":
            received.append(message)
    assert received, "no viewport.changed"
    assert all(m["seq"] is None for m in received)
    assert received[-1]["payload"]["viewport"] == {"slice": 39, "series": "s1"}  # the latest
    assert len(received) <= 5  # 40 sent in a burst, ~20/s passed on
    stored = await sync_to_async(ReadingSession.objects.get)(pk=session.pk)
    assert stored.viewport == {"slice": 39, "series": "s1"}
    assert not await sync_to_async(SessionEvent.objects.filter(type="viewport.changed").exists)()
    # A follower streaming its viewport gets an error; nobody else hears it.
    await follower.send({"type": "viewport.update", "viewport": {"slice": 1}})
    assert (await follower.until("error"))["payload"]["code"] == "forbidden"
    # A late joiner gets the latest viewport in its state.
    late = await join_session(ws, attending, session)
    state = await late.until("session.state")
    assert state["payload"]["viewport"] == {"slice": 39, "series": "s1"}


async def test_pointer_is_ephemeral_with_colour(ws, attending, resident, session):
    host = await join_session(ws, attending, session)
    follower = await join_session(ws, resident, session)
    await follower.until("participant.joined")
    await host.send({"type": "pointer.move", "pointer": {"x": 10.5, "y": 3, "viewport": 0}})
    pointer = await follower.until("pointer.moved")
    assert pointer["seq"] is None
    assert pointer["payload"]["pointer"] == {"x": 10.5, "y": 3, "viewport": 0}
    assert pointer["payload"]["user"] == attending.pk
    assert pointer["payload"]["colour"].startswith("#")


async def test_annotation_events_over_websocket_and_rest(
    ws, attending, resident, session, sop_uids, client
):
    host = await join_session(ws, attending, session)
    follower = await join_session(ws, resident, session)
    await follower.until("participant.joined")
    await host.send(
        {"type": "annotation.create", "annotation": length_annotation(sop_uids[0]), "ref": "a1"}
    )
    created = await follower.until("annotation.created")
    annotation_id = created["payload"]["id"]
    assert created["payload"]["author"]["username"] == attending.username
    assert created["payload"]["geometry"]["points"] == [[1.0, 1.0], [9.0, 9.0]]
    ack = await host.until("ack")
    assert ack["payload"]["id"] == annotation_id and ack["payload"]["ref"] == "a1"

    await follower.send(
        {"type": "annotation.update", "id": annotation_id, "changes": {"label": "L2"}}
    )
    updated = await host.until("annotation.updated")
    assert updated["payload"]["label"] == "L2" and updated["payload"]["version"] == 2

    # A change through REST reaches the session too (the same serializer output).
    await sync_to_async(client.force_login)(resident)
    response = await sync_to_async(client.delete)(f"/api/annotations/{annotation_id}/")
    assert response.status_code == 204
    deleted = await host.until("annotation.deleted")
    assert deleted["payload"]["deleted_at"] is not None and deleted["payload"]["version"] == 3

    finding = await sync_to_async(create_annotation)(
        study=session.study,
        author=None,
        source=Source.AI,
        provenance={"model": "m", "job_id": 1},
        data={
            "sop_instance_uid": sop_uids[1],
            "tool": "ai_box",
            "geometry": {"points": [[1, 1], [4, 4]]},
        },
    )
    ai = await follower.until("annotation.created")
    assert ai["payload"]["source"] == "ai" and ai["payload"]["review_state"] == "pending"
    await follower.send({"type": "annotation.review", "id": str(finding.pk), "decision": "accept"})
    reviewed = await host.until("annotation.reviewed")
    assert reviewed["payload"]["review_state"] == "accepted"
    assert reviewed["payload"]["reviewed_by"]["id"] == resident.pk

    # Invalid geometry over the socket: an error for the sender only.
    while not await follower.nothing(timeout=0.3):
        await follower.recv()
    bad = {**length_annotation(sop_uids[0]), "geometry": {"points": [[1, "x"], [2, 2]]}}
    await host.send({"type": "annotation.create", "annotation": bad})
    assert (await host.until("error"))["payload"]["code"] == "invalid"
    assert await follower.nothing()


async def test_reserved_types_are_published_by_services(ws, attending, session):
    host = await join_session(ws, attending, session)
    await host.until("participant.joined")
    for kind, payload in [
        ("dictation.final", {"text": "No focal consolidation."}),
        ("ai.job.progress", {"job_id": 3, "progress": 0.5}),
        ("ai.finding", {"job_id": 3, "annotation_id": "x"}),
    ]:
        await sync_to_async(eventlog.publish_event)(session, kind, payload)
        event = await host.until(kind)
        assert event["payload"] == payload and event["seq"] is not None
    with pytest.raises(ValueError):
        await sync_to_async(eventlog.publish_event)(session, "chat.message", {})
    with pytest.raises(ValueError):  # ephemeral: sent by the dictation app, never stored
        await sync_to_async(eventlog.publish_event)(session, "dictation.partial", {})
    # Clients cannot send server event types.
    await host.send({"type": "ai.finding", "payload": {}})
    assert (await host.until("error"))["payload"]["code"] == "unknown_type"


async def test_session_end_only_by_host_closes_sockets(ws, attending, resident, session):
    host = await join_session(ws, attending, session)
    guest = await join_session(ws, resident, session)
    await guest.until("participant.joined")
    await guest.send({"type": "session.end"})
    assert (await guest.until("error"))["payload"]["code"] == "forbidden"
    await host.send({"type": "session.end"})
    ended = await guest.until("session.ended")
    assert ended["payload"]["status"] == "ended"
    assert (await guest.comm.receive_output(timeout=2))["type"] == "websocket.close"
    connected, code = await ws(resident, session).connect()
    assert (connected, code) == (False, 4410)
