"""The presenter and follow mode: who presents, the presenter's viewport, the pointer.

Viewport and pointer are ephemeral: never stored, only the latest matters.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from reading.reading_sessions import events as ev
from reading.reading_sessions.eventlog import append_event
from reading.reading_sessions.models import (
    Participant,
    ReadingSession,
    SessionEvent,
    SessionStatus,
    group_for_session,
)
from reading.reading_sessions.services import SessionError, require_active
from reading.realtime import group_send

MAX_VIEWPORT_BYTES = 8 * 1024
MAX_POINTER_BYTES = 1024


def _user_ref(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "display_name": str(user), "role": user.role}


def request_presenter(session_id, user) -> SessionEvent:
    session = ReadingSession.objects.get(pk=session_id)
    require_active(session)
    if session.presenter_id == user.pk:
        raise SessionError("you are already the presenter.", code="noop")
    return append_event(session_id, ev.PRESENTER_REQUESTED, {"user": _user_ref(user)}, user)


def set_presenter(session_id, *, by, user_id: int) -> SessionEvent:
    """The host or the current presenter hands the presenter role to a participant."""
    with transaction.atomic():
        session = ReadingSession.objects.select_for_update().get(pk=session_id)
        require_active(session)
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
