"""Writes to live reading sessions: start, invite, join by link, end.

The other writes have modules of their own: the event log (``eventlog``), presence
(``presence``), the presenter and follow mode (``follow``) and chat (``chat``).
Together they are the only code that saves session rows or emits session events.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from reading.reading_sessions import events as ev
from reading.reading_sessions.access import get_session_by_invite_for_user
from reading.reading_sessions.eventlog import append_event
from reading.reading_sessions.models import (
    ReadingSession,
    SessionInvite,
    SessionStatus,
)
from reading.reading_sessions.serializers import SessionSummarySerializer
from reading.realtime import send_on_commit
from reading.studies.access import can_read_images


class SessionError(Exception):
    """A session action that is refused; ``code`` is sent to the client."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.code = code


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
    require_active(session)
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


def require_active(session: ReadingSession) -> None:
    if session.status != SessionStatus.ACTIVE:
        raise SessionError("the session has ended.", code="ended")
