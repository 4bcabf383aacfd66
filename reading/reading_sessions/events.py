"""Session event types (every one is listed with its payload in docs/realtime.md).

Stored (durable) events carry a per-session ``seq``; ephemeral ones (viewport,
pointer) carry ``"seq": null`` and are never replayed.
"""

from __future__ import annotations

import json

SESSION_STARTED = "session.started"
SESSION_ENDED = "session.ended"
PARTICIPANT_JOINED = "participant.joined"
PARTICIPANT_LEFT = "participant.left"
PARTICIPANT_IDLE = "participant.idle"
PARTICIPANT_ACTIVE = "participant.active"
PRESENTER_CHANGED = "presenter.changed"
PRESENTER_REQUESTED = "presenter.requested"
ANNOTATION_CREATED = "annotation.created"
ANNOTATION_UPDATED = "annotation.updated"
ANNOTATION_DELETED = "annotation.deleted"
ANNOTATION_REVIEWED = "annotation.reviewed"
CHAT_MESSAGE = "chat.message"
# Reserved for the dictation and AI issues: stored like the others.
DICTATION_PARTIAL = "dictation.partial"
DICTATION_FINAL = "dictation.final"
AI_JOB_PROGRESS = "ai.job.progress"
AI_FINDING = "ai.finding"

VIEWPORT_CHANGED = "viewport.changed"
POINTER_MOVED = "pointer.moved"

RESERVED = frozenset({DICTATION_PARTIAL, DICTATION_FINAL, AI_JOB_PROGRESS, AI_FINDING})
DURABLE = frozenset(
    {
        SESSION_STARTED,
        SESSION_ENDED,
        PARTICIPANT_JOINED,
        PARTICIPANT_LEFT,
        PARTICIPANT_IDLE,
        PARTICIPANT_ACTIVE,
        PRESENTER_CHANGED,
        PRESENTER_REQUESTED,
        ANNOTATION_CREATED,
        ANNOTATION_UPDATED,
        ANNOTATION_DELETED,
        ANNOTATION_REVIEWED,
        CHAT_MESSAGE,
    }
    | RESERVED
)
EPHEMERAL = frozenset({VIEWPORT_CHANGED, POINTER_MOVED})

# Sent only to the one client concerned.
STATE = "session.state"
ACK = "ack"
ERROR = "error"
PONG = "pong"


def ephemeral(event_type: str, payload: dict) -> dict:
    return {"type": event_type, "seq": None, "payload": payload}


def group_message(envelope: dict) -> dict:
    """The channel-layer message for ``session.<id>``: the envelope as JSON text, encoded
    once here rather than once per participant (layers copy messages per channel)."""
    kind = "session.ephemeral" if envelope["seq"] is None else "session.event"
    return {
        "type": kind,
        "seq": envelope["seq"],
        "event_type": envelope["type"],
        "text": json.dumps(envelope),
    }
