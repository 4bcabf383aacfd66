"""QIDO-RS searches, WADO-RS retrieval, rendered images, thumbnails and metadata ahead of
Django's middleware chain (a rendered instance or frame meets the frames fast path first,
``fastrender.py``).

Through Django an authenticated DICOMweb read pays, before its view runs, a
new thread and a new database connection (Daphne runs each request's sync code
on a thread of its own; SQLite opens its file and sets WAL mode again), the
crossings between the event loop and threads around the sync-only middleware,
and the middleware themselves: about 5 ms here on an empty search, more than
Orthanc's whole answer. This application answers ``GET`` requests for the
routes in ``ROUTES`` itself, on a small pool of long-lived threads that keep
their database connection, and hands everything else to Django unchanged.

What stays exactly Django's:

- **Access.** Nothing is cached: every request resolves its credential afresh
  (``edgeauth.credential_user``: the session's user by Django's own
  ``get_user``, else the API token by ``reading.accounts.middleware.token_user_for``),
  so a revoked token, a deactivated user or a lost role is refused at once.
  The route's own view runs (resolved by Django's URL resolver), so access goes
  through the same access functions (``studies_for_user``, ``instance_for_user``...).
- **Audit.** The view writes its record through ``record_access`` as it does
  under Django (path, client address and user agent from the same request object).
- **Errors.** Only successes (200, no cookie to set) are sent from here. Anything else (no or bad credentials, a session that would be
  saved or logged out, a bad parameter, no such study, no role, a cross-origin
  request when CORS is configured, an HTTPS redirect, an exception) goes to
  Django, which answers it as before. A view that ran and failed has written
  nothing.
- **Streams.** WADO-RS retrieval of stored instances (a study, a series, an
  instance) is a streamed answer: its chunks are read on worker threads
  (``streaming.py``) and sent from here, under Daphne's backpressure
  (``reading/edgeflow.py``), until the client goes away.
- **Headers.** ``Cache-Control`` is patched by the same function as
  ``reading.audit.middleware.NoStore``; the other middleware headers come from
  ``edgeauth.middleware_headers`` (``tests/studies/test_dicomweb_fastread.py``
  compares every header of both paths).
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import parse_cookie
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control, patch_vary_headers

from reading.edgesend import EXTENSION as ZERO_COPY
from reading.studies.dicomweb.edgeauth import credential_user, middleware_headers
from reading.studies.dicomweb.streaming import StoredFile, open_stored

# url names (under the ``dicomweb`` namespace) whose GET answers are served here.
ROUTES = frozenset(
    {
        "studies",
        "series",
        "instances",
        "study-series",
        "study-instances",
        "series-instances",
        "instance-rendered",
        "frames-rendered",
        "instance-thumbnail",
        "series-thumbnail",
        "study-thumbnail",
        "study-metadata",
        "series-metadata",
        "instance-metadata",
        # WADO-RS retrieval of stored instances, streamed (``_stream``).
        "study",
        "series-retrieve",
        "instance",
    }
)
PREFIX = "/dicomweb/"
THREADS = min(4, (os.cpu_count() or 1) + 2)


class ReadFastPath:
    """ASGI application: the reads in ``ROUTES`` on its own threads, everything else to ``app``."""

    def __init__(self, app):
        self.app = app
        self._executor: ThreadPoolExecutor | None = None

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PREFIX)
            and settings.DICOMWEB_FAST_READS
            and not scope.get("root_path")
            and not settings.FORCE_SCRIPT_NAME  # Django sets the script prefix for reverse()
            # CommonMiddleware's redirects and refusals, when configured, stay Django's.
            and not settings.PREPEND_WWW
            and not settings.DISALLOWED_USER_AGENTS
        ):
            if self._executor is None:
                self._executor = ThreadPoolExecutor(THREADS, thread_name_prefix="dicomweb-read")
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._executor, answer_read, scope)
            if answer is not None:
                status, headers, body = answer
                await send({"type": "http.response.start", "status": status, "headers": headers})
                if isinstance(body, bytes):
                    await send({"type": "http.response.body", "body": body})
                else:
                    await _stream(body, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def close(self) -> None:
        """Close every thread's database connection and stop the threads (tests, shutdown)."""
        if self._executor is None:
            return
        barrier = threading.Barrier(THREADS)  # one job per thread: each closes its own

        def close_connections() -> None:
            connections.close_all()
            barrier.wait(timeout=10)

        for _ in range(THREADS):
            self._executor.submit(close_connections)
        self._executor.shutdown(wait=True)
        self._executor = None


async def _stream(response, scope, receive, send) -> None:
    """A streamed view's body (its chunks taken on worker threads, ``streaming.py``), until
    the end or until the client goes away (``http.disconnect``), as Django's handler does.

    Where the server offers ASGI's zero-copy send (``reading.edgesend``), stored files
    among the chunks are sent from the page cache instead of being read in here.
    """
    gone = asyncio.ensure_future(_disconnected(receive))
    stored = getattr(response, "stored_chunks", None)
    if ZERO_COPY in scope.get("extensions", {}) and stored is not None:
        chunks = _ready(stored)  # headers and files: nothing to read here, no thread hops
    else:
        chunks = aiter(response)
    try:
        async for chunk in chunks:
            if gone.done():
                break
            if isinstance(chunk, StoredFile):
                if not await _send_file(chunk, send):
                    break  # cut short: the client sees the body is incomplete
            else:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
        await chunks.aclose()  # the client went away: the file reads stop


async def _ready(chunks):
    for chunk in chunks:
        yield chunk


async def _send_file(stored: StoredFile, send) -> bool:
    """A stored file by zero-copy send; False when it is gone or not the size recorded
    (``streaming.open_stored``)."""
    try:
        fh = open_stored(stored.relpath, stored.size)
    except OSError:
        return False
    with fh:
        size = stored.size if stored.size is not None else os.fstat(fh.fileno()).st_size
        await send({"type": ZERO_COPY, "file": fh, "count": size, "more_body": True})
    return True


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _credentials(request) -> tuple[str | None, str | None]:
    cookies = parse_cookie(request.META.get("HTTP_COOKIE", ""))
    session_key = cookies.get(settings.SESSION_COOKIE_NAME) or None
    return session_key, request.META.get("HTTP_AUTHORIZATION") or None


def _session_is_live(session_key: str) -> bool:
    """Whether the cookie names a session with data (Django deletes the cookie of an empty one)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    store.keys()  # loads it; an unknown key leaves an empty session
    return not store.is_empty()


def answer_read(scope) -> tuple[int, list[tuple[bytes, bytes]], object] | None:
    """(status, headers, body) of a successful read, or None for Django to answer; the body
    is bytes, or the streamed response whose chunks ``_stream`` sends.

    Runs on one of the fast path's threads, whose database connection stays open.
    """
    try:
        return _answer(scope)
    except Exception:  # noqa: BLE001 - Django answers (and logs) whatever went wrong here
        return None
    finally:
        for conn in connections.all(initialized_only=True):
            if conn.errors_occurred or conn.in_atomic_block:
                conn.close()


def _answer(scope):
    if settings.DICOMWEB_CORS_ORIGINS and any(n == b"origin" for n, _ in scope["headers"]):
        return None  # cross-origin: Django's CORS middleware answers
    request = ASGIRequest(scope, io.BytesIO())
    try:
        request.get_host()
    except DisallowedHost:
        return None
    if settings.SECURE_SSL_REDIRECT and not request.is_secure():
        return None
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    if match.namespace != "dicomweb" or match.url_name not in ROUTES:
        return None
    session_key, authorization = _credentials(request)
    if session_key is None and authorization is None:
        return None
    if session_key is not None and authorization is not None and not _session_is_live(session_key):
        return None  # a token user with a dead session cookie: Django also deletes the cookie
    user = credential_user(session_key, authorization)
    if user is None:
        return None
    request.user = user
    request.resolver_match = match
    response = match.func(request, *match.args, **match.kwargs)
    if response.status_code != 200 or response.cookies:
        return None
    if response.streaming and not response.is_async:
        return None  # a sync iterator (not under ASGI): Django's to answer
    patch_cache_control(response, no_store=True, private=True)  # NoStore's rule
    if response.streaming:
        body = response
    else:
        body = response.content
        response["Content-Length"] = str(len(body))
    for name, value in middleware_headers(request.is_secure()):
        name, value = name.decode("latin-1"), value.decode("latin-1")
        if name == "Vary":
            patch_vary_headers(response, [value])
        elif name not in response:  # the middleware leave a view's own value alone
            response[name] = value
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
    return 200, headers, body
