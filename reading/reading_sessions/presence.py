"""Presence in a live session: joining and leaving with the WebSockets, idle and active,
the heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reading.reading_sessions import events as ev
from reading.reading_sessions.eventlog import append_event
from reading.reading_sessions.models import (
    Participant,
    PresenceState,
    ReadingSession,
    SessionEvent,
)
from reading.reading_sessions.serializers import ParticipantSerializer

# Distinct on dark viewer backgrounds; assigned in join order.
COLOURS = (
    "#f5a623",
    "#4fc3f7",
    "#81c784",
    "#e57373",
    "#ba68c8",
    "#fff176",
    "#4db6ac",
    "#f06292",
    "#a1887f",
    "#90a4ae",
)
LAST_SEEN_RESOLUTION = timedelta(seconds=30)


def _participant_payload(participant: Participant) -> dict:
    return dict(ParticipantSerializer(participant).data)


@dataclass
class Connected:
    participant: Participant
    last_seq_before: int


def connect_participant(session: ReadingSession, user) -> Connected:
    """A WebSocket of ``user`` opened; the first one makes them join (an event)."""
    with transaction.atomic():
        before = ReadingSession.objects.filter(pk=session.pk).values_list("last_seq", flat=True)
        last_seq_before = before.get()
        participant = Participant.objects.filter(session=session, user=user).first()
        if participant is None:
            count = Participant.objects.filter(session=session).count()
            participant = Participant.objects.create(
                session=session,
                user=user,
                role=user.role,
                colour=COLOURS[count % len(COLOURS)],
            )
        Participant.objects.filter(pk=participant.pk).update(
            connections=F("connections") + 1, last_seen_at=timezone.now()
        )
        participant.refresh_from_db()
        if participant.connections == 1 or participant.state == PresenceState.OFFLINE:
            participant.state = PresenceState.ACTIVE
            participant.left_at = None
            participant.role = user.role
            participant.save(update_fields=["state", "left_at", "role"])
            append_event(session.pk, ev.PARTICIPANT_JOINED, _participant_payload(participant), user)
    return Connected(participant=participant, last_seq_before=last_seq_before)


def _locked_participant(session_id, user) -> Participant | None:
    """The user's participant row, locked for the rest of the transaction."""
    return (
        Participant.objects.select_for_update()
        .select_related("user")
        .filter(session_id=session_id, user=user)
        .first()
    )


def disconnect_participant(session_id, user) -> None:
    """A WebSocket closed; when it was the user's last one, they left (an event)."""
    with transaction.atomic():
        participant = _locked_participant(session_id, user)
        if participant is None:
            return
        participant.connections = max(0, participant.connections - 1)
        participant.last_seen_at = timezone.now()
        fields = ["connections", "last_seen_at"]
        if participant.connections == 0 and participant.state != PresenceState.OFFLINE:
            participant.state = PresenceState.OFFLINE
            participant.left_at = timezone.now()
            fields += ["state", "left_at"]
            participant.save(update_fields=fields)
            append_event(session_id, ev.PARTICIPANT_LEFT, _participant_payload(participant), user)
        else:
            participant.save(update_fields=fields)


def set_presence(session_id, user, state: str) -> SessionEvent | None:
    """``active`` or ``idle`` (the client decides when its user went idle)."""
    if state not in (PresenceState.ACTIVE, PresenceState.IDLE):
        raise ValidationError("state must be active or idle.")
    with transaction.atomic():
        participant = _locked_participant(session_id, user)
        if participant is None or participant.state == state:
            return None
        participant.state = state
        participant.last_seen_at = timezone.now()
        participant.save(update_fields=["state", "last_seen_at"])
        kind = ev.PARTICIPANT_IDLE if state == PresenceState.IDLE else ev.PARTICIPANT_ACTIVE
        return append_event(session_id, kind, _participant_payload(participant), user)


def touch(session_id, user) -> None:
    """Heartbeat: refresh ``last_seen_at``, at most every 30 s."""
    cutoff = timezone.now() - LAST_SEEN_RESOLUTION
    Participant.objects.filter(session_id=session_id, user=user, last_seen_at__lt=cutoff).update(
        last_seen_at=timezone.now()
    )
