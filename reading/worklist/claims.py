"""Claims: who is reading a study now.

Claims are race-safe: a claim is one conditional ``UPDATE ... WHERE claimed_by
IS NULL``; of two readers claiming at the same moment the database lets exactly
one row update succeed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reading.studies.models import Study
from reading.worklist import events
from reading.worklist.models import ReadingItem
from reading.worklist.models import ReadingStatus as S
from reading.worklist.services import (
    ClaimHeldByOther,
    ensure_item,
    reload_item,
    require_admin,
    require_clinical,
)


@dataclass
class ClaimResult:
    won: bool
    item: ReadingItem

    @property
    def holder(self):
        return self.item.claimed_by


def claim_study(user, study: Study) -> ClaimResult:
    """Claim ``study`` for ``user``. Exactly one of several concurrent claimers wins.

    A claim on an unread study moves it to in progress. Claiming a study one
    already holds is a no-op win; a study held by someone else is not taken.
    """
    require_clinical(user)
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
    item = reload_item(study.pk)
    return ClaimResult(won=item.claimed_by_id == user.pk, item=item)


def release_claim(user, study: Study) -> ReadingItem:
    """The holder gives the study back; an untouched read returns to unread."""
    require_clinical(user)
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
    return reload_item(study.pk)


def break_claim(actor, study: Study) -> ReadingItem:
    """A department admin takes a claim away from whoever holds it."""
    require_admin(actor)
    ensure_item(study)
    with transaction.atomic():
        ReadingItem.objects.filter(pk=study.pk).update(
            claimed_by=None, claimed_at=None, version=F("version") + 1
        )
        ReadingItem.objects.filter(pk=study.pk, reading_status=S.IN_PROGRESS).update(
            reading_status=S.UNREAD
        )
        events.emit_on_commit(events.CLAIM_RELEASED, study.pk)
    return reload_item(study.pk)


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
