"""A Daphne process restarted during a session: its clients reconnect and resume with
nothing lost or doubled - session events (resume from the last ``seq``), dictation
audio (resend after ``acked``), report edits (Yjs sync with the document kept).

Runs on whatever the run is configured with (SQLite + in-memory layer, or
PostgreSQL + Redis); the server is a real Daphne process killed with SIGTERM and
started again on its port, the clients real WebSocket clients.
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from reading.dictation.models import Utterance
from reading.reading_sessions.models import SessionEvent
from reading.reports.models import Report
from tests.faults.wsbytes import RawSocket, YEditor
from tests.reading_sessions.wsclient import WSClient
from tests.scaleout.cluster import Cluster, closing, cookie_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RATE = 16000
TEMPLATE = "FINDINGS:\n«___»\n"


@pytest.fixture
def server(transactional_db, settings):
    with Cluster(settings.STORAGE_DIR, web=1) as cluster:
        yield cluster


def _frames(count: int) -> list[bytes]:
    rng = np.random.default_rng(7)
    return [
        struct.pack("<I", seq) + rng.integers(-3000, 3000, RATE // 10, dtype="<i2").tobytes()
        for seq in range(1, count + 1)
    ]


def _stored_pcm(stream_id) -> bytes:
    # After "stop" the server turns the open utterance's .pcm into a .wav: a row read just
    # before that names a file that is gone a moment later, so read again.
    deadline = time.monotonic() + 10
    while True:
        try:
            return _read_stored_pcm(stream_id)
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _read_stored_pcm(stream_id) -> bytes:
    out = b""
    for utterance in Utterance.objects.filter(stream_id=stream_id).order_by("first_seq"):
        path = Path(settings.DATA_DIR) / utterance.audio
        if path.suffix == ".wav":
            with wave.open(str(path)) as wav:
                out += wav.readframes(wav.getnframes())
        else:
            out += path.read_bytes()[: utterance.samples * 2]
    return out


async def _seen_until(client: WSClient, text: str, seqs: list[int]) -> None:
    """Read ``client``'s messages up to the chat ``text``, noting every durable ``seq``."""
    while True:
        _, message = await client.recv(timeout=20)
        if message.get("seq"):
            seqs.append(message["seq"])
        if message["type"] == "chat.message" and message["payload"]["text"] == text:
            return


async def test_clients_resume_after_a_restart_with_nothing_lost_or_doubled(
    server, session, attending, resident
):
    report = await sync_to_async(closing(Report.objects.create))(
        study_id=session.study_id, text=TEMPLATE, created_by=resident
    )
    a_cookie = await sync_to_async(cookie_for)(attending)
    r_cookie = await sync_to_async(cookie_for)(resident)
    (url,) = server.urls
    path = f"/ws/sessions/{session.pk}/"
    host = await WSClient.open(url, path, a_cookie)
    guest = await WSClient.open(url, path, r_cookie)
    host_seqs: list[int] = []
    await guest.send({"type": "chat.send", "text": "before"})
    await _seen_until(host, "before", host_seqs)

    stream = uuid.uuid4()
    dictation_path = (
        f"/ws/dictation/{session.study.study_instance_uid}/?stream={stream}&session={session.pk}"
    )
    frames = _frames(12)
    dictation = await RawSocket.open(url, dictation_path, a_cookie)
    assert (await dictation.json("ready"))["acked"] == 0
    for frame in frames[:5]:
        await dictation.send(frame)
    assert (await dictation.json("ack", seq=5))["seq"] == 5
    for frame in frames[5:8]:  # in flight when the server goes: some may never be stored
        await dictation.send(frame)

    editor = await YEditor.open(url, f"/ws/reports/{report.pk}/", a_cookie)
    await editor.edit(lambda t: t.insert(len(t), "Typed before. "))
    await editor.drain()

    server.stop_web(0)
    for client in (host, guest):
        assert (await client.until("_closed", timeout=20))["code"] is not None
    await dictation.closed(timeout=20)
    await editor.closed(timeout=20)
    # Typed while the server is away: kept in the browser's document.
    editor.ytext.insert(0, "Offline. ")
    server.start_web(0)

    # Session: resume after the last seq seen; the missed events come once, in order.
    last = host_seqs[-1]
    host = await WSClient.open(url, f"{path}?after={last}", a_cookie)
    guest = await WSClient.open(url, f"{path}?after={last}", r_cookie)
    await guest.send({"type": "chat.send", "text": "after"})
    await _seen_until(host, "after", host_seqs)
    stored = await sync_to_async(
        closing(
            lambda: list(
                SessionEvent.objects.filter(session_id=session.pk)
                .order_by("seq")
                .values_list("seq", flat=True)
            )
        )
    )()
    assert host_seqs == [s for s in stored if s >= host_seqs[0]], "each event exactly once"
    assert sorted(set(host_seqs)) == host_seqs

    # Dictation: the server says what it has; the client resends the rest (and a
    # resend of something already stored is acknowledged, not stored twice).
    dictation = await RawSocket.open(url, dictation_path, a_cookie)
    acked = (await dictation.json("ready"))["acked"]
    assert 5 <= acked <= 8
    await dictation.send(frames[acked - 1])  # an old frame again
    assert (await dictation.json("ack", seq=acked))["seq"] == acked
    for frame in frames[acked:]:
        await dictation.send(frame)
    await dictation.json("ack", seq=len(frames))
    await dictation.send_json({"type": "stop"})
    await dictation.close()
    pcm = b"".join(frame[4:] for frame in frames)
    assert await sync_to_async(closing(_stored_pcm))(stream) == pcm

    # Report: the reconnecting editor syncs its document both ways.
    editor = await YEditor.open(url, f"/ws/reports/{report.pk}/", a_cookie, doc=editor.doc)
    await editor.edit(lambda t: t.insert(len(t), "Typed after."))
    await editor.drain()
    expected = "Offline. " + TEMPLATE + "Typed before. Typed after."
    assert editor.text() == expected
    text = await sync_to_async(closing(lambda: Report.objects.get(pk=report.pk).text))()
    assert text == expected
    assert server.alive(), server.logs()
    await asyncio.gather(host.close(), guest.close(), editor.close())
