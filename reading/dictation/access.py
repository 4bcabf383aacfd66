"""The one way to fetch stored dictation for a user: the study's access decides."""

from __future__ import annotations

import uuid

from django.http import Http404

from reading.dictation.models import Utterance
from reading.studies.access import get_study_for_user, studies_for_user


def utterances_for_study(user, study_uid: str):
    study = get_study_for_user(user, study_uid)
    return Utterance.objects.filter(study=study).select_related("user", "stream")


def get_utterance_for_user(user, utterance_id) -> Utterance:
    """PermissionDenied for users who may not read images, Http404 when not theirs to see."""
    studies = studies_for_user(user)
    try:
        pk = uuid.UUID(str(utterance_id))
    except ValueError as exc:
        raise Http404("No such utterance.") from exc
    utterance = (
        Utterance.objects.select_related("user", "study").filter(pk=pk, study__in=studies).first()
    )
    if utterance is None:
        raise Http404("No such utterance.")
    return utterance
