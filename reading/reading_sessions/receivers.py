"""Annotation changes become numbered events in every active session on the study."""

from __future__ import annotations

from django.dispatch import receiver

from reading.annotations.access import annotations_qs
from reading.annotations.serializers import annotation_payload
from reading.annotations.signals import annotation_changed
from reading.reading_sessions import events as ev
from reading.reading_sessions.eventlog import append_event
from reading.reading_sessions.models import ReadingSession, SessionStatus

ACTION_EVENTS = {
    "created": ev.ANNOTATION_CREATED,
    "updated": ev.ANNOTATION_UPDATED,
    "deleted": ev.ANNOTATION_DELETED,
    "reviewed": ev.ANNOTATION_REVIEWED,
}


@receiver(annotation_changed, dispatch_uid="reading_sessions.annotation_changed")
def on_annotation_changed(
    sender, annotation_id, action: str, study_id=None, actor_id=None, **kwargs
) -> None:
    event_type = ACTION_EVENTS.get(action)
    if event_type is None:
        return
    if study_id is None:
        study_id = annotations_qs().filter(pk=annotation_id).values_list("study_id", flat=True)
        study_id = study_id.first()
    sessions = list(
        ReadingSession.objects.filter(study_id=study_id, status=SessionStatus.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    # The payload is read once the event's seq is taken, so of two concurrent writes the
    # later-numbered event never carries an older version: applying events in seq
    # order converges on the stored row (clients may also compare ``version``).
    for session_id in sessions:
        append_event(
            session_id,
            event_type,
            lambda: annotation_payload(annotations_qs().get(pk=annotation_id)),
            actor_id,
        )
