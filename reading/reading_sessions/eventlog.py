"""The session event log: every stored session event and its sequence number.

``append_event`` is the heart: it takes the next sequence number from the session's
counter row inside the transaction that stores the event (the UPDATE locks the row
until commit, so two writers never get the same number and numbers commit in order)
and broadcasts the stored envelope to ``session.<id>`` after commit.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import F

from reading.reading_sessions import events as ev
from reading.reading_sessions.models import (
    ReadingSession,
    SessionEvent,
    SessionStatus,
    group_for_session,
)
from reading.realtime import send_on_commit


def append_event(
    session_id, event_type: str, payload: dict | Callable[[], dict], actor=None
) -> SessionEvent:
    """Store an event with the session's next ``seq``; broadcast it after commit.

    ``payload`` may be a callable: it is then called once the sequence number is
    taken (the counter row is locked), so the payload of a later event is never read
    before that of an earlier one.
    """
    if event_type not in ev.DURABLE:
        raise ValueError(f"not a stored event type: {event_type}")
    with transaction.atomic():
        ReadingSession.objects.filter(pk=session_id).update(last_seq=F("last_seq") + 1)
        seq = ReadingSession.objects.filter(pk=session_id).values_list("last_seq", flat=True).get()
        if callable(payload):
            payload = payload()
        event = SessionEvent.objects.create(
            session_id=session_id,
            seq=seq,
            type=event_type,
            payload=payload,
            actor_id=actor if isinstance(actor, int) else getattr(actor, "pk", None),
        )
        send_on_commit(group_for_session(session_id), ev.group_message(event.envelope()))
    return event


def events_after(session_id, after: int, *, before: int | None = None, limit: int = 1000):
    """Stored envelopes with ``after < seq`` (``< before`` when given), in order."""
    qs = SessionEvent.objects.filter(session_id=session_id, seq__gt=after)
    if before is not None:
        qs = qs.filter(seq__lt=before)
    return [
        {"type": t, "seq": s, "payload": p}
        for t, s, p in qs.order_by("seq").values_list("type", "seq", "payload")[:limit]
    ]


def publish_event(session: ReadingSession, event_type: str, payload: dict, actor=None):
    """For other apps (dictation, AI): add one of the reserved event types to a session."""
    if event_type not in ev.RESERVED:
        raise ValueError(f"{event_type} is not one of the reserved event types")
    return append_event(session.pk, event_type, payload, actor)


def publish_to_study_sessions(study_id: int, event_type: str, payload: dict, actor=None) -> None:
    """Add an event to every active session on the study (annotations, AI findings)."""
    for session_id in ReadingSession.objects.filter(
        study_id=study_id, status=SessionStatus.ACTIVE
    ).values_list("pk", flat=True):
        append_event(session_id, event_type, payload, actor)
