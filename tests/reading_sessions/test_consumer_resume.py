"""The session WebSocket when things go wrong: resume after a disconnect, gaps and dropped
events filled from the log, malformed input, concurrent edits converging."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async

from reading.annotations.models import Annotation
from reading.annotations.services import create_annotation, update_annotation
from reading.reading_sessions import eventlog
from reading.reading_sessions.models import (
    ReadingSession,
    SessionEvent,
)
from tests.reading_sessions.session_helpers import join_session, length_annotation

pytestmark = pytest.mark.django_db(transaction=True)


async def test_resume_after_disconnect_misses_nothing_repeats_nothing(
    ws, attending, resident, session, sop_uids
):
    host = await join_session(ws, attending, session)
    follower = await join_session(ws, resident, session)
    await follower.until("participant.joined")
    await host.send({"type": "chat.send", "text": "one"})
    last = (await follower.until("chat.message"))["seq"]
    await follower.close()  # the laptop lid closes
    await host.until("participant.left")
    for text in ("two", "three"):
        await host.send({"type": "chat.send", "text": text})
    await host.send({"type": "annotation.create", "annotation": length_annotation(sop_uids[0])})
    await host.until("annotation.created")

    back = await join_session(ws, resident, session, after=last)
    replayed = [await back.recv() for _ in range(5)]
    types = [m["type"] for m in replayed]
    assert types == [
        "participant.left",
        "chat.message",
        "chat.message",
        "annotation.created",
        "participant.joined",
    ]
    seqs = [m["seq"] for m in replayed]
    assert seqs == list(range(last + 1, last + 6))
    assert [m["payload"]["text"] for m in replayed if m["type"] == "chat.message"] == [
        "two",
        "three",
    ]
    # Then live events continue from there, no repeat.
    await host.send({"type": "chat.send", "text": "four"})
    live = await back.until("chat.message")
    assert live["seq"] == seqs[-1] + 1
    # An explicit resume message replays again from the asked point, in order.
    await back.send({"type": "resume", "after": last})
    again = [await back.recv() for _ in range(6)]
    assert [m["seq"] for m in again] == list(range(last + 1, last + 7))


async def test_gap_in_live_events_is_filled_from_the_log(ws, attending, session):
    host = await join_session(ws, attending, session)
    joined = await host.until("participant.joined")

    def store_without_broadcast():
        # An event whose broadcast is late (another process): only the next arrives live.
        ReadingSession.objects.filter(pk=session.pk).update(last_seq=joined["seq"] + 1)
        SessionEvent.objects.create(
            session=session, seq=joined["seq"] + 1, type="chat.message", payload={"text": "late"}
        )

    await sync_to_async(store_without_broadcast)()
    await sync_to_async(eventlog.publish_event)(session, "dictation.final", {"text": "next"})
    first, second = await host.recv(), await host.recv()
    assert (first["seq"], first["payload"]) == (joined["seq"] + 1, {"text": "late"})
    assert (second["seq"], second["type"]) == (joined["seq"] + 2, "dictation.final")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_message"),
        ("[1, 2]", "unknown_type"),
        ('{"type": "nonsense"}', "unknown_type"),
        ('{"no": "type"}', "unknown_type"),
        (json.dumps({"type": "chat.send", "text": "x" * 70_000}), "too_large"),
        ('{"type": "resume", "after": "a"}', "bad_message"),
        ('{"type": "presence", "state": "asleep"}', "invalid"),
        ('{"type": "chat.send", "text": ""}', "invalid"),
        ('{"type": "annotation.update", "id": "nope", "changes": {}}', "not_found"),
    ],
)
async def test_malformed_messages_get_an_error_and_disturb_nobody(
    ws, attending, resident, session, raw, code
):
    host = await join_session(ws, attending, session)
    other = await join_session(ws, resident, session)
    await other.until("participant.joined")
    await host.until("participant.joined")
    await host.until("participant.joined")
    await host.comm.send_to(text_data=raw)
    error = await host.until("error")
    assert error["payload"]["code"] == code
    assert await other.nothing()
    # The connection still works.
    await host.send({"type": "ping", "ref": "p"})
    assert (await host.until("pong"))["payload"]["ref"] == "p"


async def test_last_writer_wins_everyone_converges(ws, attending, resident, session, sop_uids):
    annotation = await sync_to_async(create_annotation)(
        study=session.study, author=attending, data=length_annotation(sop_uids[0])
    )
    a = await join_session(ws, attending, session)
    b = await join_session(ws, resident, session)
    await b.until("participant.joined")
    # Both edit the same annotation at once.
    await a.send(
        {"type": "annotation.update", "id": str(annotation.pk), "changes": {"label": "from A"}}
    )
    await b.send(
        {"type": "annotation.update", "id": str(annotation.pk), "changes": {"label": "from B"}}
    )
    views = []
    for client in (a, b):
        state = {}
        for _ in range(2):
            event = await client.until("annotation.updated")
            state = event["payload"]  # apply in seq order
        views.append(state)
    stored = await sync_to_async(Annotation.objects.get)(pk=annotation.pk)
    assert views[0] == views[1]
    assert views[0]["label"] == stored.label and views[0]["version"] == stored.version == 3


async def test_update_from_outside_the_socket_reaches_session(ws, attending, session, sop_uids):
    annotation = await sync_to_async(create_annotation)(
        study=session.study, author=attending, data=length_annotation(sop_uids[0])
    )
    host = await join_session(ws, attending, session)
    await host.until("participant.joined")
    await sync_to_async(update_annotation)(annotation, actor=attending, changes={"text": "t"})
    assert (await host.until("annotation.updated"))["payload"]["text"] == "t"


async def test_dropped_last_event_is_caught_up_on_ping(ws, attending, session):
    host = await join_session(ws, attending, session)
    joined = await host.until("participant.joined")

    def store_without_broadcast():
        # The channel layer dropped this one (a full queue) and nothing came after it.
        ReadingSession.objects.filter(pk=session.pk).update(last_seq=joined["seq"] + 1)
        SessionEvent.objects.create(
            session=session, seq=joined["seq"] + 1, type="chat.message", payload={"text": "lost"}
        )

    await sync_to_async(store_without_broadcast)()
    assert await host.nothing()
    await host.send({"type": "ping", "ref": "hb"})
    caught_up = await host.recv()
    assert (caught_up["seq"], caught_up["payload"]) == (joined["seq"] + 1, {"text": "lost"})
    pong = await host.recv()
    assert pong["type"] == "pong" and pong["payload"]["last_seq"] == joined["seq"] + 1


async def test_dropped_last_event_is_caught_up_when_the_stream_goes_quiet(
    ws, attending, session, monkeypatch
):
    from reading.reading_sessions import consumers

    monkeypatch.setattr(consumers, "QUIET_CHECK_SECONDS", 0.3)
    host = await join_session(ws, attending, session)
    await host.until("participant.joined")
    await sync_to_async(eventlog.publish_event)(session, "ai.job.progress", {"text": "a"})
    live = await host.until("ai.job.progress")

    def store_without_broadcast():
        ReadingSession.objects.filter(pk=session.pk).update(last_seq=live["seq"] + 1)
        SessionEvent.objects.create(
            session=session, seq=live["seq"] + 1, type="dictation.final", payload={"text": "b"}
        )

    await sync_to_async(store_without_broadcast)()
    caught_up = await host.recv(timeout=3)
    assert (caught_up["seq"], caught_up["type"]) == (live["seq"] + 1, "dictation.final")
