"""Writing audit records.

A viewer loading a 200-slice CT makes hundreds of requests; one record per
user, study and action per minute keeps the trail readable without losing who
saw what. The de-duplication is per process (Django's cache), so several server
processes may each write one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging

from django.conf import settings
from django.core.cache import cache

from reading.audit.models import AuditEvent

DEDUP_SECONDS = 60
log = logging.getLogger(__name__)


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _proxy_networks() -> list:
    networks = []
    for item in settings.TRUSTED_PROXIES:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            log.warning("TRUSTED_PROXIES: %r is not an address or network; ignored", item)
    return networks


def client_ip(request) -> str | None:
    """The client's address: ``X-Forwarded-For`` is believed only from ``TRUSTED_PROXIES``.

    Walking the header from the right, each hop added by a trusted proxy is
    skipped; the first address not of a trusted proxy is the client (anything
    to its left could have been written by the client itself).
    """
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    networks = _proxy_networks()
    if remote is None or not networks or not _trusted(remote, networks):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # garbage in the header: the proxy is what we know
    return remote


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
        patient_name = study.patient_name or study.patient.patient_name  # as stored
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
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:256] if request is not None else ""),
        detail=detail[:512],
    )
