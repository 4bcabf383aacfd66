"""ASGI's zero-copy send extension under Daphne: stored files go from the page cache to the socket.

ASGI's ``http.response.zerocopysend`` extension lets an application send a
region of an open file (``file``, ``offset``, ``count``, ``more_body``); the
server sends it with ``sendfile(2)``, so the bytes are neither read into the
process nor copied again into the socket. Daphne does not offer it, and a whole
series by WADO-RS (100 MB and more) cost the server about 50 ms of CPU here,
mostly those two copies. ``install_zero_copy`` adds it to Daphne:

- the scope of an HTTP request over plain TCP carries
  ``extensions["http.response.zerocopysend"]`` (TLS connections do not: their
  bytes must pass through the process);
- at the first zero-copy message, Twisted writes the response headers and its
  buffer is left to empty; from then on the event loop writes the body to the
  socket itself: file regions by ``os.sendfile``, other body messages by
  ``send``, each as much as the socket takes at once, the rest by the loop's
  ``sock_sendfile`` / ``sock_sendall`` once it can take more (the backpressure).
  Twisted's buffer stays empty meanwhile, so nothing is reordered;
- the last body message is Daphne's as before (it finishes the request);
- a response Twisted frames itself (chunked, without a Content-Length) gets the
  region read and written as an ordinary body message;
- a connection that is lost ends a pending write at once.
"""

from __future__ import annotations

import asyncio
import os

EXTENSION = "http.response.zerocopysend"
READ = 1 << 20  # a region sent the ordinary way goes in messages of this size


def install_zero_copy() -> None:
    """Offer the zero-copy send extension on Daphne's plain TCP connections (idempotent)."""
    try:
        from daphne import server
    except ImportError:  # another ASGI server
        return
    if getattr(server.Server.handle_reply, "reading_zero_copy", False):
        return
    inner_reply = server.Server.handle_reply
    inner_create = server.Server.create_application

    async def handle_reply(self, protocol, message):
        if not await _direct_reply(self, protocol, message, inner_reply):
            await inner_reply(self, protocol, message)

    def create_application(self, protocol, scope):
        if scope.get("type") == "http" and _plain_tcp(protocol):
            scope.setdefault("extensions", {})[EXTENSION] = {}
        return inner_create(self, protocol, scope)

    handle_reply.reading_zero_copy = True
    server.Server.handle_reply = handle_reply
    server.Server.create_application = create_application


def _plain_tcp(protocol) -> bool:
    from twisted.internet import tcp

    channel = getattr(protocol, "channel", None)
    return isinstance(getattr(channel, "transport", None), tcp.Server)


def _buffered(transport) -> int:
    """Bytes Twisted holds for the socket (``FileDescriptor``'s two buffers)."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


class _Direct:
    """A response whose body the event loop writes to the socket itself."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.sock = protocol.channel.transport.socket
        self.lost = False
        self.task: asyncio.Task | None = None
        protocol.notifyFinish().addBoth(self._gone)

    def _gone(self, _result) -> None:
        self.lost = True
        if self.task is not None:
            self.task.cancel()

    async def send_file(self, file, offset: int, count: int | None) -> None:
        fd = file.fileno()
        if count is None:
            count = os.fstat(fd).st_size - offset
        sent = self._now(lambda: os.sendfile(self.sock.fileno(), fd, offset, count))
        if sent < count and not self.lost:
            loop = asyncio.get_running_loop()
            rest = count - sent
            await self._later(lambda: loop.sock_sendfile(self.sock, file, offset + sent, rest))

    async def send_bytes(self, data: bytes) -> None:
        sent = self._now(lambda: self.sock.send(data))
        if sent < len(data) and not self.lost:
            rest = memoryview(data)[sent:]

            async def sendall():
                await asyncio.get_running_loop().sock_sendall(self.sock, rest)
                return len(rest)

            await self._later(sendall)

    def _now(self, call) -> int:
        """As much as the socket takes at once (the usual case: no turn of the loop)."""
        if self.lost:
            return 0
        try:
            sent = call()
        except BlockingIOError:
            return 0
        except OSError:  # the client went away; Twisted will see it too
            self.lost = True
            return 0
        self.protocol.sentLength += sent
        return sent

    async def _later(self, call) -> None:
        """The rest once the socket can take it; a lost connection ends the wait."""
        self.task = asyncio.ensure_future(call())
        try:
            sent = await self.task
        except asyncio.CancelledError:
            if not self.lost:
                raise  # the application itself was cancelled
            return
        except OSError:  # the client went away; Twisted will see it too
            self.lost = True
            return
        finally:
            self.task = None
        self.protocol.sentLength += sent


async def _direct_reply(server, protocol, message, inner) -> bool:
    """Handle ``message`` when it is a zero-copy send or part of a direct body; False if not."""
    kind = message.get("type")
    direct = getattr(protocol, "_reading_direct", None)
    if kind != EXTENSION and (kind != "http.response.body" or direct is None):
        return False
    if protocol not in server.connections or server.connections[protocol].get("disconnected"):
        return True
    more = message.get("more_body", False)
    if direct is None:
        direct = await _start_direct(protocol)
    if direct is None:  # Twisted frames this body itself: the region's bytes go through it
        await _send_region_bytes(server, protocol, message, inner)
        return True
    if kind == EXTENSION:
        await direct.send_file(message["file"], message.get("offset", 0), message.get("count"))
    elif message.get("body"):
        await direct.send_bytes(message["body"])
    if not more:
        protocol._reading_direct = None
        await inner(server, protocol, {"type": "http.response.body", "body": b""})
    return True


async def _start_direct(protocol) -> _Direct | None:
    """Headers out through Twisted, its buffer empty: the body is the loop's to write."""
    from twisted.web import http

    if protocol.method == b"HEAD" or protocol.finished or protocol.channel is None:
        return None
    if not protocol.startedWriting:
        http.Request.write(protocol, b"")  # the status line and headers
    if protocol.chunked:
        return None
    transport = protocol.channel.transport
    turns, wait = 0, 0.0005
    while _buffered(transport) and protocol.channel is not None:
        # Twisted sends the headers within a turn or two; a client that reads nothing is
        # looked at less and less often (at most every 50 ms) until it goes away.
        turns += 1
        if turns <= 3:
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(wait)
            wait = min(0.05, wait * 2)
    if protocol.channel is None:
        return None
    direct = protocol._reading_direct = _Direct(protocol)
    return direct


async def _send_region_bytes(server, protocol, message, inner) -> None:
    """A zero-copy message sent as ordinary body messages: the region read a megabyte at a time."""
    file, offset = message["file"], message.get("offset", 0)
    count = message.get("count")
    if count is None:
        count = os.fstat(file.fileno()).st_size - offset
    while count > 0 and (data := os.pread(file.fileno(), min(READ, count), offset)):
        offset, count = offset + len(data), count - len(data)
        await inner(
            server, protocol, {"type": "http.response.body", "body": data, "more_body": True}
        )
    if not message.get("more_body", False):
        await inner(server, protocol, {"type": "http.response.body", "body": b""})
