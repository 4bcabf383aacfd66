"""Writes to annotations. The only code that saves Annotation rows.

Every write emits ``annotation_changed`` inside its transaction; the live sessions
app turns that into a stored, numbered session event in the same transaction (one
commit per change; the broadcast follows the commit). Concurrent edits of one annotation are
last writer wins: each write locks the row, increments ``version`` and replaces the
fields it sets, so the row (and the last event about it) is the one state everyone
converges on.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reading.annotations.models import Annotation, ReviewState, Source, Tool
from reading.annotations.signals import annotation_changed
from reading.annotations.validation import (
    check_on_frame,
    clean_geometry,
    clean_measurements,
    clean_provenance,
)
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies.models import Instance, Study

EDITABLE_FIELDS = ("geometry", "label", "text", "measurements")
MAX_LABEL = 256
MAX_TEXT = 4000


class AnnotationError(Exception):
    """A request the annotation services refuse; ``str()`` says why."""


def _emit(annotation: Annotation, action: str, actor) -> None:
    # Inside the writer's transaction: the session event is stored with the change (a
    # second transaction per annotation doubled the writes of the one SQLite writer).
    annotation_changed.send(
        sender=Annotation,
        annotation_id=annotation.pk,
        study_id=annotation.study_id,
        action=action,
        actor_id=getattr(actor, "pk", None),
    )


def _clean_text(value, limit: int, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string.")
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters.")
    return value


def _referenced_instance(study: Study, data: dict) -> Instance:
    """The image the annotation sits on must be in the study, frame within range."""
    instance = (
        Instance.objects.select_related("series")
        .filter(series__study=study, sop_instance_uid=data.get("sop_instance_uid", ""))
        .first()
    )
    if instance is None:
        raise ValidationError("sop_instance_uid is not an instance of this study.")
    series_uid = data.get("series_instance_uid")
    if series_uid and series_uid != instance.series.series_instance_uid:
        raise ValidationError("series_instance_uid does not contain that instance.")
    frame = data.get("frame_number", 1)
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 1:
        raise ValidationError("frame_number must be a positive integer.")
    if frame > (instance.number_of_frames or 1):
        raise ValidationError("frame_number is beyond the instance's number of frames.")
    return instance


def _frame_size(annotation: Annotation) -> tuple[int | None, int | None]:
    """Rows and Columns of the image the annotation sits on (None: not known)."""
    size = (
        Instance.objects.filter(
            series__study_id=annotation.study_id, sop_instance_uid=annotation.sop_instance_uid
        )
        .values_list("rows", "columns")
        .first()
    )
    return size or (None, None)


def create_annotation(
    *,
    study: Study,
    author,
    data: dict[str, Any],
    source: str = Source.HUMAN,
    provenance: dict | None = None,
    request=None,
) -> Annotation:
    """Save a new annotation on one frame of an image in ``study``.

    Parameters
    ----------
    study
        The study, already fetched through ``get_study_for_user``.
    author
        The user who drew it; ``None`` for AI findings.
    data
        ``sop_instance_uid``, ``frame_number`` (1-based), ``tool``, ``geometry`` and
        optionally ``id`` (a client-made UUID, so optimistic clients keep their id),
        ``series_instance_uid``, ``label``, ``text``, ``measurements``.
    source
        ``human`` or ``ai``; AI findings start in review state ``pending``.
    """
    tool = data.get("tool")
    if tool not in Tool.values:
        raise ValidationError(f"tool must be one of {', '.join(Tool.values)}.")
    if source not in Source.values:
        raise ValidationError("source must be human or ai.")
    instance = _referenced_instance(study, data)
    annotation_id = data.get("id") or uuid.uuid4()
    try:
        annotation_id = uuid.UUID(str(annotation_id))
    except ValueError as exc:
        raise ValidationError("id must be a UUID.") from exc
    annotation = Annotation(
        id=annotation_id,
        study=study,
        series_instance_uid=instance.series.series_instance_uid,
        sop_instance_uid=instance.sop_instance_uid,
        frame_number=data.get("frame_number", 1),
        tool=tool,
        geometry=clean_geometry(tool, data.get("geometry"), (instance.rows, instance.columns)),
        label=_clean_text(data.get("label"), MAX_LABEL, "label"),
        text=_clean_text(data.get("text"), MAX_TEXT, "text"),
        measurements=clean_measurements(data.get("measurements")),
        source=source,
        author=author if source == Source.HUMAN else None,
        updated_by=author if source == Source.HUMAN else None,
        provenance=clean_provenance(provenance),
        review_state=ReviewState.PENDING if source == Source.AI else ReviewState.NONE,
    )
    with transaction.atomic():
        if Annotation.objects.filter(pk=annotation.pk).exists():
            raise AnnotationError("an annotation with this id already exists.")
        annotation.save(force_insert=True)
        if author is not None:
            record_access(
                author,
                AuditAction.ANNOTATE,
                study=study,
                request=request,
                detail=f"created:{tool}:{annotation.pk}",
            )
        _emit(annotation, "created", author)
    return annotation


def _locked(annotation: Annotation) -> Annotation:
    locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
    if locked.deleted_at is not None:
        raise AnnotationError("the annotation was deleted.")
    return locked


def _apply_changes(annotation: Annotation, changes: dict[str, Any]) -> list[str]:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"these fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "geometry" in changes:
        annotation.geometry = clean_geometry(
            annotation.tool, changes["geometry"], _frame_size(annotation)
        )
    if "label" in changes:
        annotation.label = _clean_text(changes["label"], MAX_LABEL, "label")
    if "text" in changes:
        annotation.text = _clean_text(changes["text"], MAX_TEXT, "text")
    if "measurements" in changes:
        annotation.measurements = clean_measurements(changes["measurements"])
    return [f for f in EDITABLE_FIELDS if f in changes]


def _save_new_version(annotation: Annotation, fields: list[str]) -> Annotation:
    annotation.version = F("version") + 1
    annotation.save(update_fields=[*fields, "version", "updated_at"])
    annotation.refresh_from_db()
    return annotation


def update_annotation(
    annotation: Annotation, *, actor, changes: dict[str, Any], request=None
) -> Annotation:
    """Replace the given fields (geometry, label, text, measurements); last writer wins."""
    with transaction.atomic():
        locked = _locked(annotation)
        fields = _apply_changes(locked, changes)
        locked.updated_by = actor
        locked = _save_new_version(locked, [*fields, "updated_by"])
        record_access(
            actor,
            AuditAction.ANNOTATE,
            study=locked.study,
            request=request,
            detail=f"updated:{locked.tool}:{locked.pk}",
        )
        _emit(locked, "updated", actor)
    return locked


def delete_annotation(annotation: Annotation, *, actor, request=None) -> Annotation:
    """Soft delete: the row stays so events and exports can refer to it. Idempotent."""
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
        if locked.deleted_at is not None:
            return locked
        locked.deleted_at = timezone.now()
        locked.updated_by = actor
        locked = _save_new_version(locked, ["deleted_at", "updated_by"])
        record_access(
            actor,
            AuditAction.ANNOTATE,
            study=locked.study,
            request=request,
            detail=f"deleted:{locked.tool}:{locked.pk}",
        )
        _emit(locked, "deleted", actor)
    return locked


class Decision:
    ACCEPT = "accept"
    EDIT = "edit"
    REJECT = "reject"
    ALL = (ACCEPT, EDIT, REJECT)


def review_annotation(
    annotation: Annotation,
    *,
    reviewer,
    decision: str,
    changes: dict[str, Any] | None = None,
    request=None,
) -> Annotation:
    """Accept, edit (change then accept) or reject an AI finding.

    A finding can be reviewed again (a rejected one accepted later); the last review
    stands and ``reviewed_by``/``reviewed_at`` say whose it is.
    """
    if decision not in Decision.ALL:
        raise ValidationError("decision must be accept, edit or reject.")
    if decision == Decision.EDIT and not changes:
        raise ValidationError("an edit decision needs the changed fields.")
    if decision != Decision.EDIT and changes:
        raise ValidationError("only an edit decision carries changes.")
    with transaction.atomic():
        locked = _locked(annotation)
        if locked.source != Source.AI:
            raise AnnotationError("only AI findings are reviewed.")
        fields = _apply_changes(locked, changes or {})
        if decision != Decision.REJECT and "geometry" not in fields:
            # What is accepted must be on its image too (a row stored before the check).
            check_on_frame(locked.tool, locked.geometry.get("points", []), *_frame_size(locked))
        locked.review_state = {
            Decision.ACCEPT: ReviewState.ACCEPTED,
            Decision.EDIT: ReviewState.EDITED,
            Decision.REJECT: ReviewState.REJECTED,
        }[decision]
        locked.reviewed_by = reviewer
        locked.reviewed_at = timezone.now()
        locked.updated_by = reviewer
        locked = _save_new_version(
            locked, [*fields, "review_state", "reviewed_by", "reviewed_at", "updated_by"]
        )
        record_access(
            reviewer,
            AuditAction.ANNOTATE,
            study=locked.study,
            request=request,
            detail=f"review:{decision}:{locked.pk}",
        )
        _emit(locked, "reviewed", reviewer)
    return locked


def export_annotation_sr(annotation: Annotation, *, actor, request=None):
    """Build a DICOM SR Measurement Report for the annotation and store it in its study.

    Returns the ``IngestResult`` of storing it through the one ingest path, so the
    report is served by DICOMweb like any other instance.
    """
    from reading.annotations.sr import build_measurement_report
    from reading.studies.services import ingest_instance

    if annotation.deleted_at is not None:
        raise AnnotationError("the annotation was deleted.")
    source = (
        Instance.objects.select_related("series__study__patient")
        .filter(series__study_id=annotation.study_id, sop_instance_uid=annotation.sop_instance_uid)
        .first()
    )
    if source is None:
        raise AnnotationError("the annotated image is no longer in the archive.")
    raw = build_measurement_report(annotation, source, observer=actor)
    result = ingest_instance(raw, name=f"annotation-{annotation.pk}.dcm")
    if not result.ok:
        raise AnnotationError(f"storing the report failed: {result.reason}")
    with transaction.atomic():
        Annotation.objects.filter(pk=annotation.pk).update(
            sr_sop_instance_uid=result.sop_instance_uid
        )
        record_access(
            actor,
            AuditAction.EXPORT,
            study=annotation.study,
            request=request,
            detail=f"sr:{annotation.pk}:{result.sop_instance_uid}",
        )
    annotation.sr_sop_instance_uid = result.sop_instance_uid
    return result
