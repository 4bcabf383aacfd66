"""Annotations and measurements: one record for what people draw and what AI finds.

Geometry is kept in image pixel coordinates (column, row) of one frame of one SOP
instance, the frame of reference that DICOM SR SCOORD uses (PS3.3 C.18.6.1.2).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Tool(models.TextChoices):
    LENGTH = "length", "Length"
    ANGLE = "angle", "Angle"
    ELLIPSE_ROI = "ellipse_roi", "Elliptical ROI"
    RECTANGLE_ROI = "rectangle_roi", "Rectangular ROI"
    PROBE = "probe", "Probe"
    ARROW = "arrow", "Arrow with text"
    AI_BOX = "ai_box", "AI bounding box"
    AI_FINDING = "ai_finding", "AI finding"


class Source(models.TextChoices):
    HUMAN = "human", "Human"
    AI = "ai", "AI"


class ReviewState(models.TextChoices):
    NONE = "none", "Not subject to review"
    PENDING = "pending", "Awaiting review"
    ACCEPTED = "accepted", "Accepted"
    EDITED = "edited", "Edited and accepted"
    REJECTED = "rejected", "Rejected"


class Annotation(models.Model):
    """A measurement or annotation on one frame of one image of a study.

    Deleting only sets ``deleted_at``, so events and exported reports can still refer
    to it. ``version`` counts writes: every write wins over the previous one and
    increments it, which is what clients compare to converge.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE, related_name="annotations")
    series_instance_uid = models.CharField(max_length=64)  # (0020,000E)
    sop_instance_uid = models.CharField(max_length=64, db_index=True)  # (0008,0018)
    frame_number = models.PositiveIntegerField(default=1)  # (0008,1160), 1-based
    tool = models.CharField(max_length=32, choices=Tool.choices)
    geometry = models.JSONField(default=dict)
    label = models.CharField(max_length=256, blank=True)
    text = models.TextField(blank=True)
    measurements = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.HUMAN)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="annotations",
    )
    provenance = models.JSONField(default=dict, blank=True)
    review_state = models.CharField(
        max_length=16, choices=ReviewState.choices, default=ReviewState.NONE
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1)
    sr_sop_instance_uid = models.CharField(max_length=64, blank=True)  # the last SR export
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["study", "deleted_at"]),
            models.Index(fields=["study", "sop_instance_uid"]),
        ]

    def __str__(self) -> str:
        return f"{self.tool} {self.label or ''} on {self.sop_instance_uid}#{self.frame_number}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
