"""What the server checks before Django runs: request body sizes and WebSocket origins.

Request bodies
--------------
Daphne's HTTP layer is Twisted's ``Request``: it writes the whole body to a
temporary file (in memory under 100 kB) before the application runs, then
parses ``multipart/form-data`` and form bodies *in memory* into ``args`` that
Daphne never uses (a 128 MiB anonymous POST grew the server by 1.5 GB), and
Daphne then queues the whole body to the application as chunks at once (a
2 GiB upload held 2 GiB). ``LimitedWebRequest`` replaces Daphne's request class:

- a body over its limit is refused with 413 as soon as the headers (or, for
  chunked bodies, the bytes so far) show it, and the connection is closed
  without reading the rest;
- Twisted's form parsing is switched off;
- a body that went to a temporary file is handed to the application as that
  file, not queued in memory: Django's handler (``reading.handler``) takes the
  file itself as the request's body (no second copy into Django's spooled
  file); any other application reads it in chunks through ``receive``.

The limits: ``REQUEST_MAX_UPLOAD_BYTES`` for uploads (``UPLOAD_PATHS``) from a
request that carries a credential (a session cookie or an Authorization
header; Django checks it), ``REQUEST_MAX_BODY_BYTES`` for everything else.
``BodyLimit`` applies the same limits under any other ASGI server
(Content-Length, then counting the bytes received).

WebSocket origins
-----------------
``SameOriginWebSocket`` accepts a WebSocket only when the browser's
``Origin`` is the origin the socket was opened on (scheme's default port
included, so another port of the same host is another origin) or one of
``CSRF_TRUSTED_ORIGINS``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import secrets
from urllib.parse import urlsplit

from django.conf import settings

from reading.edgeflow import install_daphne_flow_control
from reading.edgesend import install_zero_copy

log = logging.getLogger(__name__)

UPLOAD_PATHS = ("/upload/", "/api/uploads/", "/dicomweb/studies")
BODY_FILE_HEADER = b"x-reading-body-file"  # set only by LimitedWebRequest (clients' are dropped)
READ_CHUNK = 1024 * 1024
TOO_LARGE = b"Request body too large.\n"
LINGER_SECONDS = 10  # how long a refused body is still read (and dropped)

# Twisted request bodies handed to the application, by a one-time random key.
_handed_files: dict[str, object] = {}


def body_limit(path: str, has_credential: bool) -> int:
    if has_credential and path.startswith(UPLOAD_PATHS):
        return settings.REQUEST_MAX_UPLOAD_BYTES
    return settings.REQUEST_MAX_BODY_BYTES


def _has_credential(cookie: bytes | None, authorization: bytes | None) -> bool:
    if authorization:
        return True
    return bool(cookie) and settings.SESSION_COOKIE_NAME.encode() + b"=" in cookie


# -- Daphne ------------------------------------------------------------------------------


def install_daphne_limits() -> None:
    """Make Daphne build its HTTP requests from ``LimitedWebRequest``, close oversized
    WebSocket messages with 1009 and hold a streamed response body back while the
    socket is behind (``reading.edgeflow``) (idempotent)."""
    try:
        from daphne import http_protocol
    except ImportError:  # another ASGI server: BodyLimit alone
        return
    install_daphne_flow_control()
    install_zero_copy()
    if getattr(http_protocol.WebRequest, "reading_limited", False):
        return
    http_protocol.WebRequest = _limited_request_class(http_protocol.WebRequest)
    from daphne import server

    server.WebSocketFactory = _closing_websocket_factory(server.WebSocketFactory)


def _closing_websocket_factory(base):
    """Daphne's WebSocket factory, failing a connection with a close frame.

    Over ``--websocket-max-message-size`` autobahn fails the connection, by default
    by dropping TCP (the client sees 1006, as for a network fault); with
    ``failByDrop`` off it sends close 1009 (message too big) first (reading/sockets.py).
    """

    class WebSocketFactory(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.failByDrop = False

    return WebSocketFactory


class _HandedBody:
    """What Daphne reads once the body file has been handed to the application: nothing."""

    closed = False

    def read(self, size=-1) -> bytes:
        return b""

    def seek(self, *args) -> int:
        return 0

    def tell(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


def _limited_request_class(base):
    class LimitedWebRequest(base):
        reading_limited = True
        refused = False
        received = 0
        limit = None

        def gotLength(self, length):
            path = (getattr(self.channel, "_path", b"") or b"").split(b"?", 1)[0]
            headers = self.requestHeaders
            credential = _has_credential(
                b"; ".join(headers.getRawHeaders(b"cookie") or []),
                (headers.getRawHeaders(b"authorization") or [b""])[0],
            )
            self.limit = body_limit(path.decode("latin-1"), credential)
            if length is not None and length > self.limit:
                self._refuse()
                return
            super().gotLength(length)

        def handleContentChunk(self, data):
            if self.refused:
                return
            self.received += len(data)
            if self.limit is not None and self.received > self.limit:
                self._refuse()
                return
            super().handleContentChunk(data)

        def requestReceived(self, command, path, version):
            if self.refused:
                self.channel.transport.loseConnection()  # the whole body was dropped
                return
            # Twisted would parse form bodies into self.args, in memory; Daphne never reads them.
            self._parsePOSTFormSubmission = False
            super().requestReceived(command, path, version)

        def process(self):
            self.requestHeaders.removeHeader(BODY_FILE_HEADER)
            content = getattr(self, "content", None)
            if content is not None and not isinstance(content, io.BytesIO) and self.received:
                # A temporary file: the application reads it in chunks (BodyLimit).
                key = secrets.token_urlsafe(24)
                _handed_files[key] = content
                self.requestHeaders.setRawHeaders(BODY_FILE_HEADER, [key.encode()])
                self.content = _HandedBody()
            return super().process()

        def _refuse(self):
            self.refused = True
            self.content = _HandedBody()
            # No "100 Continue" for a body that is not wanted.
            self.requestHeaders.removeHeader(b"expect")
            transport = self.channel.transport
            transport.write(
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(TOO_LARGE), TOO_LARGE)
            )
            # Read and drop what the client still sends for a moment (a client that is
            # still sending would otherwise see a reset instead of the answer), then close.
            if hasattr(transport, "loseWriteConnection"):
                transport.loseWriteConnection()
            from twisted.internet import reactor

            reactor.callLater(LINGER_SECONDS, transport.abortConnection)

    LimitedWebRequest.__name__ = LimitedWebRequest.__qualname__ = "LimitedWebRequest"
    return LimitedWebRequest


# -- ASGI --------------------------------------------------------------------------------


async def _send_413(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(TOO_LARGE)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})


class BodyLimit:
    """ASGI: refuse bodies over their limit with 413; read a body handed over by Daphne."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        handed = None
        key = headers.pop(BODY_FILE_HEADER, None)
        if key is not None:
            handed = _handed_files.pop(key.decode("latin-1"), None)
            scope = {**scope, "headers": [h for h in scope["headers"] if h[0] != BODY_FILE_HEADER]}
        try:
            limit = body_limit(
                scope["path"],
                _has_credential(headers.get(b"cookie"), headers.get(b"authorization")),
            )
            declared = headers.get(b"content-length", b"")
            if declared.isdigit() and int(declared) > limit:
                return await _send_413(send)
            if handed is not None:
                # Twisted refused it with 413 past the limit while it was received.
                if _file_size(handed) > limit:
                    return await _send_413(send)
                return await self.app(scope, HandedReceive(handed, receive), send)
            await self._run_limited(scope, receive, send, limit)
        finally:
            if handed is not None:
                handed.close()

    async def _run_limited(self, scope, receive, send, limit):
        received = 0
        too_large = False
        started = False

        async def limited_receive():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
        if too_large and not started:
            await _send_413(send)


def _file_size(fileobj) -> int:
    try:
        return os.fstat(fileobj.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return 0


class HandedReceive:
    """``receive`` for a body Daphne handed over as a file.

    Called, it yields the file in chunks, then the server's messages (for any ASGI
    application). ``HandedBodyASGIHandler`` takes the file itself instead
    (``take_file``): the body is read where Twisted wrote it, not copied again.
    """

    def __init__(self, fileobj, receive):
        self.body_file = fileobj
        self._receive = receive
        self._first = True
        self._done = False

    async def _server_body(self) -> dict | None:
        if self._first:
            self._first = False
            message = await self._receive()  # Daphne's own (empty) body message
            if message["type"] == "http.disconnect":
                return message
        return None

    async def take_file(self):
        """The body file from its start; None when the client went away."""
        if await self._server_body() is not None or self.body_file.closed:
            return None
        self._done = True
        self.body_file.seek(0)
        return self.body_file

    async def __call__(self) -> dict:
        if (message := await self._server_body()) is not None:
            self._done = True
            return message
        if self._done:
            return await self._receive()
        try:
            chunk = await asyncio.to_thread(self.body_file.read, READ_CHUNK)
        except ValueError:  # closed: the client went away
            return {"type": "http.disconnect"}
        more = len(chunk) == READ_CHUNK
        self._done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}


class SameOriginWebSocket:
    """ASGI: WebSockets only from the page's own origin (port included) or a trusted one."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not self.allowed(scope):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 4403})
            return
        return await self.app(scope, receive, send)

    @staticmethod
    def allowed(scope) -> bool:
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1").strip()
        host = headers.get(b"host", b"").decode("latin-1").strip()
        if not origin or origin == "null":
            return False
        if origin.rstrip("/") in {o.rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
            return True
        parsed = urlsplit(origin)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or not host:
            return False
        default = 443 if parsed.scheme == "https" else 80
        try:
            origin_port = parsed.port or default
            host_parsed = urlsplit(f"//{host}")
            host_port = host_parsed.port or default
        except ValueError:
            return False
        return (parsed.hostname, origin_port) == (host_parsed.hostname, host_port)


# -- client JSON -------------------------------------------------------------------------

MAX_JSON_DEPTH = 32


def hostile_json(value, depth: int = 0) -> str | None:
    """Why a parsed client message cannot be accepted, or None.

    ``json.loads`` accepts NUL characters and lone surrogates (``"\\ud800"``)
    that no database column or UTF-8 encoder takes, and nesting deep enough to
    exhaust the stack later; each is refused here with a reason for the client.
    """
    if depth > MAX_JSON_DEPTH:
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        if "\x00" in value:
            return "NUL characters are not allowed"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text is not valid Unicode (lone surrogate)"
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        reason = hostile_json(item, depth + 1)
        if reason:
            return reason
    return None
