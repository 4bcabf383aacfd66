"""Database work a browser test does off Playwright's event-loop thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.db import connections


def in_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` in a worker thread, its result returned.

    Playwright's sync API keeps an event loop in the test's thread, and the services'
    on-commit realtime hooks call ``async_to_sync``, which refuses to run there. The
    worker's database connections are closed when it is done: left open they keep the
    test database busy, and PostgreSQL then refuses to drop it at the end of the run.
    """

    def run():
        try:
            return func(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()
