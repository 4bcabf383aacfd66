"""QIDO-RS search (PS3.18 10.6): studies, series and instances.

The views and the search they share. The parameters and matching rules are
``qidomatch``'s (PS3.18 8.3.4, PS3.4 C.2.2.2), the queries ``qidoquery``'s
(a bounded number whatever the number of results), the DICOM JSON answer
``qidoanswer``'s.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpResponse

from reading.audit.models import AuditAction
from reading.studies.access import get_series_for_user, get_study_for_user, studies_for_user
from reading.studies.dicomweb.common import audit, dicom_json_response, dicomweb_view, service_root
from reading.studies.dicomweb.qidoanswer import dicom_json, needs_instance_metadata
from reading.studies.dicomweb.qidomatch import INSTANCE, SERIES, STUDY, parse_search
from reading.studies.dicomweb.qidoquery import find_matches


def search(request, level: str, scope, *, study=None, prepared_as=None) -> HttpResponse:
    """Run a QIDO-RS search at ``level`` within ``scope`` and answer DICOM JSON."""
    query = parse_search(request, level)
    needs_metadata = needs_instance_metadata(level, query)
    matches = find_matches(level, scope, query, needs_metadata, prepared_as)
    results = dicom_json(level, matches, query, study=study, root=service_root(request))
    detail = f"qido-{level}?{request.GET.urlencode()}"
    audit(request, AuditAction.SEARCH, study=study, detail=detail)
    return dicom_json_response(results, Warning=", ".join(query.warnings))


def _reader_scope(user) -> tuple:
    """``studies_for_user``'s scope as a key: its query is the same for every reader of
    one role (see ``get_instance_for_user``)."""
    return ("studies_for_user", getattr(user, "role", None), getattr(user, "is_superuser", False))


@dicomweb_view()
def search_studies(request):
    user = request.user
    return search(request, STUDY, studies_for_user(user), prepared_as=_reader_scope(user))


@dicomweb_view()
def search_all_series(request):
    return search(request, SERIES, Q(study__in=studies_for_user(request.user)))


@dicomweb_view()
def search_study_series(request, study_uid):
    study = get_study_for_user(request.user, study_uid)
    return search(request, SERIES, Q(study=study), study=study)


@dicomweb_view()
def search_all_instances(request):
    return search(request, INSTANCE, Q(series__study__in=studies_for_user(request.user)))


@dicomweb_view()
def search_study_instances(request, study_uid):
    study = get_study_for_user(request.user, study_uid)
    return search(request, INSTANCE, Q(series__study=study), study=study)


@dicomweb_view()
def search_series_instances(request, study_uid, series_uid):
    study = get_study_for_user(request.user, study_uid)
    series = get_series_for_user(request.user, study_uid, series_uid)
    return search(request, INSTANCE, Q(series=series), study=study)
