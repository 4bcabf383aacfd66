"""Reports: one per study (an addendum is its own report linked to the original).

The text is co-edited as a Yjs document (CRDT): ``ReportUpdate`` is the durable log of
binary Yjs updates, ``Report.ydoc_state`` a compacted snapshot of them, and
``Report.text`` the plain text materialised from the document after each change.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"
    ADDENDED = "addended", "Final, addended"


class Report(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="reports")
    # An addendum points at the report it amends; the original has none.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="addenda"
    )
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    text = models.TextField(blank=True)
    ydoc_state = models.BinaryField(default=b"", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One original report per study; addenda are unlimited.
            models.UniqueConstraint(
                fields=["study"],
                condition=models.Q(parent__isnull=True),
                name="one_report_per_study",
            )
        ]

    def __str__(self) -> str:
        return f"Report {self.id} ({self.status})"


class ReportUpdate(models.Model):
    """One binary Yjs update as received, in order: nothing typed is lost on restart."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="updates")
    data = models.BinaryField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Update {self.pk} of report {self.report_id}"
