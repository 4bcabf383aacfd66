"""Backpressure for streamed responses under Daphne: ``send`` waits while the socket is behind.

Daphne's ``send`` writes each ``http.response.body`` message into Twisted's
buffer for the connection and returns at once, whatever the client has taken.
A streamed answer read from the page cache (a whole series by WADO-RS: 100 MB
and more) is produced faster than a socket drains, so the body piled up in the
server, 50 to 70 MB of a 105 MB series at times (``bench/wado_series.py``),
and Twisted copies what is pending into one new buffer each time its send
buffer runs low (``FileDescriptor.doWrite``). New memory is what costs most on
a virtual machine (0.7 ms a MB to fault in on the benchmark machine, several
times that when the hypervisor has taken the pages back), so how far the
application happened to get ahead decided the throughput: the series came out
at 170 to 700 MB/s from one run to the next.

``install_daphne_flow_control`` makes ``send`` for a body message with more to
come wait, as the ASGI specification lets a server do, until Twisted has handed
what it buffered to the kernel: the request registers as a streaming producer
(``IPushProducer``), paused by Twisted when its buffer fills (64 KiB) and resumed
when the buffer is empty, and ``send`` waits for that once more than
``HIGH_WATER`` bytes went in since it was last empty. About a megabyte is then
held per connection, the kernel's socket buffer keeps the client fed meanwhile,
and a client that stops reading stops the application too. The last body
message and responses sent in one message do not wait; a finished request or a
lost connection ends any wait.

Twisted sends at most ``SEND_LIMIT`` (128 KiB) of its buffer per writable event, so
a megabyte took eight turns of the reactor (and eight ``epoll_wait`` calls) on
loopback, where the kernel would take it in one ``send``. Daphne's connections send
up to ``HIGH_WATER`` a turn instead (the kernel still takes only what fits its socket
buffer): a whole series went from 1,858 to 2,422 MB/s median (``bench/wado_series.py
--runs 10 --new-connection``, the client reading into a reused buffer).

Each wait costs a turn of the event loop, so Django hands its response bodies
over in messages of up to 1 MiB (``reading.handler.HandedBodyASGIHandler.chunk_size``) rather
than 64 KiB: a streamed part (a stored instance) goes out as it was read, not
sliced into copies, and the writer waits once per megabyte, not sixteen times.
"""

from __future__ import annotations

import asyncio

try:
    from twisted.internet.interfaces import IPushProducer
    from zope.interface import implementer
except ImportError:  # no Twisted: no Daphne to patch either
    IPushProducer = None

HIGH_WATER = 1 << 20  # bytes sent into Twisted's buffer before waiting for it to empty


class _Drain:
    """The push producer a streaming request registers: a future while Twisted is full."""

    def __init__(self, request):
        self.request = request
        self.paused = False
        self.written = 0  # since Twisted's buffer was last empty
        self.waiter: asyncio.Future | None = None
        # Fired when the response is finished or the connection lost: never left waiting.
        request.notifyFinish().addBoth(self._gone)

    def _gone(self, _result) -> None:
        self.resumeProducing()

    def pauseProducing(self) -> None:  # noqa: N802 - Twisted's interface
        self.paused = True

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused = False
        self.written = 0
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def stopProducing(self) -> None:  # noqa: N802
        self.resumeProducing()

    async def drained(self, size: int) -> None:
        self.written += size
        if (
            self.paused
            and self.written > HIGH_WATER
            and not self.request.finished
            and self.request.channel is not None
        ):
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter

    def done(self) -> None:
        if self.request.producer is self and self.request.channel is not None:
            self.request.unregisterProducer()


if IPushProducer is not None:
    _Drain = implementer(IPushProducer)(_Drain)


async def _flow_controlled_reply(original, server, protocol, message):
    """Daphne's ``handle_reply`` (``original``), then a wait while the socket is behind."""
    body = message.get("type") == "http.response.body"
    drain = getattr(protocol, "_reading_drain", None)
    if body and message.get("more_body", False):
        if drain is None and getattr(protocol, "producer", True) is None:
            drain = protocol._reading_drain = _Drain(protocol)
            protocol.registerProducer(drain, True)
        await original(server, protocol, message)
        if drain is not None:
            await drain.drained(len(message.get("body", b"")))
        return
    if body and drain is not None:
        protocol._reading_drain = None
        drain.done()  # before the request finishes: Twisted's channel takes the next one
    await original(server, protocol, message)


def install_daphne_flow_control() -> None:
    """Make Daphne's ``send`` wait for the socket while a body is streamed (idempotent)."""
    try:
        from daphne import server
    except ImportError:  # another ASGI server
        return
    original = server.Server.handle_reply
    if getattr(original, "reading_flow_controlled", False):
        return

    async def handle_reply(self, protocol, message):
        await _flow_controlled_reply(original, self, protocol, message)

    handle_reply.reading_flow_controlled = True
    server.Server.handle_reply = handle_reply
    from twisted.internet import tcp

    tcp.Connection.SEND_LIMIT = max(tcp.Connection.SEND_LIMIT, HIGH_WATER)
