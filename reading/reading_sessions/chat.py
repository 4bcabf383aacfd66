"""Chat in a live session, kept with the study across sessions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from reading.reading_sessions import events as ev
from reading.reading_sessions.eventlog import append_event
from reading.reading_sessions.models import ChatMessage, ReadingSession
from reading.reading_sessions.serializers import ChatMessageSerializer
from reading.reading_sessions.services import require_active
from reading.studies.access import studies_for_user

MAX_CHAT_CHARS = 4000


def post_chat(session: ReadingSession | Any, user, text: Any) -> ChatMessage:
    """A chat line in the session (a session or its id), kept with the study."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("a chat message needs text.")
    if len(text) > MAX_CHAT_CHARS:
        raise ValidationError(f"a chat message has at most {MAX_CHAT_CHARS} characters.")
    if not isinstance(session, ReadingSession):
        session = ReadingSession.objects.get(pk=session)
    with transaction.atomic():
        require_active(session)
        message = ChatMessage.objects.create(
            study_id=session.study_id, session=session, author=user, text=text.strip()
        )
        append_event(session.pk, ev.CHAT_MESSAGE, dict(ChatMessageSerializer(message).data), user)
    return message


def chat_for_study(user, study):
    """Chat kept with the study, across sessions (``study`` through the access check)."""
    studies_for_user(user)
    return ChatMessage.objects.select_related("author").filter(study=study)
