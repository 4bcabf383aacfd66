"""Writes to the reading state. The only code that saves ReadingItem, Worklist and
SavedWorklist rows or emits worklist events.

Claims are race-safe: a claim is one conditional ``UPDATE ... WHERE claimed_by
IS NULL``; of two readers claiming at the same moment the database lets exactly
one row update succeed. Status transitions are conditional updates on the
status the caller saw, so a concurrent change makes the later one fail instead
of overwriting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from reading.accounts.access import is_clinical, is_department_admin
from reading.studies.models import Study
from reading.worklist import events
from reading.worklist.models import (
    PRIORITY_RANK,
    AIStatus,
    Priority,
    ReadingItem,
    ReadingStatus,
    ReportStatus,
    SavedWorklist,
    Worklist,
)

S = ReadingStatus

# A 500-slice CT stores 500 instances: worklists hear of it at most once a second.
UPDATE_THROTTLE_SECONDS = 1

# Which status may follow which. UNREAD -> IN_PROGRESS happens by claiming.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.UNREAD: frozenset({S.IN_PROGRESS}),
    S.IN_PROGRESS: frozenset({S.UNREAD, S.PRELIMINARY, S.FINAL}),
    S.PRELIMINARY: frozenset({S.IN_PROGRESS, S.FINAL}),
    S.FINAL: frozenset({S.ADDENDED}),
    S.ADDENDED: frozenset({S.ADDENDED}),
}
ATTENDING_ONLY = frozenset({S.FINAL, S.ADDENDED})
# Signing ends the read: the claim is released with it.
RELEASES_CLAIM = frozenset({S.FINAL, S.ADDENDED, S.UNREAD})


class WorklistError(Exception):
    """A workflow rule refused the change (HTTP 409)."""


class TransitionNotAllowed(WorklistError):
    pass


class ClaimHeldByOther(WorklistError):
    pass


@dataclass
class ClaimResult:
    won: bool
    item: ReadingItem

    @property
    def holder(self):
        return self.item.claimed_by


# --- helpers -----------------------------------------------------------------


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


def _require_clinical(user) -> None:
    if not is_clinical(user):
        raise PermissionDenied("Only attendings and residents read studies.")


def _require_admin(user) -> None:
    if not is_department_admin(user):
        raise PermissionDenied("Only department admins can do this.")


def _require_reader(user) -> None:
    if not is_clinical(user):
        raise ValidationError("Studies can only be assigned to active attendings or residents.")


def _reload(study_id: int) -> ReadingItem:
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


# --- claims ------------------------------------------------------------------


def claim_study(user, study: Study) -> ClaimResult:
    """Claim ``study`` for ``user``. Exactly one of several concurrent claimers wins.

    A claim on an unread study moves it to in progress. Claiming a study one
    already holds is a no-op win; a study held by someone else is not taken.
    """
    _require_clinical(user)
    ensure_item(study)
    with transaction.atomic():
        won = (
            ReadingItem.objects.filter(pk=study.pk, claimed_by__isnull=True).update(
                claimed_by=user,
                claimed_at=timezone.now(),
                version=F("version") + 1,
            )
            == 1
        )
        if won:
            ReadingItem.objects.filter(
                pk=study.pk, claimed_by=user, reading_status=S.UNREAD
            ).update(reading_status=S.IN_PROGRESS)
            events.emit_on_commit(events.STUDY_CLAIMED, study.pk)
    item = _reload(study.pk)
    return ClaimResult(won=item.claimed_by_id == user.pk, item=item)


def release_claim(user, study: Study) -> ReadingItem:
    """The holder gives the study back; an untouched read returns to unread."""
    _require_clinical(user)
    with transaction.atomic():
        released = ReadingItem.objects.filter(pk=study.pk, claimed_by=user).update(
            claimed_by=None, claimed_at=None, version=F("version") + 1
        )
        if not released:
            raise ClaimHeldByOther("You do not hold the claim on this study.")
        ReadingItem.objects.filter(pk=study.pk, reading_status=S.IN_PROGRESS).update(
            reading_status=S.UNREAD
        )
        events.emit_on_commit(events.CLAIM_RELEASED, study.pk)
    return _reload(study.pk)


def break_claim(actor, study: Study) -> ReadingItem:
    """A department admin takes a claim away from whoever holds it."""
    _require_admin(actor)
    ensure_item(study)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk).update(
            claimed_by=None, claimed_at=None, version=F("version") + 1
        )
        ReadingItem.objects.filter(pk=study.pk, reading_status=S.IN_PROGRESS).update(
            reading_status=S.UNREAD
        )
        events.emit_on_commit(events.CLAIM_RELEASED, study.pk)
    return _reload(study.pk)


def reassign(actor, study: Study, to_user) -> ReadingItem:
    """Admin: give the study (and its claim, if one is held) to another reader."""
    _require_admin(actor)
    _require_reader(to_user)
    ensure_item(study)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk, claimed_by__isnull=False).update(
            claimed_by=to_user, claimed_at=timezone.now()
        )
        ReadingItem.objects.filter(pk=study.pk).update(
            assigned_to=to_user, version=F("version") + 1
        )
        events.emit_on_commit(events.STUDY_ASSIGNED, study.pk)
    return _reload(study.pk)


def release_claims_of(user_id: int) -> int:
    """Release every claim ``user_id`` holds (used when a user is deactivated)."""
    ids = list(ReadingItem.objects.filter(claimed_by_id=user_id).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        ReadingItem.objects.filter(pk__in=ids).update(
            claimed_by=None, claimed_at=None, version=F("version") + 1
        )
        ReadingItem.objects.filter(pk__in=ids, reading_status=S.IN_PROGRESS).update(
            reading_status=S.UNREAD
        )
        events.emit_on_commit(events.CLAIM_RELEASED, ids)
    return len(ids)


# --- status ------------------------------------------------------------------


def set_reading_status(user, study: Study, status: str) -> ReadingItem:
    """Move the study along unread -> in progress -> preliminary -> final -> addended.

    The user must hold the claim. Residents cannot mark final or addended; only
    attendings can. Final and addended release the claim.
    """
    _require_clinical(user)
    if status not in S.values:
        raise ValidationError(f"Unknown reading status {status!r}.")
    if status in ATTENDING_ONLY and not user.is_attending:
        raise PermissionDenied("Only attendings can mark a study final or addend it.")
    item = ensure_item(study)
    if status not in TRANSITIONS[item.reading_status]:
        raise TransitionNotAllowed(
            f"A study cannot go from {item.get_reading_status_display().lower()} to "
            f"{S(status).label.lower()}."
        )
    if item.claimed_by_id != user.pk:
        raise ClaimHeldByOther("Claim the study before changing its status.")
    changes: dict = {"reading_status": status, "version": F("version") + 1}
    if status in RELEASES_CLAIM:
        changes.update(claimed_by=None, claimed_at=None)
    with transaction.atomic():
        updated = ReadingItem.objects.filter(
            pk=study.pk, reading_status=item.reading_status, claimed_by=user
        ).update(**changes)
        if not updated:
            raise TransitionNotAllowed("The study changed meanwhile; reload and try again.")
        events.emit_on_commit(events.STATUS_CHANGED, study.pk)
    return _reload(study.pk)


def set_report_status(study: Study, status: str, reading_status: str | None = None) -> ReadingItem:
    """For the reports app: mirror the report's state on the worklist.

    ``reading_status`` (the report's sign-off) moves the reading along with it, without
    the claim rules of ``set_reading_status``: the report services checked who signs.
    """
    if status not in ReportStatus.values:
        raise ValidationError(f"Unknown report status {status!r}.")
    if reading_status is not None and reading_status not in S.values:
        raise ValidationError(f"Unknown reading status {reading_status!r}.")
    ensure_item(study)
    changes: dict = {"report_status": status, "version": F("version") + 1}
    if reading_status is not None:
        changes["reading_status"] = reading_status
        if reading_status in RELEASES_CLAIM:
            changes.update(claimed_by=None, claimed_at=None)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk).update(**changes)
        events.emit_on_commit(events.STATUS_CHANGED, study.pk)
    return _reload(study.pk)


def set_ai_status(study: Study, status: str) -> ReadingItem:
    """For the AI tasks: mirror the analysis state on the worklist."""
    if status not in AIStatus.values:
        raise ValidationError(f"Unknown AI status {status!r}.")
    ensure_item(study)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk).update(ai_status=status, version=F("version") + 1)
        events.emit_on_commit(events.STATUS_CHANGED, study.pk)
    return _reload(study.pk)


# --- assignment and priority (also in bulk) ----------------------------------


def _ensure_items(study_ids: list[int]) -> None:
    existing = set(ReadingItem.objects.filter(pk__in=study_ids).values_list("pk", flat=True))
    missing = [i for i in study_ids if i not in existing]
    for study in Study.objects.select_related("patient").filter(pk__in=missing):
        ensure_item(study)


def assign_studies(actor, study_ids: list[int], to_user) -> int:
    """Admin: assign studies to a reader (``to_user=None`` unassigns). One UPDATE."""
    _require_admin(actor)
    if to_user is not None:
        _require_reader(to_user)
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


# --- named and saved worklists ----------------------------------------------


def save_worklist(owner, name: str, query: str) -> SavedWorklist:
    """Save (or overwrite) the owner's personal worklist ``name``."""
    _require_clinical(owner)
    name = name.strip()[:100]
    if not name:
        raise ValidationError("A saved worklist needs a name.")
    saved, _ = SavedWorklist.objects.update_or_create(
        owner=owner, name=name, defaults={"query": query.lstrip("?")[:1000]}
    )
    return saved


def delete_saved_worklist(owner, saved_id: int) -> None:
    deleted, _ = SavedWorklist.objects.filter(owner=owner, pk=saved_id).delete()
    if not deleted:
        raise PermissionDenied("No such saved worklist of yours.")


def save_department_worklist(actor, worklist: Worklist | None, **fields) -> Worklist:
    """Admin: create or update a named worklist; ``members``/``groups`` replace the sets."""
    _require_admin(actor)
    members = fields.pop("members", None)
    groups = fields.pop("groups", None)
    worklist = worklist or Worklist()
    for key, value in fields.items():
        setattr(worklist, key, value)
    worklist.full_clean()
    with transaction.atomic():
        worklist.save()
        if members is not None:
            worklist.members.set(members)
        if groups is not None:
            worklist.groups.set(groups)
    return worklist


def delete_department_worklist(actor, worklist: Worklist) -> None:
    _require_admin(actor)
    worklist.delete()
