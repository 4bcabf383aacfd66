"""AI analysis jobs, the review history of their findings, and the realtime outbox.

An ``AIJob`` is one MedGemma analysis of one series (or of a text, for an
impression). Its findings are ``Annotation`` rows with ``source="ai"``; each
human decision about one of them is an ``AIReview`` row, never overwritten
(IHE AIR / AIRAI: the assessment of an AI result is itself a record).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Task(models.TextChoices):
    FINDINGS = "findings", "Findings"
    LOCALISE = "localise", "Localise findings"
    COMPARE_PRIOR = "compare_prior", "Compare with prior"
    IMPRESSION = "impression", "Impression from findings"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PREPARING = "preparing", "Preparing images"
    RUNNING = "running", "Generating"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.PREPARING, JobStatus.RUNNING)
CLAIMED_STATUSES = (JobStatus.PREPARING, JobStatus.RUNNING)


class ErrorKind(models.TextChoices):
    NONE = "", "—"
    MODEL_NOT_INSTALLED = "model_not_installed", "Model not installed"
    NO_USABLE_IMAGES = "no_usable_images", "No usable images"
    NO_PRIOR = "no_prior", "No prior study"
    INVALID_INPUT = "invalid_input", "Invalid input"
    INFERENCE_ERROR = "inference_error", "Inference error"
    WORKER_LOST = "worker_lost", "Worker lost"


class AIJob(models.Model):
    """One analysis: what was asked, by whom, how it went, and what it produced."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="ai_jobs")
    series_instance_uid = models.CharField(max_length=64, blank=True)  # (0020,000E)
    prior_study = models.ForeignKey(
        "studies.Study", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.CharField(max_length=16, choices=Task.choices)
    input_text = models.TextField(blank=True)  # the findings of an impression task
    parameters = models.JSONField(default=dict, blank=True)  # max_new_tokens, ...
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ai_jobs",
    )
    trigger = models.CharField(max_length=16, default="user")  # user, worklist rule, api
    session = models.ForeignKey(
        "reading_sessions.ReadingSession",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ai_jobs",
    )
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=16, blank=True)  # slices, prompt, tokens
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True)  # the answer as streamed so far
    tokens = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)  # parsed answer + parse status
    provenance = models.JSONField(default=dict, blank=True)  # prompt, images, timings
    error_kind = models.CharField(
        max_length=24, choices=ErrorKind.choices, blank=True, default=ErrorKind.NONE
    )
    error = models.TextField(blank=True)
    model_id = models.CharField(max_length=512, blank=True)
    model_revision = models.CharField(max_length=128, blank=True)
    device = models.CharField(max_length=32, blank=True)
    random_weights = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=128, blank=True)  # host:pid of the current attempt
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    images_used = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["study", "-created_at"], name="ai_job_study_recent"),
            models.Index(fields=["status", "heartbeat_at"], name="ai_job_stale"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.status} on {self.study_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Decision(models.TextChoices):
    ACCEPT = "accept", "Accepted"
    EDIT = "edit", "Edited"
    REJECT = "reject", "Rejected"


class ReviewKind(models.TextChoices):
    FIRST = "first", "First review"
    REVISED = "revised", "Revised by the same reader"
    CONFIRMED = "confirmed", "Confirmed by an attending"
    OVERTURNED = "overturned", "Overturned by an attending"
    CHANGED = "changed", "Changed"


class AIReview(models.Model):
    """One decision about one AI finding: append-only, the finding's review history."""

    annotation = models.ForeignKey(
        "annotations.Annotation", on_delete=models.CASCADE, related_name="ai_reviews"
    )
    job = models.ForeignKey(AIJob, null=True, on_delete=models.SET_NULL, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewer_role = models.CharField(max_length=16)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    kind = models.CharField(max_length=12, choices=ReviewKind.choices)
    previous_state = models.CharField(max_length=16)
    changes = models.JSONField(default=dict, blank=True)  # what an edit changed: before/after
    comment = models.CharField(max_length=500, blank=True)
    session = models.ForeignKey(
        "reading_sessions.ReadingSession", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.decision} ({self.kind}) of {self.annotation_id}"


class FindingLink(models.Model):
    """The idempotency key of a job's output: finding ``index`` of ``job`` is one annotation.

    A retried job that reaches the save again finds its rows here instead of
    creating new ones.
    """

    job = models.ForeignKey(AIJob, on_delete=models.CASCADE, related_name="findings")
    index = models.PositiveIntegerField()
    annotation = models.OneToOneField(
        "annotations.Annotation", on_delete=models.CASCADE, related_name="ai_link"
    )

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="ai_finding_once_per_job")
        ]

    def __str__(self) -> str:
        return f"finding {self.index} of job {self.job_id}"


class OutboxMessage(models.Model):
    """A channel-layer message written by a process without the server's in-memory layer.

    The Huey worker writes here; the Daphne process relays and deletes
    (``reading.realtime``). Unused with the Redis layer.
    """

    id = models.BigAutoField(primary_key=True)
    group = models.CharField(max_length=200)
    message = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.group} #{self.pk}"
