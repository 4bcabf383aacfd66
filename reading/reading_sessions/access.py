"""The one way to fetch a reading session on behalf of a user.

A user may take part in a session when they may read its study (the study access
functions decide: clinical role, study visible to them) and the session is theirs to
join: they host it, were invited (by name or through the link), already took part,
or have the study on one of their worklists. Every clinical user's worklists show
the department's studies today, so the last rule admits any reader of the study;
invites still list the session under the invitee's sessions.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from reading.reading_sessions.models import ReadingSession
from reading.studies.access import studies_for_user


def sessions_for_user(user) -> QuerySet[ReadingSession]:
    """Sessions on studies ``user`` may read; PermissionDenied without a clinical role."""
    return ReadingSession.objects.select_related("study", "host", "presenter").filter(
        study__in=studies_for_user(user)
    )


def _study_on_users_worklists(user, session: ReadingSession) -> bool:
    # The worklist shows every study the user may read (studies_for_user); a narrower
    # worklist rule would go here.
    return studies_for_user(user).filter(pk=session.study_id).exists()


def may_join(user, session: ReadingSession) -> bool:
    if session.host_id == user.pk:
        return True
    # Participants first: every command of a connected user passes here.
    if (
        session.participants.filter(user=user).exists()
        or session.invites.filter(user=user).exists()
    ):
        return True
    return _study_on_users_worklists(user, session)


def get_session_for_user(user, session_id) -> ReadingSession:
    """The session if ``user`` may join it.

    Raises ``PermissionDenied`` for users who may not read patient images (outsiders,
    deactivated users) and for readers who may not join, ``Http404`` when there is no
    such session among the studies they may read.
    """
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError as exc:
        raise Http404("No such session.") from exc
    session = sessions_for_user(user).filter(pk=pk).first()
    if session is None:
        raise Http404("No such session.")
    if not may_join(user, session):
        raise PermissionDenied("You are not invited to this session.")
    return session


def get_session_by_invite_for_user(user, token: str) -> ReadingSession:
    """The session behind an invite link, if ``user`` may read its study."""
    session = sessions_for_user(user).filter(invite_token=token).first()
    if session is None:
        raise Http404("This invite link is not valid for you.")
    return session


def invited_or_joined(user) -> Q:
    return Q(host=user) | Q(invites__user=user) | Q(participants__user=user)
