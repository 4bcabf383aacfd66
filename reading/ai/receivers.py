"""A study arriving on a department worklist whose rule asks for it gets an AI analysis."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def on_instance_stored(sender, study_id: int, created_study: bool, **kwargs) -> None:
    """On a new study only; the job waits ``AI_AUTO_DELAY_S`` for the rest of the
    study's instances and then reads its largest series."""
    if not created_study:
        return
    from reading.ai import services
    from reading.ai.errors import AIRequestError
    from reading.studies.models import Study
    from reading.worklist.models import ReadingItem, Worklist
    from reading.worklist.queries import worklist_rule_q
    from reading.worklist.services import ensure_item

    rules = list(Worklist.objects.filter(is_active=True).exclude(auto_ai_task=""))
    if not rules:
        return
    study = Study.objects.select_related("patient").filter(pk=study_id).first()
    if study is None:
        return
    ensure_item(study)
    for worklist in rules:
        if not ReadingItem.objects.filter(pk=study_id).filter(worklist_rule_q(worklist)).exists():
            continue
        try:
            with transaction.atomic():
                services.create_job(
                    study,
                    task=worklist.auto_ai_task,
                    trigger="worklist",
                    delay=getattr(settings, "AI_AUTO_DELAY_S", 30),
                )
        except AIRequestError as exc:  # e.g. compare_prior for a patient without a prior
            logger.info("worklist %s: no automatic AI analysis: %s", worklist.name, exc)
        return  # one analysis per arriving study, whichever rules match
