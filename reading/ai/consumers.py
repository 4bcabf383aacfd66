"""Live AI updates for a viewer outside a session: ``/ws/ai/studies/<study uid>/``.

Connect authenticates, checks access with ``get_study_for_user`` and joins the
study's group (``events.study_group``) and the user's (closed on logout or lost
access). Job states, the streamed text, findings and their reviews arrive as
the same envelopes sessions get (``seq`` is null: a client that reconnects
reloads over REST). Nothing is received but ``{"type": "ping"}``.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from reading.accounts.signals import user_group
from reading.ai.events import study_group
from reading.sockets import GuardedSocket
from reading.studies.access import get_study_for_user

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


class StudyAIConsumer(GuardedSocket, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        uid = self.scope["url_route"]["kwargs"]["study_uid"]
        try:
            study = await database_sync_to_async(get_study_for_user)(user, uid)
        except PermissionDenied:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.groups_joined = [study_group(study.pk), user_group(user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(
                {"type": "error", "code": "unknown_type", "detail": 'only {"type": "ping"}.'}
            )

    async def ai_event(self, message):
        await self.send_json(message["event"])

    async def user_disconnect(self, message):
        await self.close(code=CLOSE_UNAUTHENTICATED)
