"""A small asyncio WebSocket client for tests and the benchmark against a real Daphne.

It logs in with a session cookie, like a browser, and timestamps every message on
arrival (``websockets`` does the protocol).
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlparse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class WSClient:
    """``await WSClient.open(base_url, path, sessionid)``; then ``send`` / ``recv`` / ``until``."""

    def __init__(self, connection: ClientConnection):
        self.connection = connection
        self.inbox: asyncio.Queue[tuple[float, dict]] = asyncio.Queue()
        self.close_code: int | None = None
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, base_url: str, path: str, sessionid: str, timeout: float = 10) -> WSClient:
        http = urlparse(base_url)
        connection = await connect(
            f"ws://{http.hostname}:{http.port}{path}",
            origin=f"http://{http.hostname}:{http.port}",
            additional_headers={"Cookie": f"sessionid={sessionid}"},
            open_timeout=timeout,
            max_size=2**22,
            compression=None,
        )
        return cls(connection)

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.inbox.put_nowait((time.perf_counter(), json.loads(raw)))
        except ConnectionClosed:
            pass
        self.close_code = self.connection.close_code
        self.inbox.put_nowait((time.perf_counter(), {"type": "_closed", "code": self.close_code}))

    async def send(self, message: dict) -> None:
        await self.connection.send(json.dumps(message))

    async def recv(self, timeout: float = 5) -> tuple[float, dict]:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def until(self, event_type: str, timeout: float = 5, **match) -> dict:
        """The next message of ``event_type`` whose payload has the ``match`` items."""
        deadline = time.monotonic() + timeout
        while True:
            _, message = await self.recv(max(deadline - time.monotonic(), 0.001))
            payload = message.get("payload") or {}
            if message["type"] == event_type and all(payload.get(k) == v for k, v in match.items()):
                return message

    async def close(self) -> None:
        await self.connection.close()
        await self._reader
