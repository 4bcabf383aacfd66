"""What every WebSocket consumer shares: a cap on message size, the server-side idle
logoff, and database calls off the one shared thread.

``GuardedSocket`` goes first in a consumer's bases (``class C(GuardedSocket,
AsyncJsonWebsocketConsumer)``); the consumer itself adds nothing for either.

Message size
------------
Daphne (autobahn) fails a connection whose message exceeds
``--websocket-max-message-size`` with close code 1009 before the application
sees it; the Makefile and deploy files set it to ``WEBSOCKET_MAX_BINARY_BYTES``.
Below that, a text message over ``WEBSOCKET_MAX_TEXT_BYTES`` (UTF-8 bytes) or a
binary one over ``WEBSOCKET_MAX_BINARY_BYTES`` (or the consumer's own smaller
``max_text_bytes``/``max_binary_bytes``) never reaches ``receive``: the consumer's
``refuse_oversized`` answers with a typed error event (``code: "too_large"``) and
the socket stays open with its state (groups, participant, sequence); a protocol
that cannot carry such an event (the report's Yjs binary protocol) closes with
1009 instead, and its ``disconnect`` cleans up as for any close.

Idle logoff
-----------
The browser's countdown (``static/js/idle.js``) can be bypassed by a client
that keeps a socket open and never loads a page. Each socket therefore notes
when its Django session was last used (``accounts.middleware.LAST_ACTIVITY_KEY``,
written by HTTP requests and the page's activity reports, never by socket
traffic, pings included) and arms one asyncio timer for the moment that session
would be idle for ``SESSION_IDLE_TIMEOUT``. When it fires, the session is read
again: used since, the timer is re-armed; still idle, the session is ended
(as the ``IdleTimeout`` middleware would on the next request) and the socket is
closed with ``CLOSE_IDLE`` (4408); already logged out, with ``CLOSE_SIGNED_OUT``
(4401). One timer per socket and one session read per idle period: no polling.

Database calls
--------------
Channels' ``dispatch`` closes stale database connections before every message
through ``database_sync_to_async``'s one thread, which every socket of the process
shares: a hop per message per socket, queued behind every other socket's calls.
Every database call of a consumer goes through ``DatabaseSyncToAsync`` (preferably
``reading.realtime.off_the_shared_thread``), which closes them itself in the thread
that uses them, so ``GuardedSocket.dispatch`` calls the handler directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import import_module

from channels.consumer import get_handler_name
from django.conf import settings

from reading.realtime import off_the_shared_thread

log = logging.getLogger(__name__)

CLOSE_TOO_LARGE = 1009  # RFC 6455 7.4.1: message too big to process
CLOSE_SIGNED_OUT = 4401
CLOSE_IDLE = 4408
IDLE_GRACE_S = 1.0  # fire just after the deadline, never just before it


def utf8_length(text: str, limit: int) -> int:
    """The UTF-8 size of ``text``, computed only when its length in characters is near ``limit``."""
    if len(text) * 4 <= limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _idle_verdict(session_key: str, user_pk, at_deadline: bool = False) -> tuple[str, float]:
    """``("signed_out" | "idle" | "active", seconds until the session would be idle)``.

    Reads the session afresh from its store; an idle one is ended here. ``at_deadline``:
    the check runs at the moment the session would become idle; a session gone by then
    was ended for idleness by another socket of the page, whose timer fired at the same
    moment (a logout closes the sockets at once, ``user.disconnect``), so it is "idle"
    too: the page's sockets all say the same.
    """
    from reading.accounts.middleware import idle_seconds

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if not store.exists(session_key) or str(store.get("_auth_user_id")) != str(user_pk):
        return ("idle" if at_deadline else "signed_out"), 0.0
    left = settings.SESSION_IDLE_TIMEOUT - idle_seconds(store)
    if left < 0:
        store.flush()  # the automatic logoff, as the middleware does on the next request
        return "idle", 0.0
    return "active", left


class GuardedSocket:
    """Mixin for Channels WebSocket consumers: message size cap, idle logoff, dispatch."""

    max_text_bytes: int | None = None  # a consumer's own limit, below the setting
    max_binary_bytes: int | None = None
    _idle_handle: asyncio.TimerHandle | None = None
    _idle_task: asyncio.Task | None = None

    async def dispatch(self, message):
        # Without the stock close_old_connections hop (see the module's docstring).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # -- size ----------------------------------------------------------------------------

    def message_limit(self, binary: bool) -> int:
        if binary:
            return min(self.max_binary_bytes or 1 << 62, settings.WEBSOCKET_MAX_BINARY_BYTES)
        return min(self.max_text_bytes or 1 << 62, settings.WEBSOCKET_MAX_TEXT_BYTES)

    async def websocket_receive(self, message):
        text = message.get("text")
        binary = text is None
        limit = self.message_limit(binary)
        size = len(message.get("bytes") or b"") if binary else utf8_length(text, limit)
        if size > limit:
            await self.refuse_oversized(binary, size, limit)
            return
        await super().websocket_receive(message)

    async def refuse_oversized(self, binary: bool, size: int, limit: int) -> None:
        """Answer an oversized message; the default is the JSON error event."""
        kind = "binary" if binary else "text"
        await self.send(
            text_data=json.dumps(
                {
                    "type": "error",
                    "code": "too_large",
                    "detail": f"{kind} messages are at most {limit} bytes.",
                    "limit": limit,
                }
            )
        )

    # -- idle logoff ---------------------------------------------------------------------

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        user = self.scope.get("user")
        if key and user is not None and user.is_authenticated:
            # Consumers without a Django session (test scopes) have nothing to watch.
            self._idle_key = key
            if hasattr(session, "_session_cache"):
                # Loaded by the auth middleware for this connect: no query needed.
                from reading.accounts.middleware import idle_seconds

                self._arm_idle(settings.SESSION_IDLE_TIMEOUT - idle_seconds(session))
            else:
                await self._check_idle()

    def _arm_idle(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._idle_handle = loop.call_later(max(delay, 0.0) + IDLE_GRACE_S, self._fire_idle_check)

    def _fire_idle_check(self) -> None:
        self._idle_handle = None
        self._idle_task = asyncio.ensure_future(self._check_idle(at_deadline=True))

    async def _check_idle(self, at_deadline: bool = False) -> None:
        try:
            verdict, left = await off_the_shared_thread(_idle_verdict)(
                self._idle_key, self.scope["user"].pk, at_deadline
            )
        except Exception:  # noqa: BLE001 - the store briefly unreachable: look again later
            log.warning("idle check failed; retrying", exc_info=True)
            verdict, left = "active", 30.0
        if verdict == "active":
            self._arm_idle(left)
        else:
            await self.close(code=CLOSE_IDLE if verdict == "idle" else CLOSE_SIGNED_OUT)

    def _stop_idle_watch(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        task, self._idle_task = self._idle_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def websocket_disconnect(self, message):
        self._stop_idle_watch()
        await super().websocket_disconnect(message)
