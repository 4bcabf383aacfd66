"""Review of AI findings: accept, edit or reject, kept as an append-only history.

IHE AI Results (AIR) and its assessment records (AIRAI): the human decision on
an AI result is a record of its own, with who, when and what changed. A
resident's decision can be confirmed or overturned by an attending; a
resident cannot overturn an attending.
"""

from __future__ import annotations

from django.db import transaction

from reading.ai import events
from reading.ai.models import AIReview, Decision, ReviewKind
from reading.annotations.models import Annotation, Source
from reading.annotations.services import AnnotationError, review_annotation

POSITIVE = {Decision.ACCEPT, Decision.EDIT}


def _kind(last: AIReview | None, reviewer, decision: str, changes: dict | None) -> str:
    if last is None:
        return ReviewKind.FIRST
    if last.reviewer_id == reviewer.pk:
        return ReviewKind.REVISED
    if getattr(reviewer, "is_attending", False) and last.reviewer_role == "resident":
        same = (decision in POSITIVE) == (last.decision in POSITIVE) and not changes
        return ReviewKind.CONFIRMED if same else ReviewKind.OVERTURNED
    return ReviewKind.CHANGED


def review_finding(
    annotation: Annotation,
    *,
    reviewer,
    decision: str,
    changes: dict | None = None,
    comment: str = "",
    session=None,
    request=None,
) -> tuple[Annotation, AIReview]:
    """Record one decision about an AI finding and apply it to the annotation.

    The annotation (fetched through ``get_annotation_for_user``) gets the new
    review state (``annotation.reviewed`` follows); the history row is never
    changed afterwards, and ``ai.finding`` carries the whole history to sessions.
    """
    if annotation.source != Source.AI:
        raise AnnotationError("only AI findings are reviewed.")
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=annotation.pk)
        last = AIReview.objects.filter(annotation=locked).order_by("-created_at", "-id").first()
        if (
            last is not None
            and last.reviewer_role == "attending"
            and last.reviewer_id != reviewer.pk
            and not getattr(reviewer, "is_attending", False)
        ):
            raise AnnotationError(
                "an attending decided on this finding; only an attending changes it."
            )
        before = {key: getattr(locked, key) for key in (changes or {})}
        updated = review_annotation(
            locked, reviewer=reviewer, decision=decision, changes=changes, request=request
        )
        after = {key: getattr(updated, key) for key in (changes or {})}
        link = getattr(updated, "ai_link", None)
        review = AIReview.objects.create(
            annotation=updated,
            job_id=link.job_id if link else None,
            reviewer=reviewer,
            reviewer_role=getattr(reviewer, "role", "")[:16],
            decision=decision,
            kind=_kind(last, reviewer, decision, changes),
            previous_state=locked.review_state,
            changes={"before": before, "after": after} if changes else {},
            comment=(comment or "")[:500],
            session=session,
        )
        events.finding_changed(link.job if link else None, updated, actor=reviewer)
    return updated, review
