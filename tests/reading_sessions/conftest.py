"""Sessions on a stored study, and WebSocket clients talking to the real consumer."""

from __future__ import annotations

import asyncio

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from reading.reading_sessions import services
from reading.reading_sessions.models import ReadingSession
from reading.reading_sessions.routing import websocket_urlpatterns
from reading.studies.models import Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes


@pytest.fixture
def ct_study(transactional_db):
    datasets = make_ct_series(3)
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok
    return Study.objects.get(study_instance_uid=str(datasets[0].StudyInstanceUID))


@pytest.fixture
def sop_uids(ct_study):
    return list(
        ct_study.series.get()
        .instances.order_by("instance_number")
        .values_list("sop_instance_uid", flat=True)
    )


@pytest.fixture
def session(ct_study, attending):
    created = services.create_session(study=ct_study, host=attending, title="Tumour board")
    return ReadingSession.objects.select_related("study").get(pk=created.pk)


class Client:
    """A WebSocket client on the consumer, with helpers that wait for event types."""

    def __init__(self, user, session_id, after=None):
        path = f"/ws/sessions/{session_id}/"
        if after is not None:
            path += f"?after={after}"
        self.comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        self.comm.scope["user"] = user
        self.user = user
        self.seen: list[dict] = []

    async def connect(self):
        return await self.comm.connect(timeout=5)

    async def send(self, message: dict):
        await self.comm.send_json_to(message)

    async def recv(self, timeout=3.0) -> dict:
        message = await self.comm.receive_json_from(timeout=timeout)
        self.seen.append(message)
        return message

    async def until(self, event_type: str, timeout=3.0) -> dict:
        """Receive until an event of ``event_type`` arrives; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {event_type}; got {[m['type'] for m in self.seen]}")
            message = await self.recv(timeout=left)
            if message["type"] == event_type:
                return message

    async def nothing(self, timeout=0.2) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def close(self):
        await self.comm.disconnect()

    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.seen if m.get("seq") is not None]


@pytest.fixture
def ws():
    clients: list[Client] = []

    def make(user, session, after=None) -> Client:
        client = Client(user, session.pk, after)
        clients.append(client)
        return client

    yield make
