"""A Yjs editor for tests: a pycrdt document talking y-websocket to the report consumer."""

from __future__ import annotations

import asyncio

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    Text,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    read_message,
    write_message,
)

from reading.reports.routing import websocket_urlpatterns


def sync_message(step: int, payload: bytes) -> bytes:
    """A y-protocols sync message (pycrdt exports only the update one)."""
    return bytes([YMessageType.SYNC, step]) + write_message(payload)


class Editor:
    """Connects, syncs both ways, edits its local ``Y.Text`` and sends each edit as an
    update, applies what arrives. ``denied`` collects permission-denied reasons."""

    def __init__(self, user, report_id):
        self.comm = WebsocketCommunicator(
            URLRouter(websocket_urlpatterns), f"/ws/reports/{report_id}/"
        )
        self.comm.scope["user"] = user
        self.doc = Doc()
        self.denied: list[str] = []
        self.awareness: list[bytes] = []

    @property
    def ytext(self) -> Text:
        return self.doc.get("text", type=Text)

    def text(self) -> str:
        return str(self.ytext)

    async def connect(self):
        connected, code = await self.comm.connect(timeout=5)
        if not connected:
            return connected, code
        await self.comm.send_to(
            bytes_data=sync_message(YSyncMessageType.SYNC_STEP1, self.doc.get_state())
        )
        # Server's step 1 (answered), then its step 2 to ours.
        await self.drain(until_step2=True)
        return connected, code

    async def handle(self, message: bytes) -> str:
        kind = message[0]
        if kind == YMessageType.SYNC:
            step = message[1]
            payload = read_message(message[2:])
            if step == YSyncMessageType.SYNC_STEP1:
                reply = sync_message(YSyncMessageType.SYNC_STEP2, self.doc.get_update(payload))
                await self.comm.send_to(bytes_data=reply)
                return "step1"
            if payload != b"\x00\x00":
                self.doc.apply_update(payload)
            return "step2" if step == YSyncMessageType.SYNC_STEP2 else "update"
        if kind == YMessageType.AWARENESS:
            self.awareness.append(read_message(message[1:]))
            return "awareness"
        if kind == 2:
            decoder = Decoder(message[1:])
            decoder.read_var_uint()
            self.denied.append(decoder.read_var_string())
            return "denied"
        return "other"

    async def drain(self, timeout=0.3, until_step2=False) -> list[str]:
        """Handle messages until none arrive for ``timeout`` s (or step 2 arrived)."""
        kinds = []
        while True:
            # receive_from's timeout would cancel the consumer: look before reading.
            if await self.comm.receive_nothing(timeout=timeout if not until_step2 else 5):
                return kinds
            kinds.append(await self.handle(await self.comm.receive_from()))
            if until_step2 and kinds[-1] == "step2":
                return kinds

    async def edit(self, change) -> bytes:
        """``change(ytext)`` locally, then send the resulting update."""
        before = self.doc.get_state()
        change(self.ytext)
        update = self.doc.get_update(before)
        await self.comm.send_to(bytes_data=create_update_message(update))
        return update

    async def announce(self, client_id: int, clock: int, state: str) -> None:
        encoder = Encoder()
        encoder.write_var_uint(1)
        encoder.write_var_uint(client_id)
        encoder.write_var_uint(clock)
        encoder.write_var_string(state)
        await self.comm.send_to(bytes_data=create_awareness_message(encoder.to_bytes()))

    async def close(self):
        await self.comm.disconnect()


def state_vector(doc: Doc) -> dict[int, int]:
    """``{client id: clock}`` from the encoded state vector (its order is not fixed)."""
    decoder = Decoder(doc.get_state())
    pairs = [
        (decoder.read_var_uint(), decoder.read_var_uint()) for _ in range(decoder.read_var_uint())
    ]
    return dict(pairs)


async def settle(*editors: Editor, timeout: float = 10.0) -> None:
    """Handle what arrives until every editor holds the same document: the same state
    vector (every insertion) and the same text (every deletion, which the vector does not
    count). An update reaches the other editors only after the server stored it, so the
    update log then holds them all too. Fails after ``timeout`` s, however slow the run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def converged() -> bool:
        first = editors[0]
        return all(
            state_vector(e.doc) == state_vector(first.doc) and e.text() == first.text()
            for e in editors[1:]
        )

    while not converged():
        if loop.time() > deadline:
            texts = " | ".join(repr(e.text()) for e in editors)
            raise AssertionError(f"editors still differ after {timeout} s: {texts}")
        for editor in editors:
            await editor.drain(timeout=0.05)
