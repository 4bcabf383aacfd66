"""Broadcasting realtime events to channel-layer groups, after commit only."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def send_on_commit(group: str, message: dict) -> None:
    """Send ``message`` to ``group`` once the current transaction commits."""
    transaction.on_commit(lambda: group_send(group, message))
