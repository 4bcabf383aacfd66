"""A study, sessions on it, the tiny random-weight MedASR, and dictation socket clients."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid

import numpy as np
import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from reading.routing import websocket_urlpatterns
from tests.reading_sessions.conftest import ct_study, session  # noqa: F401

RATE = 16000


@pytest.fixture(scope="session")
def tiny_medasr(tmp_path_factory):
    import torch

    from inference.tiny import build_tiny_medasr

    torch.set_num_threads(1)
    return build_tiny_medasr(tmp_path_factory.mktemp("tiny-medasr"))


@pytest.fixture
def medasr(settings, tiny_medasr):
    from reading.dictation.transcription import load_engine

    settings.MEDASR_MODEL = str(tiny_medasr)
    settings.DICTATION_WORKER = "embedded"
    load_engine()  # imports transformers (seconds) before the clock of a test runs
    return tiny_medasr


@pytest.fixture(autouse=True)
async def _close_transcription():
    yield
    from reading.dictation.transcription import close_services

    await close_services()


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    """Speech-like int16 sound: a modulated tone plus noise, well above -40 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    voiced = np.sin(2 * np.pi * 180 * t) * (1 + 0.6 * np.sin(2 * np.pi * 4 * t))
    return ((0.2 * voiced + 0.05 * rng.standard_normal(len(t))) * 32767).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def frames(audio: np.ndarray, first_seq: int = 1, frame_s: float = 0.1) -> list[bytes]:
    n = int(frame_s * RATE)
    return [
        struct.pack("<I", first_seq + i) + audio[o : o + n].astype("<i2").tobytes()
        for i, o in enumerate(range(0, len(audio), n))
    ]


class Socket:
    """A client of a WebSocket route, with helpers that wait for message types."""

    def __init__(self, user, path: str):
        self.comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
        if user is not None:
            self.comm.scope["user"] = user
        self.seen: list[dict] = []

    async def connect(self):
        return await self.comm.connect(timeout=5)

    async def send_bytes(self, data: bytes):
        await self.comm.send_to(bytes_data=data)

    async def send(self, message: dict | str):
        text = message if isinstance(message, str) else json.dumps(message)
        await self.comm.send_to(text_data=text)

    async def recv(self, timeout=5.0) -> dict:
        message = json.loads(await self.comm.receive_from(timeout=timeout))
        self.seen.append(message)
        return message

    async def until(self, kind: str, timeout=20.0, **fields) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {kind}; got {[m['type'] for m in self.seen]}")
            message = await self.recv(timeout=left)
            if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                return message

    async def close(self):
        await self.comm.disconnect()


@pytest.fixture
def dictate():
    sockets: list[Socket] = []

    def make(user, study, stream=None, session=None, finals=None) -> Socket:  # noqa: F811
        path = f"/ws/dictation/{study.study_instance_uid}/?stream={stream or uuid.uuid4()}"
        if session is not None:
            path += f"&session={session.pk}"
        if finals is not None:
            path += f"&finals={finals}"
        socket = Socket(user, path)
        sockets.append(socket)
        return socket

    return make
