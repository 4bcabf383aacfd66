"""The one way to fetch an annotation for a user: through its study's access check."""

from __future__ import annotations

import uuid

from django.http import Http404

from reading.annotations.models import Annotation
from reading.studies.access import studies_for_user


def annotations_qs():
    return Annotation.objects.select_related("study", "author", "reviewed_by", "updated_by")


def get_annotation_for_user(user, annotation_id) -> Annotation:
    """The annotation if ``user`` may see its study; 403 without a clinical role, else 404."""
    visible = studies_for_user(user)  # raises PermissionDenied for non-readers
    try:
        pk = uuid.UUID(str(annotation_id))
    except ValueError as exc:
        raise Http404("No such annotation.") from exc
    annotation = annotations_qs().filter(pk=pk, study__in=visible).first()
    if annotation is None:
        raise Http404("No such annotation.")
    return annotation
