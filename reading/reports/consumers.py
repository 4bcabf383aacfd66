"""The report's co-editing WebSocket: ``/ws/reports/<report id>/``.

Binary frames in the y-websocket protocol (y-protocols): sync step 1 / step 2 /
update (message 0), awareness (1: user name, colour, cursor) and auth (2: permission
denied, sent when the report is or becomes final). Connect authenticates, checks
access with ``get_report_for_user`` and joins ``report.<id>``; every update is stored
(``ydoc.apply_client_update``) before it is broadcast, so what another editor sees is
already durable. Awareness is relayed, never stored.

The database calls run in the report sockets' own pool (``off_the_shared_thread``), the write
through ``run_and_publish``, so it is broadcast from the event loop once committed.
Each socket has its own ``LiveDoc`` and Channels hands a consumer one message at a
time, so no two threads touch one copy; concurrent writers of one report, in this
process or another, are put in order by the report's row lock.
"""

from __future__ import annotations

import logging
from base64 import b64decode, b64encode

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    read_message,
    write_message,
)

from reading.accounts.signals import user_group
from reading.realtime import off_the_shared_thread, run_and_publish
from reading.reports import ydoc
from reading.reports.access import get_report_for_user
from reading.reports.models import Report
from reading.sockets import CLOSE_TOO_LARGE, GuardedSocket

log = logging.getLogger(__name__)

MESSAGE_AUTH = 2
PERMISSION_DENIED = 0
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_BAD_MESSAGE = 4400


def sync_message(step: int, payload: bytes) -> bytes:
    """A y-protocols sync message (pycrdt exports only the update one)."""
    return bytes([YMessageType.SYNC, step]) + write_message(payload)


def permission_denied_message(reason: str) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(PERMISSION_DENIED)
    encoder.write_var_string(reason)
    return bytes([MESSAGE_AUTH]) + encoder.to_bytes()


def awareness_clocks(message: bytes) -> dict[int, tuple[int, bool]]:
    """``{client id: (clock, present)}`` from an awareness message's update."""
    decoder = Decoder(read_message(message[1:]))
    clocks = {}
    for _ in range(decoder.read_var_uint()):
        client_id = decoder.read_var_uint()
        clock = decoder.read_var_uint()
        state = decoder.read_var_string()
        clocks[client_id] = (clock, state not in ("", "null"))
    return clocks


def awareness_removal(clocks: dict[int, int]) -> bytes:
    """An awareness update that says these clients left (their state becomes null)."""
    encoder = Encoder()
    encoder.write_var_uint(len(clocks))
    for client_id, clock in clocks.items():
        encoder.write_var_uint(client_id)
        encoder.write_var_uint(clock + 1)
        encoder.write_var_string("null")
    return create_awareness_message(encoder.to_bytes())


def _open(user, report_id):
    report = get_report_for_user(user, report_id)
    refused = None if ydoc.may_edit(user, report) else ydoc.refusal_reason(report)
    return report, ydoc.open_document(report.pk), refused


def _recheck(user, report_id) -> str | None:
    report = Report.objects.get(pk=report_id)
    return None if ydoc.may_edit(user, report) else ydoc.refusal_reason(report)


class ReportConsumer(GuardedSocket, AsyncWebsocketConsumer):
    live: ydoc.LiveDoc | None = None
    group: str | None = None
    refused: str | None = None  # why this user's edits are refused, None while allowed

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        report_id = self.scope["url_route"]["kwargs"]["report_id"]
        self.group = ydoc.group_for_report(report_id)
        # Join before loading: an update committed in between arrives twice at
        # worst, and a Yjs update applied twice changes nothing.
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Logout and deactivation close every socket of the user (accounts/signals.py).
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        try:
            report, self.live, self.refused = await off_the_shared_thread(_open, "reports")(
                user, report_id
            )
        except (PermissionDenied, Http404, ValidationError) as exc:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(user_group(user.pk), self.channel_name)
            self.group = None
            code = CLOSE_FORBIDDEN if isinstance(exc, PermissionDenied) else CLOSE_NOT_FOUND
            await self.close(code=code)
            return
        self.user = user
        self.clients: dict[int, int] = {}
        await self.accept()
        await self.send(
            bytes_data=sync_message(YSyncMessageType.SYNC_STEP1, self.live.doc.get_state())
        )
        if self.refused:
            await self.send(bytes_data=permission_denied_message(self.refused))

    async def disconnect(self, code):
        if self.group is None:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        if self.live is not None and self.clients:
            # The tab is gone: its cursor goes at once, not after the 30 s timeout.
            await self._relay_awareness(awareness_removal(self.clients))

    # -- from the editor ------------------------------------------------------------------

    async def refuse_oversized(self, binary, size, limit):
        # y-protocols has no error message a Yjs client would read: close (it reconnects
        # and syncs; every accepted update is stored already).
        await self.close(code=CLOSE_TOO_LARGE)

    async def receive(self, text_data=None, bytes_data=None):
        if not bytes_data:
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        try:
            kind = bytes_data[0]
            if kind == YMessageType.SYNC:
                await self._on_sync(bytes_data)
            elif kind == YMessageType.AWARENESS:
                for client_id, (clock, present) in awareness_clocks(bytes_data).items():
                    if present:
                        self.clients[client_id] = clock
                    else:
                        self.clients.pop(client_id, None)
                await self._relay_awareness(bytes_data)
        except (IndexError, RuntimeError, ValueError, UnicodeDecodeError):
            log.info("report %s: malformed message from %s", self.live.report_id, self.user)
            await self.close(code=CLOSE_BAD_MESSAGE)

    async def _on_sync(self, message: bytes) -> None:
        step = message[1]
        payload = read_message(message[2:])
        if step == YSyncMessageType.SYNC_STEP1:
            # Answer with everything stored, including what other processes wrote.
            await off_the_shared_thread(ydoc.refresh, "reports")(self.live)
            await self.send(
                bytes_data=sync_message(
                    YSyncMessageType.SYNC_STEP2, self.live.doc.get_update(payload)
                )
            )
            return
        if step not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            return
        if not payload or payload == ydoc.EMPTY_UPDATE:
            return
        if step == YSyncMessageType.SYNC_STEP2 and not self._changes(payload):
            return
        if self.refused:
            await self.send(bytes_data=permission_denied_message(self.refused))
            return
        try:
            await run_and_publish(
                ydoc.apply_client_update,
                self.live,
                payload,
                self.user,
                self.channel_name,
                pool="reports",
            )
        except ydoc.EditRefused as exc:
            self.refused = exc.reason
            await off_the_shared_thread(ydoc.refresh, "reports")(self.live)
            await self.send(bytes_data=permission_denied_message(exc.reason))

    def _changes(self, update: bytes) -> bool:
        """Whether ``update`` adds anything to this copy (a reconnecting editor's step 2
        repeats what is stored; it need not be stored again)."""
        probe = Doc()
        probe.apply_update(self.live.doc.get_update())
        before = (probe.get_state(), str(probe.get(ydoc.TEXT, type=ydoc.Text)))
        probe.apply_update(update)
        return (probe.get_state(), str(probe.get(ydoc.TEXT, type=ydoc.Text))) != before

    async def _relay_awareness(self, message: bytes) -> None:
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "report.awareness",
                "data": b64encode(message).decode(),
                "origin": self.channel_name,
            },
        )

    # -- from the group (forward only) ----------------------------------------------------

    async def report_update(self, event):
        if event.get("origin") == self.channel_name or self.live is None:
            return
        update = b64decode(event["update"])
        self.live.apply(update)
        await self.send(bytes_data=create_update_message(update))

    async def report_awareness(self, event):
        if event.get("origin") != self.channel_name:
            await self.send(bytes_data=b64decode(event["data"]))

    async def report_status(self, event):
        if self.live is None or self.refused:
            return
        self.refused = await off_the_shared_thread(_recheck, "reports")(
            self.user, self.live.report_id
        )
        if self.refused:
            await self.send(bytes_data=permission_denied_message(self.refused))

    async def user_disconnect(self, event):
        await self.close(code=CLOSE_UNAUTHENTICATED)
