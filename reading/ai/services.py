"""Writes to AI jobs: request, queue, cancel; the worklist's AI column.

The only code that saves ``AIJob`` rows and the AI annotations, with ``attempts``
(the writes of a running attempt: claim, progress, finish, fail, sweep).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reading.ai import events
from reading.ai.errors import AIRequestError
from reading.ai.models import (
    ACTIVE_STATUSES,
    CLAIMED_STATUSES,
    AIJob,
    JobStatus,
    Task,
)
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies.access import get_study_for_user
from reading.studies.models import Series, Study

logger = logging.getLogger(__name__)

MAX_NEW_TOKENS = 1024
DEFAULT_NEW_TOKENS = {"findings": 384, "localise": 256, "compare_prior": 384, "impression": 192}
MAX_INPUT_TEXT = 8000
WORKLIST_STATUS = {
    JobStatus.QUEUED: "queued",
    JobStatus.PREPARING: "running",
    JobStatus.RUNNING: "running",
    JobStatus.DONE: "done",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "none",
}


# -- requesting ---------------------------------------------------------------------------


def _clean_parameters(task: str, parameters: dict | None) -> dict:
    parameters = dict(parameters or {})
    unknown = set(parameters) - {"max_new_tokens", "min_new_tokens", "max_slices"}
    if unknown:
        raise AIRequestError(f"unknown parameters: {', '.join(sorted(unknown))}")
    out = {"max_new_tokens": DEFAULT_NEW_TOKENS[task]}
    for key, value in parameters.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AIRequestError(f"{key} must be a positive integer")
        out[key] = value
    if out["max_new_tokens"] > MAX_NEW_TOKENS:
        raise AIRequestError(f"max_new_tokens is at most {MAX_NEW_TOKENS}")
    if out.get("min_new_tokens", 0) > out["max_new_tokens"]:
        raise AIRequestError("min_new_tokens exceeds max_new_tokens")
    if out.get("max_slices", 1) > 85:
        raise AIRequestError("max_slices is at most 85")
    return out


def default_series(study: Study, modality: str = "") -> Series | None:
    """The series an automatic analysis reads: the one with the most images."""
    from django.db.models import Count

    qs = Series.objects.filter(study=study)
    if modality:
        qs = qs.filter(modality=modality)
    return (
        qs.annotate(images=Count("instances", filter=Q(instances__rows__isnull=False)))
        .filter(images__gt=0)
        .order_by("-images", "series_number")
        .first()
    )


def find_prior(study: Study, modality: str = "") -> Study | None:
    """The patient's most recent earlier study (by Study Date) with images of ``modality``."""
    if study.study_date is None:
        return None
    images = Q(series__instances__rows__isnull=False)
    if modality:
        images &= Q(series__modality=modality)
    return (
        Study.objects.filter(patient_id=study.patient_id, study_date__lt=study.study_date)
        .filter(images)
        .order_by("-study_date", "-study_time")
        .distinct()
        .first()
    )


def create_job(
    study: Study,
    *,
    task: str,
    series_uid: str = "",
    requested_by=None,
    session=None,
    text: str = "",
    parameters: dict | None = None,
    trigger: str = "user",
    delay: float = 0,
) -> AIJob:
    """Validate and store a job, then enqueue its task once the transaction commits."""
    if task not in Task.values:
        raise AIRequestError(f"task must be one of {', '.join(Task.values)}")
    params = _clean_parameters(task, parameters)
    prior = None
    if task == Task.IMPRESSION:
        if not isinstance(text, str) or not text.strip():
            raise AIRequestError("an impression needs the findings text")
        if len(text) > MAX_INPUT_TEXT:
            raise AIRequestError(f"the findings text is longer than {MAX_INPUT_TEXT} characters")
    elif series_uid:
        if not Series.objects.filter(study=study, series_instance_uid=series_uid).exists():
            raise AIRequestError("that series is not in this study")
    elif trigger == "user":
        raise AIRequestError("choose the series to analyse")
    if task == Task.COMPARE_PRIOR:
        series = Series.objects.filter(study=study, series_instance_uid=series_uid).first()
        prior = find_prior(study, series.modality if series else "")
        if prior is None:
            raise AIRequestError("this patient has no earlier study to compare with")
    if session is not None and session.study_id != study.pk:
        raise AIRequestError("the session is on another study")
    from reading.ai.estimate import estimate

    guess = estimate(study, series_uid, task, params["max_new_tokens"])
    with transaction.atomic():
        job = AIJob.objects.create(
            provenance={"estimate": guess},
            study=study,
            series_instance_uid=series_uid or "",
            prior_study=prior,
            task=task,
            input_text=(text or "").strip() if task == Task.IMPRESSION else "",
            parameters=params,
            requested_by=requested_by,
            session=session,
            trigger=trigger,
        )
        if requested_by is not None:
            record_access(
                requested_by,
                AuditAction.VIEW,
                study=study,
                detail=f"ai:request:{task}:{job.pk}",
            )
        sync_worklist(study)
        events.job_changed(job, events.QUEUED)
        job_id = str(job.pk)
        transaction.on_commit(lambda: enqueue(job_id, delay=delay))
    return job


def request_analysis(
    user,
    study_uid: str,
    series_uid: str = "",
    task: str = Task.FINDINGS,
    *,
    session=None,
    text: str = "",
    parameters: dict | None = None,
    request=None,
) -> AIJob:
    """A reader asks for an analysis of a series (or, for ``impression``, of ``text``).

    ``session`` is a session id or object the user takes part in (fetched through
    ``get_session_for_user``); its participants see the job live.
    """
    study = get_study_for_user(user, study_uid)
    if session is not None and not hasattr(session, "study_id"):
        from reading.reading_sessions.access import get_session_for_user

        session = get_session_for_user(user, session)
    return create_job(
        study,
        task=task,
        series_uid=series_uid,
        requested_by=user,
        session=session,
        text=text,
        parameters=parameters,
    )


def enqueue(job_id: str, delay: float = 0) -> None:
    from reading.ai.tasks import run_analysis

    if delay:
        run_analysis.schedule((job_id,), delay=delay)
    else:
        run_analysis(job_id)


def cancel_job(job: AIJob, *, by) -> AIJob:
    """Cancel a queued job at once; a running one stops at its next token."""
    with transaction.atomic():
        locked = AIJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == JobStatus.QUEUED:
            locked.status = JobStatus.CANCELLED
            locked.finished_at = timezone.now()
            locked.cancel_requested = True
            locked.save(update_fields=["status", "finished_at", "cancel_requested"])
            sync_worklist(locked.study)
            events.job_changed(locked, events.CANCELLED)
        elif locked.status in CLAIMED_STATUSES:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
    return locked


def sync_worklist(study: Study) -> None:
    """The worklist's AI column shows the state of the study's latest job."""
    from reading.worklist.transitions import set_ai_status

    latest = (
        AIJob.objects.filter(study_id=study.pk)
        .exclude(task=Task.IMPRESSION)
        .order_by("-created_at")
        .values_list("status", flat=True)
        .first()
    )
    if latest is None:
        return
    set_ai_status(study, WORKLIST_STATUS[latest])


def active_jobs(study: Study):
    return AIJob.objects.filter(study=study, status__in=ACTIVE_STATUSES)
