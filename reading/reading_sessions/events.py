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
DICTATION_FINAL = "dictation.final"
# Dictation partials are ephemeral: replaced by the next one, never replayed.
DICTATION_PARTIAL = "dictation.partial"
AI_JOB_PROGRESS = "ai.job.progress"
AI_FINDING = "ai.finding"
AI_JOB_DONE = "ai.job.done"
AI_JOB_FAILED = "ai.job.failed"
AI_JOB_CANCELLED = "ai.job.cancelled"
# The streamed answer and fine-grained progress of a running AI job: the latest wins.
AI_JOB_STREAM = "ai.job.stream"
# The reports app: a report's status, signers or critical state changed; a drafted
# impression arrived (payloads in docs/reports.md).
REPORT_STATUS = "report.status"
REPORT_SUGGESTION = "report.suggestion"

VIEWPORT_CHANGED = "viewport.changed"
POINTER_MOVED = "pointer.moved"

RESERVED = frozenset(
    {
        DICTATION_FINAL,
        AI_JOB_PROGRESS,
        AI_FINDING,
        AI_JOB_DONE,
        AI_JOB_FAILED,
        AI_JOB_CANCELLED,
        REPORT_STATUS,
        REPORT_SUGGESTION,
    }
)
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
EPHEMERAL = frozenset({VIEWPORT_CHANGED, POINTER_MOVED, DICTATION_PARTIAL, AI_JOB_STREAM})

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
