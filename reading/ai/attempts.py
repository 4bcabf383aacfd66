"""Writes by a running attempt at an AI job: claim, heartbeat, progress, finish, fail,
cancel, and the sweep of attempts whose worker died.

Every write by a running task is fenced by the attempt number it claimed with: a
worker that lost its lease (it was presumed dead and the job handed to another) can
no longer change the job, so a job finishes exactly once. Requesting and cancelling
jobs is ``services``.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reading.ai import events
from reading.ai.models import (
    CLAIMED_STATUSES,
    AIJob,
    ErrorKind,
    FindingLink,
    JobStatus,
)
from reading.ai.services import enqueue, sync_worklist

MAX_ATTEMPTS = 3


def lease_seconds() -> int:
    return int(getattr(settings, "AI_JOB_LEASE_S", 120))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
        sync_worklist(job.study)
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
            sync_worklist(job.study)
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
        sync_worklist(locked.study)
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
        sync_worklist(locked.study)
    return locked


def mark_cancelled(job: AIJob) -> AIJob | None:
    with transaction.atomic():
        locked = _fenced(job).select_for_update().first()
        if locked is None:
            return None
        locked.status = JobStatus.CANCELLED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        sync_worklist(locked.study)
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
