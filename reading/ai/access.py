"""The one way to fetch an AI job for a user: through its study's access check."""

from __future__ import annotations

import uuid

from django.http import Http404

from reading.ai.models import AIJob
from reading.studies.access import studies_for_user


def jobs_for_user(user):
    """Jobs on studies ``user`` may read; PermissionDenied without a clinical role."""
    return (
        AIJob.objects.select_related("study", "prior_study", "requested_by", "session")
        .prefetch_related("findings")
        .filter(study__in=studies_for_user(user))
    )


def get_job_for_user(user, job_id) -> AIJob:
    try:
        pk = uuid.UUID(str(job_id))
    except ValueError as exc:
        raise Http404("No such AI job.") from exc
    job = jobs_for_user(user).filter(pk=pk).first()
    if job is None:
        raise Http404("No such AI job.")
    return job
