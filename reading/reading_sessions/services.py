"""Writes to live reading sessions. The only code that saves session rows or emits
session events.

``append_event`` is the heart: it takes the next sequence number from the session's
counter row inside the transaction that stores the event (the UPDATE locks the row
until commit, so two writers never get the same number and numbers commit in order)
and broadcasts the stored envelope to ``session.<id>`` after commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reading.reading_sessions import events as ev
from reading.reading_sessions.access import get_session_by_invite_for_user
from reading.reading_sessions.models import (
    ChatMessage,
    Participant,
    PresenceState,
    ReadingSession,
    SessionEvent,
    SessionInvite,
    SessionStatus,
    group_for_session,
)
from reading.reading_sessions.serializers import (
    ChatMessageSerializer,
    ParticipantSerializer,
    SessionSummarySerializer,
)
from reading.realtime import group_send, send_on_commit
from reading.studies.access import can_read_images, studies_for_user

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
MAX_CHAT_CHARS = 4000
MAX_VIEWPORT_BYTES = 8 * 1024
MAX_POINTER_BYTES = 1024
LAST_SEEN_RESOLUTION = timedelta(seconds=30)


class SessionError(Exception):
    """A session action that is refused; ``code`` is sent to the client."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.code = code


def _user_ref(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "display_name": str(user), "role": user.role}


# -- the event log ---------------------------------------------------------------------


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


# -- sessions ----------------------------------------------------------------------------


def _summary(session: ReadingSession) -> dict:
    return dict(SessionSummarySerializer(session).data)


def _users_by_name(usernames) -> list:
    User = get_user_model()
    users = list(User.objects.filter(username__in=set(usernames), is_active=True))
    missing = set(usernames) - {u.username for u in users}
    if missing:
        raise ValidationError(f"no such active users: {', '.join(sorted(missing))}.")
    refused = [u.username for u in users if not can_read_images(u)]
    if refused:
        raise ValidationError(f"these users may not read images: {', '.join(sorted(refused))}.")
    return users


def create_session(*, study, host, title: str = "", invite: list[str] | None = None):
    """Start a session on ``study`` (fetched through ``get_study_for_user``); the host
    presents first."""
    invitees = _users_by_name(invite) if invite else []
    with transaction.atomic():
        session = ReadingSession.objects.create(
            study=study, host=host, presenter=host, title=(title or "")[:200]
        )
        for user in invitees:
            if user.pk != host.pk:
                SessionInvite.objects.get_or_create(
                    session=session, user=user, defaults={"invited_by": host}
                )
        append_event(session.pk, ev.SESSION_STARTED, _summary(session), host)
        _notify_invited(session, [u for u in invitees if u.pk != host.pk], host)
    session.refresh_from_db()
    return session


def invite_users(session: ReadingSession, *, by, usernames: list[str]) -> list:
    _require_active(session)
    users = _users_by_name(usernames)
    with transaction.atomic():
        new = [
            user
            for user in users
            if SessionInvite.objects.get_or_create(
                session=session, user=user, defaults={"invited_by": by}
            )[1]
        ]
        _notify_invited(session, new, by)
    return users


def _notify_invited(session: ReadingSession, users: list, by) -> None:
    """Tell each newly invited reader at once, on their worklist sockets
    (``reader_group``), after commit: ``worklist.session_invited`` (docs/realtime.md).
    The invite link's token is not sent; the viewer URL needs the reader's own access."""
    from reading.reading_sessions.serializers import viewer_url
    from reading.worklist.events import SESSION_INVITED, reader_group

    if not users:
        return
    payload = {
        **_summary(session),
        "viewer_url": viewer_url(session),
        "invited_by": {"id": by.pk, "username": by.username, "display_name": str(by)},
    }
    for user in users:
        send_on_commit(
            reader_group(user.pk),
            {
                "type": "worklist.event",
                "event": {"type": SESSION_INVITED, "seq": 0, "payload": payload},
            },
        )


def join_by_invite(user, token: str) -> ReadingSession:
    """Redeem an invite link: works for logged-in users who may read the study."""
    session = get_session_by_invite_for_user(user, token)
    if session.host_id != user.pk:
        SessionInvite.objects.get_or_create(
            session=session, user=user, defaults={"invited_by": session.host, "via_link": True}
        )
    return session


def end_session(session: ReadingSession, *, by) -> ReadingSession:
    if session.host_id != by.pk:
        raise PermissionDenied("Only the host ends the session.")
    with transaction.atomic():
        updated = ReadingSession.objects.filter(pk=session.pk, status=SessionStatus.ACTIVE).update(
            status=SessionStatus.ENDED, ended_at=timezone.now()
        )
        session.refresh_from_db()
        if updated:
            append_event(session.pk, ev.SESSION_ENDED, _summary(session), by)
    return session


def _require_active(session: ReadingSession) -> None:
    if session.status != SessionStatus.ACTIVE:
        raise SessionError("the session has ended.", code="ended")


# -- presence ----------------------------------------------------------------------------


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


# -- presenter and follow mode -----------------------------------------------------------


def request_presenter(session_id, user) -> SessionEvent:
    session = ReadingSession.objects.get(pk=session_id)
    _require_active(session)
    if session.presenter_id == user.pk:
        raise SessionError("you are already the presenter.", code="noop")
    return append_event(session_id, ev.PRESENTER_REQUESTED, {"user": _user_ref(user)}, user)


def set_presenter(session_id, *, by, user_id: int) -> SessionEvent:
    """The host or the current presenter hands the presenter role to a participant."""
    with transaction.atomic():
        session = ReadingSession.objects.select_for_update().get(pk=session_id)
        _require_active(session)
        if by.pk not in (session.host_id, session.presenter_id):
            raise SessionError("only the host or the presenter hands over.", code="forbidden")
        target = (
            Participant.objects.select_related("user")
            .filter(session_id=session_id, user_id=user_id)
            .first()
        )
        if target is None:
            raise SessionError("that user has not joined the session.", code="invalid")
        previous = session.presenter
        session.presenter = target.user
        session.save(update_fields=["presenter"])
        return append_event(
            session_id,
            ev.PRESENTER_CHANGED,
            {
                "presenter": _user_ref(target.user),
                "previous": _user_ref(previous),
                "by": _user_ref(by),
            },
            by,
        )


def _bounded_object(value, limit: int, name: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object.")
    if len(json.dumps(value, separators=(",", ":"))) > limit:
        raise ValidationError(f"{name} is too large.")
    return value


def update_viewport(session_id, user, viewport: Any) -> dict:
    """Keep the presenter's latest viewport on the session row and return the ephemeral
    envelope to broadcast; followers need only the latest, so no event is stored."""
    viewport = _bounded_object(viewport, MAX_VIEWPORT_BYTES, "viewport")
    now = timezone.now()
    updated = ReadingSession.objects.filter(
        pk=session_id, presenter=user, status=SessionStatus.ACTIVE
    ).update(viewport=viewport, viewport_at=now)
    if not updated:
        raise SessionError("only the presenter streams the viewport.", code="forbidden")
    return ev.ephemeral(
        ev.VIEWPORT_CHANGED, {"user": user.pk, "viewport": viewport, "at": now.isoformat()}
    )


def pointer_envelope(user, colour: str, pointer: Any) -> dict:
    """Telestration: never stored; the pointer's position and the image it is on."""
    pointer = _bounded_object(pointer, MAX_POINTER_BYTES, "pointer")
    return ev.ephemeral(ev.POINTER_MOVED, {"user": user.pk, "colour": colour, "pointer": pointer})


def broadcast_ephemeral(session_id, envelope: dict) -> None:
    group_send(group_for_session(session_id), ev.group_message(envelope))


# -- chat --------------------------------------------------------------------------------


def post_chat(session: ReadingSession | Any, user, text: Any) -> ChatMessage:
    """A chat line in the session (a session or its id), kept with the study."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("a chat message needs text.")
    if len(text) > MAX_CHAT_CHARS:
        raise ValidationError(f"a chat message has at most {MAX_CHAT_CHARS} characters.")
    if not isinstance(session, ReadingSession):
        session = ReadingSession.objects.get(pk=session)
    with transaction.atomic():
        _require_active(session)
        message = ChatMessage.objects.create(
            study_id=session.study_id, session=session, author=user, text=text.strip()
        )
        append_event(session.pk, ev.CHAT_MESSAGE, dict(ChatMessageSerializer(message).data), user)
    return message


def chat_for_study(user, study):
    """Chat kept with the study, across sessions (``study`` through the access check)."""
    studies_for_user(user)
    return ChatMessage.objects.select_related("author").filter(study=study)
