"""The worklist's row of reading state per study, and what its writes share.

Each study has a ``ReadingItem`` holding copies of the study's fields, kept in step
here as instances arrive. The writes have modules of their own: claims (``claims``),
reading, report and AI status (``transitions``), assignment and priority
(``assignment``), department and saved worklists (``lists``); with this one they are
the only code that saves ReadingItem, Worklist and SavedWorklist rows or emits
worklist events.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reading.accounts.access import is_clinical, is_department_admin
from reading.studies.models import Study
from reading.worklist import events
from reading.worklist.models import ReadingItem

# A 500-slice CT stores 500 instances: worklists hear of it at most once a second.
UPDATE_THROTTLE_SECONDS = 1


class WorklistError(Exception):
    """A workflow rule refused the change (HTTP 409)."""


class TransitionNotAllowed(WorklistError):
    pass


class ClaimHeldByOther(WorklistError):
    pass


def study_datetime(study: Study) -> datetime | None:
    """Study Date (0008,0020) + Study Time (0008,0030) in the server's zone."""
    if study.study_date is None:
        return study.received_at
    naive = datetime.combine(study.study_date, study.study_time or datetime.min.time())
    return timezone.make_aware(naive, timezone.get_default_timezone())


def search_text(study: Study) -> str:
    """Lower-cased name, MRN and accession: what the worklist's free-text search scans."""
    patient = study.patient
    parts = [study.display_patient_name(), patient.patient_id, study.accession_number]
    return " | ".join(p for p in parts if p).lower()[:512]


def item_defaults(study: Study) -> dict:
    """The ReadingItem's copies of study and patient fields (``study.patient`` loaded)."""
    return {
        "study_datetime": study_datetime(study),
        "patient_name": study.display_patient_name()[:324],
        "patient_id": study.patient.patient_id,
        "accession_number": study.accession_number,
        "modality": study.modalities_in_study,
        "body_part": study.body_part_examined,
        "search_text": search_text(study),
    }


def ensure_item(study: Study) -> ReadingItem:
    """The study's ReadingItem, created now if the study predates it."""
    try:
        return ReadingItem.objects.get(pk=study.pk)
    except ReadingItem.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return ReadingItem.objects.create(study=study, **item_defaults(study))
    except IntegrityError:
        return ReadingItem.objects.get(pk=study.pk)


def require_clinical(user) -> None:
    if not is_clinical(user):
        raise PermissionDenied("Only attendings and residents read studies.")


def require_admin(user) -> None:
    if not is_department_admin(user):
        raise PermissionDenied("Only department admins can do this.")


def require_reader(user) -> None:
    if not is_clinical(user):
        raise ValidationError("Studies can only be assigned to active attendings or residents.")


def reload_item(study_id: int) -> ReadingItem:
    return ReadingItem.objects.select_related("claimed_by", "assigned_to").get(pk=study_id)


# --- arrival -----------------------------------------------------------------


def register_study(study_id: int, *, created_study: bool) -> ReadingItem | None:
    """An instance of ``study_id`` was stored: keep its row in step and tell the worklists.

    A new study gets its row and a ``study_arrived`` event. For a known study the
    row's copies are refreshed (two SELECTs, an UPDATE only when something
    changed) and a ``study_updated`` event goes out at most once a second per
    study (leading edge; clients re-fetch shortly after the last one they saw).
    """
    study = Study.objects.select_related("patient").filter(pk=study_id).first()
    if study is None:
        return None
    item = None if created_study else ReadingItem.objects.filter(pk=study_id).first()
    if item is None:
        item = ensure_item(study)
        events.emit_on_commit(events.STUDY_ARRIVED, study_id)
        return item
    fresh = item_defaults(study)
    if any(getattr(item, k) != v for k, v in fresh.items()):
        ReadingItem.objects.filter(pk=study_id).update(**fresh, version=F("version") + 1)
    if cache.add(f"worklist:updated:{study_id}", 1, UPDATE_THROTTLE_SECONDS):
        events.emit_on_commit(events.STUDY_UPDATED, study_id)
    return item
