"""What a session's WebSocket clients may send, routed to the services.

Each handler runs in a worker thread (``database_sync_to_async``), re-checks access
with a freshly loaded user and returns the ack payload for the client. Message
shapes are documented in docs/realtime.md.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from reading.annotations import services as annotation_services
from reading.annotations.access import annotations_qs
from reading.reading_sessions import chat, follow, presence, services
from reading.reading_sessions.access import get_session_for_user
from reading.reading_sessions.models import ReadingSession

# Client message types; viewport.update and pointer.move are handled by the consumer
# (throttled, never stored), resume and ping too.
COMMANDS = frozenset(
    {
        "presence",
        "presenter.request",
        "presenter.set",
        "chat.send",
        "annotation.create",
        "annotation.update",
        "annotation.delete",
        "annotation.review",
        "session.end",
    }
)
STREAMS = frozenset({"viewport.update", "pointer.move"})
CONTROL = frozenset({"resume", "ping"})
CLIENT_TYPES = COMMANDS | STREAMS | CONTROL


def _fresh(user_id: int, session_id) -> tuple[Any, ReadingSession]:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise PermissionDenied("Your account is not active.")
    return user, get_session_for_user(user, session_id)


def _seq(event) -> int | None:
    return getattr(event, "seq", None)


def _annotation(session: ReadingSession, message: dict):
    """An annotation of the session's study (access to the study came with the session)."""
    try:
        pk = uuid.UUID(str(message.get("id")))
    except ValueError as exc:
        raise Http404("No such annotation.") from exc
    annotation = annotations_qs().filter(pk=pk, study_id=session.study_id).first()
    if annotation is None:
        raise Http404("No such annotation in this study.")
    return annotation


def handle_command(user, session_id, message: dict, *, recheck: bool = True) -> dict:
    """Run one client command; returns ``{"seq": ..., ...}`` for the ack.

    With ``recheck`` the user is loaded afresh and access checked again; the consumer
    asks for it every few seconds (deactivation is also pushed to it at once).
    """
    if recheck:
        user, session = _fresh(user.pk, session_id)
    else:
        session = ReadingSession.objects.select_related("study").get(pk=session_id)
    kind = message["type"]
    if kind == "presence":
        return {"seq": _seq(presence.set_presence(session.pk, user, message.get("state")))}
    if kind == "presenter.request":
        return {"seq": _seq(follow.request_presenter(session.pk, user))}
    if kind == "presenter.set":
        target = message.get("user_id")
        if isinstance(target, bool) or not isinstance(target, int):
            raise ValidationError("user_id must be a user's id.")
        return {"seq": _seq(follow.set_presenter(session.pk, by=user, user_id=target))}
    if kind == "chat.send":
        posted = chat.post_chat(session, user, message.get("text"))
        return {"id": posted.pk}
    if kind == "session.end":
        services.end_session(session, by=user)
        return {}
    if not session.is_active:
        raise services.SessionError("the session has ended.", code="ended")
    if kind == "annotation.create":
        data = message.get("annotation")
        if not isinstance(data, dict):
            raise ValidationError("annotation must be an object.")
        created = annotation_services.create_annotation(study=session.study, author=user, data=data)
        return {"id": str(created.pk), "version": created.version}
    annotation = _annotation(session, message)
    if kind == "annotation.update":
        changes = message.get("changes")
        if not isinstance(changes, dict):
            raise ValidationError("changes must be an object.")
        updated = annotation_services.update_annotation(annotation, actor=user, changes=changes)
        return {"id": str(updated.pk), "version": updated.version}
    if kind == "annotation.delete":
        deleted = annotation_services.delete_annotation(annotation, actor=user)
        return {"id": str(deleted.pk), "version": deleted.version}
    if kind == "annotation.review":
        changes = message.get("changes")
        reviewed = annotation_services.review_annotation(
            annotation,
            reviewer=user,
            decision=message.get("decision"),
            changes=changes if isinstance(changes, dict) else None,
        )
        return {"id": str(reviewed.pk), "version": reviewed.version}
    raise ValidationError(f"unknown message type {kind!r}.")


def update_viewport(user_id: int, session_id, viewport) -> dict:
    user = get_user_model().objects.get(pk=user_id)
    return follow.update_viewport(session_id, user, viewport)
