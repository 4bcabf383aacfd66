"""Writes to AI jobs: request, claim, progress, finish, fail, cancel, sweep.

The only code that saves ``AIJob`` rows and the AI annotations. Every write by
a running task is fenced by the attempt number it claimed with: a worker that
lost its lease (it was presumed dead and the job handed to another) can no
longer change the job, so a job finishes exactly once.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reading.ai import events
from reading.ai.errors import AIRequestError
from reading.ai.models import (
    ACTIVE_STATUSES,
    CLAIMED_STATUSES,
    AIJob,
    ErrorKind,
    FindingLink,
    JobStatus,
    Task,
)
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies.access import get_study_for_user
from reading.studies.models import Series, Study

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
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


def lease_seconds() -> int:
    return int(getattr(settings, "AI_JOB_LEASE_S", 120))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
        _sync_worklist(study)
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
            _sync_worklist(locked.study)
            events.job_changed(locked, events.CANCELLED)
        elif locked.status in CLAIMED_STATUSES:
            locked.cancel_requested = True
            locked.save(update_fields=["cancel_requested"])
    return locked


# -- running (called by the task) -----------------------------------------------------------


def claim_job(job_id, worker: str | None = None) -> AIJob | None:
    """Take the job for one attempt, or ``None`` when it is not this worker's to run.

    A job is claimable when queued, or when its last attempt stopped sending
    heartbeats for a whole lease (its worker died).
    """
    now = timezone.now()
    stale = now - timedelta(seconds=lease_seconds())
    claimable = Q(status=JobStatus.QUEUED) | Q(status__in=CLAIMED_STATUSES, heartbeat_at__lt=stale)
    with transaction.atomic():
        updated = (
            AIJob.objects.filter(pk=job_id, cancel_requested=False)
            .filter(claimable)
            .update(
                status=JobStatus.PREPARING,
                attempts=F("attempts") + 1,
                worker=(worker or worker_name())[:128],
                heartbeat_at=now,
                started_at=now,
                stage="",
                progress_done=0,
                progress_total=0,
                text="",
                tokens=0,
            )
        )
        if not updated:
            return None
        job = AIJob.objects.select_related("study").get(pk=job_id)
        _sync_worklist(job.study)
        events.job_changed(job, events.PROGRESS)
    return job


def _fenced(job: AIJob):
    return AIJob.objects.filter(pk=job.pk, attempts=job.attempts, status__in=CLAIMED_STATUSES)


def heartbeat(job: AIJob) -> tuple[bool, bool]:
    """Renew the lease; returns ``(still ours, cancel requested)``."""
    ours = _fenced(job).update(heartbeat_at=timezone.now()) == 1
    cancel = AIJob.objects.filter(pk=job.pk, cancel_requested=True).exists()
    return ours, cancel


def record_progress(job: AIJob, **fields: Any) -> bool:
    """Save progress (stage, counts, streamed text, tokens) and send it to viewers.

    Returns False when the attempt no longer owns the job (the caller stops).
    """
    fields["heartbeat_at"] = timezone.now()
    if fields.get("status") == JobStatus.RUNNING and job.status != JobStatus.RUNNING:
        fields.setdefault("first_token_at", timezone.now())
    with transaction.atomic():
        if _fenced(job).update(**fields) != 1:
            return False
        status_changed = "status" in fields and fields["status"] != job.status
        for key, value in fields.items():
            setattr(job, key, value)
        if status_changed:
            _sync_worklist(job.study)
            events.job_changed(job, events.PROGRESS)
        else:
            events.job_stream(job)
    return True


def complete_job(job: AIJob, outcome: dict, findings: list[dict]) -> AIJob | None:
    """Store the result and the findings once; ``None`` if the attempt lost the job."""
    from reading.annotations.services import create_annotation

    with transaction.atomic():
        locked = _fenced(job).select_for_update().first()
        if locked is None:
            return None
        created = []
        for index, finding in enumerate(findings):
            link = FindingLink.objects.filter(job=locked, index=index).first()
            if link is not None:
                continue  # stored by an earlier attempt: never twice
            annotation = create_annotation(
                study=locked.study,
                author=None,
                data=finding["data"],
                source="ai",
                provenance=finding["provenance"],
            )
            FindingLink.objects.create(job=locked, index=index, annotation=annotation)
            created.append(annotation)
        for key, value in outcome.items():
            setattr(locked, key, value)
        locked.status = JobStatus.DONE
        locked.finished_at = timezone.now()
        locked.error_kind, locked.error = ErrorKind.NONE, ""
        locked.save()
        _sync_worklist(locked.study)
        for annotation in created:
            events.finding_changed(locked, annotation)
        events.job_changed(locked, events.DONE)
    return locked


def fail_job(job: AIJob, kind: str, message: str, *, retry: bool = False) -> AIJob | None:
    """Fail for good, or (``retry``) put the job back in the queue with the error noted."""
    with transaction.atomic():
        locked = _fenced(job).select_for_update().first()
        if locked is None:
            return None
        locked.error_kind, locked.error = kind, message[:2000]
        if retry and locked.attempts < MAX_ATTEMPTS:
            locked.status = JobStatus.QUEUED
            locked.save(update_fields=["status", "error_kind", "error"])
            events.job_changed(locked, events.PROGRESS)
        else:
            locked.status = JobStatus.FAILED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "error_kind", "error", "finished_at"])
            events.job_changed(locked, events.FAILED)
        _sync_worklist(locked.study)
    return locked


def mark_cancelled(job: AIJob) -> AIJob | None:
    with transaction.atomic():
        locked = _fenced(job).select_for_update().first()
        if locked is None:
            return None
        locked.status = JobStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        _sync_worklist(locked.study)
        events.job_changed(locked, events.CANCELLED)
    return locked


def sweep_stale_jobs() -> list[str]:
    """Requeue jobs whose worker stopped heartbeating (killed, machine lost).

    Returns the ids requeued. A job that already used ``MAX_ATTEMPTS`` fails.
    """
    stale = timezone.now() - timedelta(seconds=lease_seconds())
    requeued = []
    for job in AIJob.objects.select_related("study").filter(
        status__in=CLAIMED_STATUSES, heartbeat_at__lt=stale
    ):
        message = f"the worker {job.worker} stopped during attempt {job.attempts}"
        if fail_job(job, ErrorKind.WORKER_LOST, message, retry=True) is None:
            continue
        if job.attempts < MAX_ATTEMPTS:
            job_id = str(job.pk)
            requeued.append(job_id)
            transaction.on_commit(lambda job_id=job_id: enqueue(job_id))
    return requeued


def _sync_worklist(study: Study) -> None:
    """The worklist's AI column shows the state of the study's latest job."""
    from reading.worklist.services import set_ai_status

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
