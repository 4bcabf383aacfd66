"""Live worklist: every open worklist page listens here (ws/worklist/)."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from reading.accounts.access import is_clinical
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.sockets import GuardedSocket
from reading.worklist import events


class WorklistConsumer(GuardedSocket, AsyncJsonWebsocketConsumer):
    """Forwards worklist events to readers. Clients load rows over REST, then apply events."""

    async def connect(self):
        user = self.scope.get("user")
        if not is_clinical(user):
            await self.close(code=4403)
            return
        self.groups_joined = [
            events.GROUP,
            events.user_group(user.pk),
            events.reader_group(user.pk),
        ]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # The socket pushes every patient's worklist row: audited like the worklist API.
        await database_sync_to_async(record_access)(
            user, AuditAction.SEARCH, detail="worklist-socket"
        )

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Only ``{"type": "ping"}`` is expected; anything else gets an error, not a close."""
        try:
            content = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):
            content = None
        if not isinstance(content, dict) or content.get("type") != "ping":
            await self.send_json(
                {"type": "error", "code": "unknown_type", "detail": 'only {"type": "ping"}.'}
            )
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def worklist_event(self, message):
        await self.send_json(message["event"])

    async def user_disconnect(self, message):
        """The user was deactivated or lost their role: end this socket now."""
        await self.close(code=4401)
