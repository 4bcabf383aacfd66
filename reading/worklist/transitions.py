"""Status changes: the reading workflow (unread -> in progress -> preliminary -> final
-> addended), and the report and AI states other apps mirror on the worklist.

Status transitions are conditional updates on the status the caller saw, so a
concurrent change makes the later one fail instead of overwriting it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from reading.studies.models import Study
from reading.worklist import events
from reading.worklist.models import AIStatus, ReadingItem, ReadingStatus, ReportStatus
from reading.worklist.services import (
    ClaimHeldByOther,
    TransitionNotAllowed,
    ensure_item,
    reload_item,
    require_clinical,
)

S = ReadingStatus

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


def set_reading_status(user, study: Study, status: str) -> ReadingItem:
    """Move the study along unread -> in progress -> preliminary -> final -> addended.

    The user must hold the claim. Residents cannot mark final or addended; only
    attendings can. Final and addended release the claim.
    """
    require_clinical(user)
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
    return reload_item(study.pk)


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
    return reload_item(study.pk)


def set_ai_status(study: Study, status: str) -> ReadingItem:
    """For the AI tasks: mirror the analysis state on the worklist."""
    if status not in AIStatus.values:
        raise ValidationError(f"Unknown AI status {status!r}.")
    ensure_item(study)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk).update(ai_status=status, version=F("version") + 1)
        events.emit_on_commit(events.STATUS_CHANGED, study.pk)
    return reload_item(study.pk)
