"""Requests through an ASGI application in process, as Daphne passes them.

Shared by the fast path tests (frames, reads, pixel data) and
``bench/read_profile.py``.
"""

from __future__ import annotations

from asgiref.sync import SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.db import connections

USER_AGENT = "asgi-test"


def http_scope(
    path: str, headers: dict[str, str], method: str = "GET", server=("testserver", 80)
) -> dict:
    """The ASGI scope of one request; ``path`` may carry the query string, which Daphne
    passes apart."""
    path, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50123),
        "server": server,
    }


async def asgi_get(app, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
    """One request to ``app``; (status, headers as a lower-cased dict of lists, body)."""
    headers = {"Host": "testserver", "User-Agent": USER_AGENT, **(headers or {})}
    communicator = ApplicationCommunicator(app, http_scope(path, headers, method))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    found: dict[str, list[str]] = {}
    for name, value in start["headers"]:
        found.setdefault(name.decode().lower(), []).append(value.decode())
    return start["status"], found, body


class CountingDjango:
    """Hands every request on to ``app`` (Django's ASGI app), counting their paths: the
    requests a fast path left to Django."""

    def __init__(self, app):
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def close_executor_connection() -> None:
    """Close the connection of asgiref's one executor thread, where the async tests'
    ``sync_to_async`` calls run: it would keep PostgreSQL from dropping the test database."""
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
