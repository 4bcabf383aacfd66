"""WADO-RS metadata (PS3.18 10.4.1.1.2): DICOM JSON of every instance, bulk data as URIs.

A viewer opens a series by its metadata, so the study and series answers are
kept, serialized, in Django's cache. The key names the series' (or study's)
UID, its instance count, highest instance row id and latest arrival time:
stored instances never change (a re-send with other content is a conflict that
keeps the stored copy), so a stored or removed instance changes the key, and a
row id reused after a deletion comes with a later arrival time. The key also
names the service root the URIs were built with.
"""

from __future__ import annotations

import hashlib
import json

from django.core.cache import cache
from django.db.models import Count, Max
from django.http import Http404, HttpResponse

from reading.audit.models import AuditAction
from reading.studies.access import get_instance_for_user, get_series_for_user, get_study_for_user
from reading.studies.dicomweb.common import audit, dicomweb_view, instance_url, service_root
from reading.studies.dicomweb.dicomjson import resolve_bulk
from reading.studies.dicomweb.media import DICOM_JSON
from reading.studies.models import Instance

CACHE_SECONDS = 600


def _payload(instances, study, root: str) -> list[dict]:
    payload = []
    for inst in instances:
        url = instance_url(
            root, study.study_instance_uid, inst.series.series_instance_uid, inst.sop_instance_uid
        )
        item = resolve_bulk(inst.metadata, url)
        # Available Transfer Syntax UID (0008,3002): the stored one (PS3.18 10.4.1.2).
        item["00083002"] = {"vr": "UI", "Value": [inst.transfer_syntax_uid]}
        payload.append(item)
    return payload


def _rows(**filters):
    return (
        Instance.objects.filter(**filters)
        .select_related("series")
        .only("sop_instance_uid", "transfer_syntax_uid", "metadata", "series__series_instance_uid")
        .order_by("series__series_number", "series_id", "instance_number", "pk")
    )


def _response(request, study, body: bytes) -> HttpResponse:
    audit(request, AuditAction.METADATA, study=study, detail="metadata")
    return HttpResponse(body, content_type=DICOM_JSON)


def _cached_response(request, study, scope: str, **filters) -> HttpResponse:
    root = service_root(request)
    state = Instance.objects.filter(**filters).aggregate(
        n=Count("pk"), last=Max("pk"), newest=Max("received_at")
    )
    if not state["n"]:
        raise Http404("Nothing stored here.")
    digest = hashlib.sha1(root.encode(), usedforsecurity=False).hexdigest()[:16]
    newest = state["newest"].timestamp() if state["newest"] else 0
    key = f"dicomweb:metadata:{scope}:{state['n']}:{state['last']}:{newest}:{digest}"
    body = cache.get(key)
    if body is None:
        payload = _payload(_rows(**filters), study, root)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        cache.set(key, body, CACHE_SECONDS)
    return _response(request, study, body)


@dicomweb_view()
def study_metadata(request, study_uid):
    study = get_study_for_user(request.user, study_uid)
    return _cached_response(request, study, study.study_instance_uid, series__study=study)


@dicomweb_view()
def series_metadata(request, study_uid, series_uid):
    study = get_study_for_user(request.user, study_uid)
    series = get_series_for_user(request.user, study_uid, series_uid)
    return _cached_response(request, study, series.series_instance_uid, series=series)


@dicomweb_view()
def instance_metadata(request, study_uid, series_uid, sop_uid):
    study = get_study_for_user(request.user, study_uid)
    instance = get_instance_for_user(request.user, study_uid, series_uid, sop_uid)
    payload = _payload([instance], study, service_root(request))
    return _response(
        request, study, json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    )
