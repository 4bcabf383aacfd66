"""The annotation event path: one transaction with the change; publishing from the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from reading.annotations.models import Annotation
from reading.annotations.services import create_annotation
from reading.reading_sessions import receivers
from reading.reading_sessions.models import SessionEvent
from reading.realtime import group_send, run_and_publish, send_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


def _length(sop_uid, label="L"):
    return {
        "sop_instance_uid": sop_uid,
        "tool": "length",
        "geometry": {"points": [[1, 1], [9, 9]]},
        "label": label,
    }


def test_the_session_event_commits_with_the_annotation(session, attending, sop_uids, monkeypatch):
    def broken_append(*args, **kwargs):
        raise RuntimeError("event log unavailable")

    monkeypatch.setattr(receivers, "append_event", broken_append)
    with pytest.raises(RuntimeError):
        create_annotation(study=session.study, author=attending, data=_length(sop_uids[0]))
    # The change and its event are one transaction: neither is stored.
    assert not Annotation.objects.exists()
    assert not SessionEvent.objects.filter(type="annotation.created").exists()


def test_the_event_is_stored_in_the_annotations_transaction(session, attending, sop_uids):
    with transaction.atomic():
        created = create_annotation(
            study=session.study, author=attending, data=_length(sop_uids[0])
        )
        event = SessionEvent.objects.get(session=session, type="annotation.created")
        assert event.payload["id"] == str(created.pk)
        transaction.set_rollback(True)
    assert not SessionEvent.objects.filter(type="annotation.created").exists()


async def test_run_and_publish_publishes_after_the_write_in_order():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("bench.group", channel)
    sent = threading.Event()

    def write():
        for n in range(3):
            with transaction.atomic():
                send_on_commit("bench.group", {"type": "x.event", "n": n})
        sent.set()
        time.sleep(0.6)  # still running: nothing may have been published yet
        return "done"

    # A receive waiting all along (cancelling one would unsubscribe the Redis layer's).
    first = asyncio.ensure_future(layer.receive(channel))
    task = asyncio.ensure_future(run_and_publish(write))
    while not sent.is_set():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    assert not first.done()
    assert await task == "done"
    got = [await asyncio.wait_for(first, 2)]
    got += [await asyncio.wait_for(layer.receive(channel), 2) for _ in range(2)]
    assert [m["n"] for m in got] == [0, 1, 2]
    # Outside run_and_publish a send goes at once.
    await sync_to_async(group_send)("bench.group", {"type": "x.event", "n": 9})
    assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 9


async def test_run_and_publish_publishes_what_committed_before_an_error():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("bench.group", channel)

    def write_then_fail():
        with transaction.atomic():
            send_on_commit("bench.group", {"type": "x.event", "n": 1})
        raise ValueError("refused after the first commit")

    with pytest.raises(ValueError):
        await run_and_publish(write_then_fail)
    assert (await asyncio.wait_for(layer.receive(channel), 1))["n"] == 1
