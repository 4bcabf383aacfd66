"""Reading state of each study, named department worklists and saved personal filters.

The archive (``reading.studies``) knows nothing of reading; a ``ReadingItem`` is
created for each study when it arrives (``instance_stored`` signal) or lazily by
the services. It also carries a few copies of study fields (date/time, search
text) so the worklist's default sort and free-text search run on one indexed
table at 100,000+ studies.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class Priority(models.TextChoices):
    STAT = "stat", "STAT"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


# Sort rank: STAT first. Stored next to the priority so the default sort is an index scan.
PRIORITY_RANK = {Priority.STAT: 0, Priority.URGENT: 1, Priority.ROUTINE: 2}


class ReadingStatus(models.TextChoices):
    UNREAD = "unread", "Unread"
    IN_PROGRESS = "in_progress", "In progress"
    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"
    ADDENDED = "addended", "Addended"


class AIStatus(models.TextChoices):
    NONE = "none", "—"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ReportStatus(models.TextChoices):
    NONE = "none", "—"
    DRAFT = "draft", "Draft"
    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"
    ADDENDED = "addended", "Addended"


class ReadingItem(models.Model):
    """The reading state of one study: priority, status, claim, assignment."""

    study = models.OneToOneField(
        "studies.Study", on_delete=models.CASCADE, related_name="reading", primary_key=True
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.ROUTINE)
    priority_rank = models.PositiveSmallIntegerField(default=PRIORITY_RANK[Priority.ROUTINE])
    reading_status = models.CharField(
        max_length=16, choices=ReadingStatus.choices, default=ReadingStatus.UNREAD
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claimed_readings",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_readings",
    )
    ai_status = models.CharField(max_length=8, choices=AIStatus.choices, default=AIStatus.NONE)
    report_status = models.CharField(
        max_length=12, choices=ReportStatus.choices, default=ReportStatus.NONE
    )
    # Copies of study and patient fields, so the worklist filters, sorts and
    # counts on this one indexed table (no join) at 100,000+ studies. Kept in
    # step by services.register_study whenever an instance is stored.
    study_datetime = models.DateTimeField(null=True, blank=True)  # (0008,0020) + (0008,0030)
    patient_name = models.CharField(max_length=324, blank=True, default="")  # (0010,0010)
    patient_id = models.CharField(max_length=64, blank=True, default="")  # (0010,0020)
    accession_number = models.CharField(max_length=64, blank=True, default="")  # (0008,0050)
    modality = models.CharField(max_length=128, blank=True, default="")  # (0008,0061)
    body_part = models.CharField(max_length=64, blank=True, default="")  # (0018,0015)
    search_text = models.CharField(max_length=512, blank=True, default="")
    # Bumped on every change; sent as the event ``seq`` so clients drop stale events.
    version = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["priority_rank", "-study_datetime"], name="wl_default_sort"),
            models.Index(
                fields=["reading_status", "priority_rank", "-study_datetime"], name="wl_status_sort"
            ),
            models.Index(fields=["-study_datetime"], name="wl_datetime"),
            models.Index(fields=["assigned_to", "reading_status"], name="wl_assigned"),
            models.Index(fields=["patient_name"], name="wl_patient_name"),
            models.Index(fields=["patient_id"], name="wl_patient_id"),
            models.Index(fields=["accession_number"], name="wl_accession"),
            models.Index(
                fields=["modality", "priority_rank", "-study_datetime"], name="wl_modality"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.study_id} {self.priority} {self.reading_status}"


class Worklist(models.Model):
    """A named department worklist ("ER CT", "Neuro MR"): a rule plus who reads it.

    Empty rule fields match everything. A worklist is a view onto the studies,
    not an access boundary: see docs/realtime.md and the worklist README section.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=256, blank=True)
    modalities = models.CharField(
        max_length=128, blank=True, help_text="Comma-separated modalities, e.g. CT,MR"
    )
    body_parts = models.CharField(
        max_length=256, blank=True, help_text="Comma-separated body parts, e.g. HEAD,BRAIN"
    )
    priorities = models.CharField(
        max_length=64, blank=True, help_text="Comma-separated: stat,urgent,routine"
    )
    referring_location = models.CharField(
        max_length=128, blank=True, help_text="Matched against the institution name (0008,0080)"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="department_worklists"
    )
    groups = models.ManyToManyField(Group, blank=True, related_name="department_worklists")
    is_active = models.BooleanField(default=True)
    auto_ai_task = models.CharField(
        max_length=16,
        blank=True,
        choices=[
            ("findings", "Findings"),
            ("localise", "Localise findings"),
            ("compare_prior", "Compare with prior"),
        ],
        help_text="AI analysis started when a matching study arrives (empty: none)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def _split(value: str, upper: bool = True) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        return [v.upper() if upper else v.lower() for v in items]

    @property
    def modality_list(self) -> list[str]:
        return self._split(self.modalities)

    @property
    def body_part_list(self) -> list[str]:
        return self._split(self.body_parts)

    @property
    def priority_list(self) -> list[str]:
        return self._split(self.priorities, upper=False)


class SavedWorklist(models.Model):
    """A user's saved filter ("My STAT CTs"): the worklist page's query string."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_worklists"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_saved_worklist_name")
        ]

    def __str__(self) -> str:
        return f"{self.owner}: {self.name}"
