"""Broadcasting realtime events to channel-layer groups, after commit only.

Cross-process delivery in the embedded default: the in-memory channel layer
lives inside the Daphne process, so a message sent from another process (the
Huey worker) would vanish. Such a process calls :func:`use_outbox` once; from
then on :func:`group_send` writes the message to a small outbox table
(``ai.OutboxMessage``), and the server's relay (:func:`run_relay`, started by
``reading/asgi.py`` on its event loop) reads it every ~150 ms, sends it to its
own layer and deletes it. With the Redis layer every process reaches every
other directly and the outbox is never used.

A consumer that runs a write on the database thread uses :func:`run_and_publish`:
what the write sends after commit is then published from the event loop when the
write returns, instead of each message waiting in the thread for a turn of the loop
(``async_to_sync``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

RELAY_INTERVAL_S = 0.15
RELAY_BATCH = 500
# Messages older than this when the relay starts were meant for clients of a
# server that is gone; nobody is listening for them any more.
STALE_AFTER = timedelta(minutes=2)

_outbox = False
# Messages held for run_and_publish (None: send at once).
_held: ContextVar[list | None] = ContextVar("realtime_held", default=None)

# A message, or a callable that builds it (or several, or none) after commit.
Message = dict | Callable[[], dict | Iterable[dict] | None]


def is_in_memory_layer() -> bool:
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


def use_outbox(enabled: bool = True) -> bool:
    """Route this process's sends through the outbox when the layer is in-memory.

    Returns whether the outbox is now in use (never with the Redis layer).
    """
    global _outbox
    _outbox = bool(enabled) and is_in_memory_layer()
    return _outbox


def outbox_in_use() -> bool:
    return _outbox


def _write_outbox(group: str, message: dict) -> None:
    from reading.ai.models import OutboxMessage

    OutboxMessage.objects.create(group=group, message=message)


def group_send(group: str, message: dict) -> None:
    if _outbox:
        _write_outbox(group, message)
        return
    held = _held.get()
    if held is not None:
        held.append((group, message))
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def send_on_commit(group: str, message: Message) -> None:
    """Send ``message`` to ``group`` once the current transaction commits.

    The one way to broadcast after a write (see docs/architecture.md). ``message``
    is a dict, or a callable that builds it after commit so that it shows the
    committed state; the callable may return several messages (sent in order) or
    ``None`` (nothing to send). Outside a transaction it is sent at once.
    """

    def send() -> None:
        built = message() if callable(message) else message
        for one in [built] if isinstance(built, dict) else built or ():
            group_send(group, one)

    transaction.on_commit(send)


# Thread pools for the sockets' database calls, by name (see off_the_shared_thread).
_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(name: str) -> ThreadPoolExecutor:
    with _pools_lock:
        if name not in _pools:
            size = settings.SOCKET_DB_THREADS[name]
            _pools[name] = ThreadPoolExecutor(size, thread_name_prefix=f"socket-db-{name}")
        return _pools[name]


def off_the_shared_thread(func: Callable, pool: str = "sockets"):
    """``func`` as an awaitable that runs in a thread pool, closing stale connections.

    The one way a consumer calls the database. ``database_sync_to_async`` runs the
    calls of every socket of the process on one thread, in turn (Django gives each
    HTTP request its own): under load a socket's call waited seconds there behind
    other sockets'. A socket's own calls are one at a time anyway (Channels handles
    its messages in order), and the database orders concurrent writers.

    ``pool`` names the pool (``settings.SOCKET_DB_THREADS``): the report editors'
    writes, which can wait on their report's row lock, have their own, so that they
    never hold the threads a session's chat or annotation needs.
    """
    from channels.db import DatabaseSyncToAsync

    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_pool(pool))


async def run_and_publish(func: Callable, *args, pool: str = "sockets", **kwargs):
    """Run ``func`` on a database thread; what it sends is published after it returns.

    For consumers: the messages ``func`` sends on commit are held (the thread runs
    with a copy of this context, sharing the list) and published here, in order, on
    the event loop, also when ``func`` raises after a commit. ``func`` runs in the
    ``pool`` (:func:`off_the_shared_thread`).
    """
    held: list[tuple[str, dict]] = []
    token = _held.set(held)
    try:
        return await off_the_shared_thread(func, pool)(*args, **kwargs)
    finally:
        _held.reset(token)
        layer = get_channel_layer()
        for group, message in held:
            await layer.group_send(group, message)


# -- the relay (server side) -------------------------------------------------------------


def _take_batch(after: int) -> list[tuple[int, str, dict]]:
    from reading.ai.models import OutboxMessage

    return list(
        OutboxMessage.objects.filter(id__gt=after)
        .order_by("id")
        .values_list("id", "group", "message")[:RELAY_BATCH]
    )


def _delete_through(last_id: int) -> None:
    from reading.ai.models import OutboxMessage

    OutboxMessage.objects.filter(id__lte=last_id).delete()


def _drop_stale() -> None:
    from django.utils import timezone

    from reading.ai.models import OutboxMessage

    OutboxMessage.objects.filter(created_at__lt=timezone.now() - STALE_AFTER).delete()


async def relay_once(layer=None) -> int:
    """Deliver what the outbox holds to this process's layer; returns how many."""
    from channels.db import database_sync_to_async

    layer = layer or get_channel_layer()
    rows = await database_sync_to_async(_take_batch)(0)
    for _, group, message in rows:
        try:
            await layer.group_send(group, message)
        except Exception:  # one bad message must not stop the relay
            logger.exception("realtime relay: sending to %s failed", group)
    if rows:
        await database_sync_to_async(_delete_through)(rows[-1][0])
    return len(rows)


async def run_relay(interval: float = RELAY_INTERVAL_S) -> None:
    """Poll the outbox until cancelled (the server's lifetime)."""
    from channels.db import database_sync_to_async

    try:
        await database_sync_to_async(_drop_stale)()
    except Exception:
        logger.exception("realtime relay: could not clear stale messages")
    while True:
        try:
            delivered = await relay_once()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database may be briefly locked or gone; keep trying
            logger.exception("realtime relay: polling the outbox failed")
            delivered = 0
        if delivered < RELAY_BATCH:
            await asyncio.sleep(interval)


class RelayStarter:
    """ASGI middleware that starts the relay on the server's loop at the first connection.

    Daphne has no lifespan events, so the first scope (the first HTTP request or
    WebSocket, which is also the first client that could want a message) starts it.
    """

    def __init__(self, app):
        self.app = app
        self.checked = False
        self.task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if not self.checked:
            self.checked = True
            if is_in_memory_layer():
                self.task = asyncio.get_running_loop().create_task(run_relay())
        return await self.app(scope, receive, send)
