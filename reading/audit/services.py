"""Writing audit records.

A viewer loading a 200-slice CT makes hundreds of requests; one record per
user, study and action per minute keeps the trail readable without losing who
saw what. The de-duplication is per process (Django's cache), so several server
processes may each write one.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from reading.audit.models import AuditEvent

DEDUP_SECONDS = 60


def _client_ip(request) -> str | None:
    if request is None:
        return None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return (forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR")) or None


def record_access(
    user,
    action: str,
    *,
    study=None,
    request=None,
    detail: str = "",
    patient_id: str = "",
    patient_name: str = "",
) -> AuditEvent | None:
    """Record that ``user`` did ``action`` on ``study`` (or on patient data in general)."""
    study_uid = getattr(study, "study_instance_uid", "") or ""
    if study is not None:
        patient_id = study.patient.patient_id
        patient_name = study.patient.patient_name
    digest = hashlib.sha1(detail.encode(), usedforsecurity=False).hexdigest()[:12]
    key = f"audit:{getattr(user, 'pk', None)}:{action}:{study_uid}:{digest}"
    if not cache.add(key, 1, DEDUP_SECONDS):
        return None
    return AuditEvent.objects.create(
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or "",
        action=action,
        study_instance_uid=study_uid,
        patient_id=patient_id,
        patient_name=patient_name,
        path=(request.get_full_path()[:512] if request is not None else ""),
        ip_address=_client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:256] if request is not None else ""),
        detail=detail[:512],
    )
