"""Worklist realtime events (listed in docs/realtime.md).

Every event goes to the ``worklist`` group as
``{"type": "worklist.study_claimed", "seq": <row version>, "payload": <row>}``
where the payload is the REST serializer's output for the row, built after the
transaction commits so it shows the committed state.
"""

from __future__ import annotations

from reading.accounts.signals import USER_DISCONNECT, close_user_sockets_on_commit, user_group  # noqa: F401
from reading.realtime import send_on_commit

GROUP = "worklist"

STUDY_ARRIVED = "worklist.study_arrived"
STUDY_UPDATED = "worklist.study_updated"
STUDY_CLAIMED = "worklist.study_claimed"
CLAIM_RELEASED = "worklist.claim_released"
STATUS_CHANGED = "worklist.status_changed"
STUDY_ASSIGNED = "worklist.study_assigned"
PRIORITY_CHANGED = "worklist.priority_changed"

EVENT_TYPES = (
    STUDY_ARRIVED,
    STUDY_UPDATED,
    STUDY_CLAIMED,
    CLAIM_RELEASED,
    STATUS_CHANGED,
    STUDY_ASSIGNED,
    PRIORITY_CHANGED,
)

# Sent to ``reader_group(id)`` only (one reader's worklist sockets): a live reading
# session invited this reader; the payload is the session summary with its viewer URL.
SESSION_INVITED = "worklist.session_invited"


def reader_group(user_id: int) -> str:
    """One reader's worklist sockets (``user.<id>`` is every socket of the user, and only
    takes the accounts app's messages)."""
    return f"worklist.user.{user_id}"


# ``user.<id>`` and its closing message are the accounts app's (reading/accounts/signals.py).


def _messages(event_type: str, study_ids: list[int]) -> list[dict]:
    from reading.worklist.queries import rows_for_events

    return [
        {"type": "worklist.event", "event": {"type": event_type, "seq": seq, "payload": payload}}
        for seq, payload in rows_for_events(study_ids)
    ]


def emit_on_commit(event_type: str, study_ids: list[int] | int) -> None:
    """Broadcast ``event_type`` for these studies once the transaction commits (the rows
    are read then, through ``reading.realtime.send_on_commit``)."""
    ids = [study_ids] if isinstance(study_ids, int) else list(study_ids)
    if ids:
        send_on_commit(GROUP, lambda: _messages(event_type, ids))


disconnect_user_on_commit = close_user_sockets_on_commit
