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
    template = models.ForeignKey(
        "reports.ReportTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Sign-off: the resident's preliminary signature routes the report to an attending.
    preliminary_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    preliminary_signed_at = models.DateTimeField(null=True, blank=True)
    attending = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    final_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    final_signed_at = models.DateTimeField(null=True, blank=True)
    attestation = models.TextField(blank=True)
    # The DICOM SR stored into the study on final sign (PS3.3 A.35.3).
    sr_sop_instance_uid = models.CharField(max_length=64, blank=True)
    sr_series_instance_uid = models.CharField(max_length=64, blank=True)

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


class ReportTemplate(models.Model):
    """A structured report template (IHE MRRT / RSNA RadReport spirit).

    ``sections`` is ``[{"heading": "FINDINGS", "text": "Lungs: «clear|nodule»."}]``;
    the fields are the ``«…»`` spans of the texts (see ``reading.reports.text``).
    Empty ``modalities``/``body_parts``/``keywords`` match anything.
    """

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    modalities = models.CharField(max_length=64, blank=True, help_text="Comma-separated, e.g. CT")
    body_parts = models.CharField(
        max_length=128, blank=True, help_text="Comma-separated (0018,0015) values, e.g. CHEST"
    )
    keywords = models.CharField(
        max_length=256, blank=True, help_text="Comma-separated words of the study description"
    )
    sections = models.JSONField(default=list)
    is_generic = models.BooleanField(default=False, help_text="The fallback template")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Macro(models.Model):
    """A short name (typed or spoken) that expands into text; no owner = department macro."""

    name = models.CharField(max_length=64)
    text = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_macros",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_personal_macro"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(owner__isnull=True), name="unique_dept_macro"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VersionReason(models.TextChoices):
    SAVE = "save", "Saved"
    SIGN_PRELIMINARY = "sign_preliminary", "Signed preliminary"
    SIGN_FINAL = "sign_final", "Signed final"


class ReportVersion(models.Model):
    """A save point: the text as it was, kept for comparison (the resident's diff)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ReportStatus.choices)
    reason = models.CharField(max_length=20, choices=VersionReason.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="unique_report_version")
        ]

    def __str__(self) -> str:
        return f"v{self.number} of {self.report_id}"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical (immediate)"
    URGENT = "urgent", "Urgent (same day)"


class CommunicationMethod(models.TextChoices):
    PHONE = "phone", "Phone"
    IN_PERSON = "in_person", "In person"
    PAGE = "page", "Page"
    SECURE_MESSAGE = "secure_message", "Secure message"
    OTHER = "other", "Other"


class CriticalResult(models.Model):
    """A critical finding of a report and its closed loop (ACR practice parameter spirit).

    Open until a communication with read-back acknowledgement is recorded.
    """

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="critical")
    finding = models.TextField()
    severity = models.CharField(max_length=12, choices=Severity.choices, default=Severity.CRITICAL)
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    flagged_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"Critical result of {self.report_id}"


class CriticalCommunication(models.Model):
    """Who was told, how and when."""

    critical = models.ForeignKey(
        CriticalResult, on_delete=models.CASCADE, related_name="communications"
    )
    recipient = models.CharField(max_length=200)
    method = models.CharField(max_length=16, choices=CommunicationMethod.choices)
    communicated_at = models.DateTimeField()
    acknowledged = models.BooleanField(default=True)
    notes = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["communicated_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} to {self.recipient}"


class SuggestionStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PENDING = "pending", "Awaiting decision"
    ACCEPTED = "accepted", "Accepted"
    EDITED = "edited", "Accepted with edits"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class ImpressionSuggestion(models.Model):
    """A drafted impression (MedGemma), shown for accept/edit; never inserted by itself."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="suggestions")
    status = models.CharField(
        max_length=12, choices=SuggestionStatus.choices, default=SuggestionStatus.REQUESTED
    )
    findings = models.TextField(blank=True)
    text = models.TextField(blank=True)
    final_text = models.TextField(blank=True)
    # Model, version, job id, whether the weights are random test weights, prompt.
    provenance = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Impression suggestion {self.pk} ({self.status})"
