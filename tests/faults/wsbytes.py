"""WebSocket clients for a real server that speak binary: raw frames with JSON replies
(the dictation socket) and y-websocket (the report socket, a pycrdt document)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlparse

from pycrdt import Doc, Text, YMessageType, YSyncMessageType, create_update_message, read_message
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.reports.coedit_client import sync_message


class RawSocket:
    """Sends bytes or JSON; collects every message (text decoded as JSON) in a queue."""

    def __init__(self, connection):
        self.connection = connection
        self.inbox: asyncio.Queue = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, base_url: str, path: str, sessionid: str) -> RawSocket:
        http = urlparse(base_url)
        connection = await connect(
            f"ws://{http.hostname}:{http.port}{path}",
            origin=f"http://{http.hostname}:{http.port}",
            additional_headers={"Cookie": f"sessionid={sessionid}"},
            open_timeout=10,
            compression=None,
        )
        return cls(connection)

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.inbox.put_nowait(json.loads(raw) if isinstance(raw, str) else raw)
        except ConnectionClosed:
            pass
        self.inbox.put_nowait(None)

    async def send(self, data: bytes) -> None:
        await self.connection.send(data)

    async def send_json(self, message: dict) -> None:
        await self.connection.send(json.dumps(message))

    async def recv(self, timeout: float = 10):
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def json(self, kind: str, timeout: float = 20, **fields) -> dict:
        """The next JSON message of type ``kind`` whose fields match (acks may be coalesced:
        an ``ack`` of a higher ``seq`` matches a wanted lower one)."""
        while True:
            message = await self.recv(timeout)
            if message is None:
                raise AssertionError(f"closed while waiting for {kind}")
            if not isinstance(message, dict) or message.get("type") != kind:
                continue
            if kind == "ack" and "seq" in fields and message["seq"] >= fields["seq"]:
                return message
            if all(message.get(k) == v for k, v in fields.items()):
                return message

    async def closed(self, timeout: float = 10) -> None:
        while await self.recv(timeout) is not None:
            pass

    async def close(self) -> None:
        await self.connection.close()
        await self._reader


class YEditor(RawSocket):
    """A y-websocket editor whose ``doc`` outlives its connection, as a browser tab's does."""

    doc: Doc

    @classmethod
    async def open(cls, base_url: str, path: str, sessionid: str, doc: Doc | None = None):
        editor = await super().open(base_url, path, sessionid)
        editor.doc = doc or Doc()
        await editor.send(sync_message(YSyncMessageType.SYNC_STEP1, editor.doc.get_state()))
        while await editor.handle(await editor.recv()) != "step2":
            pass
        return editor

    @property
    def ytext(self) -> Text:
        return self.doc.get("text", type=Text)

    def text(self) -> str:
        return str(self.ytext)

    async def handle(self, message) -> str:
        if message is None:
            raise AssertionError("the report socket closed")
        if isinstance(message, bytes) and message[0] == YMessageType.SYNC:
            step, payload = message[1], read_message(message[2:])
            if step == YSyncMessageType.SYNC_STEP1:
                reply = self.doc.get_update(payload)
                await self.send(sync_message(YSyncMessageType.SYNC_STEP2, reply))
                return "step1"
            if payload != b"\x00\x00":
                self.doc.apply_update(payload)
            return "step2" if step == YSyncMessageType.SYNC_STEP2 else "update"
        return "other"

    async def drain(self, quiet: float = 0.5) -> None:
        while True:
            try:
                message = await self.recv(quiet)
            except TimeoutError:
                return
            await self.handle(message)

    async def edit(self, change) -> None:
        before = self.doc.get_state()
        change(self.ytext)
        await self.send(create_update_message(self.doc.get_update(before)))
