"""The session WebSocket: ``/ws/sessions/<uuid>/?after=<seq>``.

Connect authenticates, checks access with ``get_session_for_user``, joins the
session's group and the user's group, then replays stored events after ``after``.
Receive validates (size, JSON object, known type) and routes to the services; group
handlers forward. Every client sees stored events in ``seq`` order without gaps or
repeats: a live event that jumps ahead makes the consumer send the missing ones from
the database first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from reading.annotations.services import AnnotationError
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.edge import hostile_json
from reading.reading_sessions import eventlog, follow, presence, protocol, services
from reading.reading_sessions import events as ev
from reading.reading_sessions.access import get_session_for_user
from reading.reading_sessions.models import group_for_session, group_for_user
from reading.reading_sessions.serializers import SessionSerializer
from reading.reading_sessions.throttle import LatestOnly, TokenBucket
from reading.realtime import off_the_shared_thread, run_and_publish
from reading.sockets import GuardedSocket

log = logging.getLogger(__name__)

STREAM_INTERVAL = 0.05  # viewport and pointer: at most ~20 updates a second each
# A channel layer drops group messages for a channel whose queue is full (a burst):
# a dropped event in the middle is refilled when the next one arrives, one at the end
# by a look at the log once the stream has been quiet this long (and on every ping).
# Only after events, so an idle session costs no queries; a timer per socket looking
# every few seconds made every 50th annotation wait behind 50 sockets' reads.
QUIET_CHECK_SECONDS = 2.0
# Commands re-check access with the user loaded afresh at most this often; a
# deactivation is pushed at once anyway (user.disconnect).
ACCESS_RECHECK_SECONDS = 10.0
REPLAY_BATCH = 500
CLOSE_RELOAD = 4401  # docs/realtime.md: user.<id> group, user.disconnect
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_ENDED = 4410


def _connect(user, session_id):
    session = get_session_for_user(user, session_id)
    if not session.is_active:
        return session, None, None
    connected = presence.connect_participant(session, user)
    # The socket replays the session's events and chat: a read of the study's patient data.
    record_access(user, AuditAction.VIEW, study=session.study, detail="session-socket")
    session.refresh_from_db()
    state = dict(SessionSerializer(session).data)
    return session, connected, state


class SessionConsumer(GuardedSocket, AsyncJsonWebsocketConsumer):
    session_id = None
    joined = False
    check_timer = None
    last_event_at = 0.0

    async def connect(self):
        user = self.scope.get("user")
        raw_id = self.scope["url_route"]["kwargs"]["session_id"]
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            session, connected, state = await off_the_shared_thread(_connect)(user, raw_id)
        except PermissionDenied:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if connected is None:
            await self.close(code=CLOSE_ENDED)
            return
        self.user = user
        self.session_id = session.pk
        self.colour = connected.participant.colour
        self.last_sent = connected.last_seq_before
        self.joined = True
        self.checked_at = asyncio.get_running_loop().time()
        self.rate = TokenBucket(rate=60, burst=120)
        self.viewport = LatestOnly(STREAM_INTERVAL, self._send_viewport)
        self.pointer = LatestOnly(STREAM_INTERVAL, self._send_pointer)
        await self.channel_layer.group_add(group_for_session(self.session_id), self.channel_name)
        await self.channel_layer.group_add(group_for_user(user.pk), self.channel_name)
        await self.accept()
        after = self._after_from_query()
        if after is None:
            after = connected.last_seq_before
            await self.send_json(ev.ephemeral(ev.STATE, state))
        self.last_sent = after
        await self._replay(before=None)

    def _after_from_query(self) -> int | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        try:
            after = int(query.get("after", [""])[0])
        except ValueError:
            return None
        return max(after, 0)

    async def disconnect(self, code):
        if not self.joined:
            return
        self.joined = False
        if self.check_timer is not None:
            self.check_timer.cancel()
        self.viewport.cancel()
        self.pointer.cancel()
        await self.channel_layer.group_discard(
            group_for_session(self.session_id), self.channel_name
        )
        await self.channel_layer.group_discard(group_for_user(self.user.pk), self.channel_name)
        await off_the_shared_thread(presence.disconnect_participant)(self.session_id, self.user)

    # -- from the client ------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            await self._error("bad_message", "send JSON text frames.")
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("bad_message", "not JSON.")
            return
        reason = hostile_json(message)
        if reason:
            await self._error("bad_message", f"{reason}.")
            return
        ref = message.get("ref") if isinstance(message, dict) else None
        if not isinstance(ref, (str, int, type(None))) or isinstance(ref, bool):
            ref = None
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str) or kind not in protocol.CLIENT_TYPES:
            await self._error("unknown_type", "a JSON object with a known type is expected.", ref)
            return
        if not self.rate.allow(asyncio.get_running_loop().time()):
            await self._error("rate_limited", "too many messages; slow down.", ref)
            return
        await self.receive_json(message)

    async def receive_json(self, content, **kwargs):
        kind, ref = content["type"], content.get("ref")
        if kind == "ping":
            await self._replay(before=None)
            await self.send_json(ev.ephemeral(ev.PONG, {"ref": ref, "last_seq": self.last_sent}))
            await off_the_shared_thread(presence.touch)(self.session_id, self.user)
        elif kind == "resume":
            after = content.get("after")
            if isinstance(after, bool) or not isinstance(after, int) or after < 0:
                await self._error("bad_message", "after must be a sequence number.", ref)
                return
            # Events after ``after`` that this socket already sent are sent again: the
            # client asked for them (it dedupes by seq).
            self.last_sent = min(self.last_sent, after)
            await self._replay(before=None)
        elif kind == "viewport.update":
            await self.viewport.submit((content.get("viewport"), ref))
        elif kind == "pointer.move":
            await self.pointer.submit((content.get("pointer"), ref))
        else:
            await self._command(content, ref)

    async def _command(self, content, ref):
        now = asyncio.get_running_loop().time()
        recheck = now - self.checked_at >= ACCESS_RECHECK_SECONDS
        try:
            result = await run_and_publish(
                protocol.handle_command, self.user, self.session_id, content, recheck=recheck
            )
            if recheck:
                self.checked_at = now
        except PermissionDenied as exc:
            await self._error("forbidden", str(exc) or "not allowed.", ref)
            return
        except Http404 as exc:
            await self._error("not_found", str(exc) or "not found.", ref)
            return
        except ValidationError as exc:
            await self._error("invalid", " ".join(exc.messages), ref)
            return
        except AnnotationError as exc:
            await self._error("invalid", str(exc), ref)
            return
        except services.SessionError as exc:
            await self._error(exc.code, str(exc), ref)
            return
        await self.send_json(ev.ephemeral(ev.ACK, {"ref": ref, "type": content["type"], **result}))

    async def _send_viewport(self, item):
        viewport, ref = item
        try:
            envelope = await off_the_shared_thread(protocol.update_viewport)(
                self.user.pk, self.session_id, viewport
            )
        except ValidationError as exc:
            await self._error("invalid", " ".join(exc.messages), ref)
            return
        except services.SessionError as exc:
            await self._error(exc.code, str(exc), ref)
            return
        await self.channel_layer.group_send(
            group_for_session(self.session_id), ev.group_message(envelope)
        )

    async def _send_pointer(self, item):
        pointer, ref = item
        try:
            envelope = follow.pointer_envelope(self.user, self.colour, pointer)
        except ValidationError as exc:
            await self._error("invalid", " ".join(exc.messages), ref)
            return
        await self.channel_layer.group_send(
            group_for_session(self.session_id), ev.group_message(envelope)
        )

    async def refuse_oversized(self, binary, size, limit):
        await self._error("too_large", f"messages are at most {limit} bytes.")

    async def _error(self, code: str, detail: str, ref=None):
        await self.send_json(ev.ephemeral(ev.ERROR, {"code": code, "detail": detail, "ref": ref}))

    # -- from the channel layer -----------------------------------------------------------

    async def _replay(self, before: int | None):
        while True:
            batch = await off_the_shared_thread(eventlog.events_after)(
                self.session_id, self.last_sent, before=before, limit=REPLAY_BATCH
            )
            for envelope in batch:
                await self.send_json(envelope)
                self.last_sent = envelope["seq"]
            if len(batch) < REPLAY_BATCH:
                return

    async def session_event(self, message):
        seq = message["seq"]
        if seq <= self.last_sent:
            return  # already sent (replayed, or a duplicate delivery)
        if seq > self.last_sent + 1:
            await self._replay(before=seq)  # fill the gap from the log, in order
        await self.send(text_data=message["text"])
        self.last_sent = seq
        if message["event_type"] == ev.SESSION_ENDED:
            await self.close(code=CLOSE_ENDED)
            return
        self._arm_quiet_check()

    def _arm_quiet_check(self):
        # Per recipient per event: note the time only. Cancelling and re-creating a timer
        # here cost ~18% of the fan-out; the one timer moves itself on when it fires.
        loop = asyncio.get_running_loop()
        self.last_event_at = loop.time()
        if self.check_timer is None:
            self.check_timer = loop.call_later(QUIET_CHECK_SECONDS, self._quiet_timer_fired)

    def _quiet_timer_fired(self):
        quiet_for = asyncio.get_running_loop().time() - self.last_event_at
        if quiet_for < QUIET_CHECK_SECONDS:
            self.check_timer = asyncio.get_running_loop().call_later(
                QUIET_CHECK_SECONDS - quiet_for, self._quiet_timer_fired
            )
            return
        self.check_timer = None
        asyncio.ensure_future(self._queue_check())

    async def _queue_check(self):
        try:
            # Through the consumer's own queue, so it runs between other messages.
            await self.channel_layer.send(self.channel_name, {"type": "session.check"})
        except Exception:  # noqa: BLE001 - a full queue: the next event re-arms it
            log.debug("catch-up check not queued", exc_info=True)

    async def session_check(self, message):
        await self._replay(before=None)

    async def session_ephemeral(self, message):
        await self.send(text_data=message["text"])

    async def user_disconnect(self, message):
        """The user was deactivated or lost their role: close this socket (4401: reload)."""
        await self.close(code=CLOSE_RELOAD)

    user_deactivated = user_disconnect
