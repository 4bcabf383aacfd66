"""Annotation changes become numbered events in every active session on the study."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.dispatch import receiver

from reading.annotations.access import annotations_qs
from reading.annotations.serializers import annotation_payload
from reading.annotations.signals import annotation_changed
from reading.reading_sessions import events as ev
from reading.reading_sessions.models import ReadingSession, SessionStatus
from reading.reading_sessions.services import append_event

ACTION_EVENTS = {
    "created": ev.ANNOTATION_CREATED,
    "updated": ev.ANNOTATION_UPDATED,
    "deleted": ev.ANNOTATION_DELETED,
    "reviewed": ev.ANNOTATION_REVIEWED,
}


@receiver(annotation_changed, dispatch_uid="reading_sessions.annotation_changed")
def on_annotation_changed(sender, annotation_id, action: str, actor_id=None, **kwargs) -> None:
    event_type = ACTION_EVENTS.get(action)
    if event_type is None:
        return
    annotation = annotations_qs().filter(pk=annotation_id).first()
    if annotation is None:
        return
    sessions = list(
        ReadingSession.objects.filter(
            study_id=annotation.study_id, status=SessionStatus.ACTIVE
        ).values_list("pk", flat=True)
    )
    if not sessions:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    # The payload is read once the event's seq is taken, so of two concurrent writes the
    # later-numbered event never carries an older version: applying events in seq
    # order converges on the stored row (clients may also compare ``version``).
    for session_id in sessions:
        append_event(
            session_id,
            event_type,
            lambda: annotation_payload(annotations_qs().get(pk=annotation_id)),
            actor,
        )
