"""Assignment and priority, of one study or in bulk: which reader a study is for and
how urgent it is.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reading.accounts.access import is_clinical, is_department_admin
from reading.studies.models import Study
from reading.worklist import events
from reading.worklist.models import PRIORITY_RANK, Priority, ReadingItem
from reading.worklist.services import ensure_item, reload_item, require_admin, require_reader


def reassign(actor, study: Study, to_user) -> ReadingItem:
    """Admin: give the study (and its claim, if one is held) to another reader."""
    require_admin(actor)
    require_reader(to_user)
    ensure_item(study)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk, claimed_by__isnull=False).update(
            claimed_by=to_user, claimed_at=timezone.now()
        )
        ReadingItem.objects.filter(pk=study.pk).update(
            assigned_to=to_user, version=F("version") + 1
        )
        events.emit_on_commit(events.STUDY_ASSIGNED, study.pk)
    return reload_item(study.pk)


def _ensure_items(study_ids: list[int]) -> None:
    existing = set(ReadingItem.objects.filter(pk__in=study_ids).values_list("pk", flat=True))
    missing = [i for i in study_ids if i not in existing]
    for study in Study.objects.select_related("patient").filter(pk__in=missing):
        ensure_item(study)


def assign_studies(actor, study_ids: list[int], to_user) -> int:
    """Admin: assign studies to a reader (``to_user=None`` unassigns). One UPDATE."""
    require_admin(actor)
    if to_user is not None:
        require_reader(to_user)
    study_ids = sorted(set(study_ids))
    _ensure_items(study_ids)
    with transaction.atomic():
        n = ReadingItem.objects.filter(pk__in=study_ids).update(
            assigned_to=to_user, version=F("version") + 1
        )
        events.emit_on_commit(events.STUDY_ASSIGNED, study_ids)
    return n


def set_priority(actor, study_ids: list[int], priority: str) -> int:
    """Set the priority of studies. Admins and readers may; STAT sorts first."""
    if not (is_department_admin(actor) or is_clinical(actor)):
        raise PermissionDenied("Only readers and department admins set priorities.")
    if priority not in Priority.values:
        raise ValidationError(f"Unknown priority {priority!r}.")
    study_ids = sorted(set(study_ids))
    _ensure_items(study_ids)
    with transaction.atomic():
        n = ReadingItem.objects.filter(pk__in=study_ids).update(
            priority=priority,
            priority_rank=PRIORITY_RANK[Priority(priority)],
            version=F("version") + 1,
        )
        events.emit_on_commit(events.PRIORITY_CHANGED, study_ids)
    return n
