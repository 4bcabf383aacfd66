"""QIDO-RS search (PS3.18 10.6): studies, series and instances.

Matching follows PS3.4 C.2.2.2: single value (with ``*``/``?`` wildcards),
UID lists, date/time ranges, universal matching for empty values. Person
names match case-insensitively. Each search runs a bounded number of queries
whatever the number of results: one for the matches (with their parents
joined), and one more only when ``includefield`` asks for attributes that
live in the stored instance metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from django.core.exceptions import BadRequest
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import HttpResponse

from reading.audit.models import AuditAction
from reading.studies.access import get_series_for_user, get_study_for_user, studies_for_user
from reading.studies.dicomio import parse_dicom_date, parse_dicom_time
from reading.studies.dicomweb.common import (
    audit,
    dicom_json_response,
    dicomweb_view,
    instance_url,
    series_url,
    service_root,
    study_url,
)
from reading.studies.dicomweb.dicomjson import element, keyword, resolve_bulk, tag_hex
from reading.studies.models import Instance, Series, Study
from reading.studies.prepared import PreparedQuery, q_shape, q_with_values

STUDY, SERIES, INSTANCE = "study", "series", "instance"
CONTROL_PARAMS = {"limit", "offset", "includefield", "fuzzymatching"}
MAX_INT_PARAM = 2**31 - 1  # larger values overflow the database's integers (a 500)
ONLINE = "ONLINE"
UTF8 = "ISO_IR 192"


@dataclass(frozen=True)
class Attr:
    """A searchable attribute: where it lives on its level's model and how it matches."""

    path: str
    kind: str  # text, itext, pn, uid, cs, date, time, int, modalities, computed


STUDY_ATTRS: dict[str, Attr] = {
    # A study answers the Patient module its own instances carry (see Study.patient_name).
    "PatientName": Attr("patient_name", "pn"),
    "PatientID": Attr("patient__patient_id", "text"),
    "IssuerOfPatientID": Attr("patient__issuer_of_patient_id", "text"),
    "PatientBirthDate": Attr("patient_birth_date", "date"),
    "PatientSex": Attr("patient_sex", "cs"),
    "StudyInstanceUID": Attr("study_instance_uid", "uid"),
    "StudyDate": Attr("study_date", "date"),
    "StudyTime": Attr("study_time", "time"),
    "AccessionNumber": Attr("accession_number", "text"),
    "StudyID": Attr("study_id", "text"),
    "StudyDescription": Attr("study_description", "itext"),
    "ReferringPhysicianName": Attr("referring_physician_name", "pn"),
    "ModalitiesInStudy": Attr("pk", "modalities"),
    "NumberOfStudyRelatedSeries": Attr("number_of_study_related_series", "int"),
    "NumberOfStudyRelatedInstances": Attr("number_of_study_related_instances", "int"),
}
SERIES_ATTRS: dict[str, Attr] = {
    "SeriesInstanceUID": Attr("series_instance_uid", "uid"),
    "Modality": Attr("modality", "cs"),
    "SeriesNumber": Attr("series_number", "int"),
    "SeriesDescription": Attr("series_description", "itext"),
    "BodyPartExamined": Attr("body_part_examined", "cs"),
    "SeriesDate": Attr("series_date", "date"),
    "FrameOfReferenceUID": Attr("frame_of_reference_uid", "uid"),
    "NumberOfSeriesRelatedInstances": Attr("number_of_series_related_instances", "int"),
}
INSTANCE_ATTRS: dict[str, Attr] = {
    "SOPInstanceUID": Attr("sop_instance_uid", "uid"),
    "SOPClassUID": Attr("sop_class_uid", "uid"),
    "InstanceNumber": Attr("instance_number", "int"),
    "Rows": Attr("rows", "int"),
    "Columns": Attr("columns", "int"),
    "BitsAllocated": Attr("bits_allocated", "int"),
    "NumberOfFrames": Attr("number_of_frames", "int"),
    "PhotometricInterpretation": Attr("photometric_interpretation", "cs"),
    "AvailableTransferSyntaxUID": Attr("transfer_syntax_uid", "uid"),
}
COMPUTED = {"SpecificCharacterSet", "RetrieveURL", "InstanceAvailability"}

# PS3.18 Tables 10.6.3-3 (study), 10.6.3-4 (series), 10.6.3-5 (instance).
STUDY_RETURN = [
    "SpecificCharacterSet",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "InstanceAvailability",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "RetrieveURL",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
    "StudyDescription",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
]
SERIES_RETURN = [
    "SpecificCharacterSet",
    "Modality",
    "SeriesDescription",
    "RetrieveURL",
    "SeriesInstanceUID",
    "SeriesNumber",
    "BodyPartExamined",
    "SeriesDate",
    "NumberOfSeriesRelatedInstances",
    "StudyInstanceUID",
]
INSTANCE_RETURN = [
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceAvailability",
    "RetrieveURL",
    "InstanceNumber",
    "Rows",
    "Columns",
    "BitsAllocated",
    "NumberOfFrames",
    "StudyInstanceUID",
    "SeriesInstanceUID",
]
# With includefield=all at study/series level: these are taken from one stored
# instance of each match when the archive does not index them (PS3.3 C.7.1.1,
# C.7.2.1, C.7.2.2, C.7.3.1, C.7.5.1, C.7.4.1).
STUDY_ALL_EXTRA = [
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "OtherPatientIDs",
    "PatientComments",
    "InstitutionName",
    "IssuerOfPatientID",
    "ProcedureCodeSequence",
    "NameOfPhysiciansReadingStudy",
    "AdmittingDiagnosesDescription",
    "StudyComments",
]
SERIES_ALL_EXTRA = [
    "SeriesTime",
    "Laterality",
    "ProtocolName",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepDescription",
    "PatientPosition",
    "Manufacturer",
    "ManufacturerModelName",
    "StationName",
    "InstitutionName",
    "FrameOfReferenceUID",
    "RequestAttributesSequence",
]


def _prefixed(attrs: dict[str, Attr], prefix: str) -> dict[str, Attr]:
    return {k: Attr(prefix + a.path, a.kind) for k, a in attrs.items()}


LEVEL_ATTRS = {
    STUDY: STUDY_ATTRS,
    SERIES: {**SERIES_ATTRS, **_prefixed(STUDY_ATTRS, "study__")},
    INSTANCE: {
        **INSTANCE_ATTRS,
        **_prefixed(SERIES_ATTRS, "series__"),
        **_prefixed(STUDY_ATTRS, "series__study__"),
    },
}
KEYWORD_BY_TAG = {
    tag_hex(kw): kw for attrs in LEVEL_ATTRS.values() for kw in attrs if tag_hex(kw)
} | {tag_hex(kw): kw for kw in COMPUTED}


# -- matching -----------------------------------------------------------------


def _values(raw_values: list[str]) -> list[str]:
    out = []
    for raw in raw_values:
        out += [v.strip() for v in re.split(r"[,\\]", raw) if v.strip()]
    return out


def _wildcard_q(path: str, value: str, insensitive: bool) -> Q:
    if "*" not in value and "?" not in value:
        return Q(**{f"{path}__{'iexact' if insensitive else 'exact'}": value})
    if value.strip("*") == "":
        return Q()  # universal match
    body = value.rstrip("*")
    if "*" not in body and "?" not in body:  # a prefix: can use the index
        return Q(**{f"{path}__{'istartswith' if insensitive else 'startswith'}": body})
    pattern = "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return Q(**{f"{path}__{'iregex' if insensitive else 'regex'}": pattern + "$"})


def _range_q(path: str, value: str, parse, label: str) -> Q:
    start, sep, end = value.partition("-")
    if not sep:
        parsed = parse(value)
        if parsed is None:
            raise BadRequest(f"{label}: cannot read {value!r}")
        return Q(**{path: parsed})
    q = Q()
    for bound, lookup in ((start, "gte"), (end, "lte")):
        if bound.strip():
            parsed = parse(bound)
            if parsed is None:
                raise BadRequest(f"{label}: cannot read the range bound {bound!r}")
            q &= Q(**{f"{path}__{lookup}": parsed})
    if not q:
        raise BadRequest(f"{label}: an empty range")
    return q


def _parse_date(text: str) -> date | None:
    return parse_dicom_date(text.strip())


def _parse_time(text: str) -> time | None:
    return parse_dicom_time(text.strip())


def match_q(name: str, attr: Attr, raw_values: list[str]) -> Q:
    values = _values(raw_values) if attr.kind in ("uid", "cs", "modalities") else raw_values
    values = [v for v in values if v.strip()]
    if not values:
        return Q()  # empty value: universal match (PS3.4 C.2.2.2.3)
    kind, path = attr.kind, attr.path
    if kind == "uid":
        return Q(**{f"{path}__in": values})
    if kind == "modalities":
        outer = {"pk": "pk", "study__pk": "study_id", "series__study__pk": "series__study_id"}
        return Q(Exists(Series.objects.filter(study_id=OuterRef(outer[path]), modality__in=values)))
    if kind == "cs":
        q = Q()
        for value in values:
            q |= _wildcard_q(path, value, insensitive=False)
        return q
    value = values[-1]
    if kind == "date":
        return _range_q(path, value, _parse_date, name)
    if kind == "time":
        return _range_q(path, value, _parse_time, name)
    if kind == "int":
        try:
            return Q(**{path: int(value)})
        except ValueError:
            raise BadRequest(f"{name}: {value!r} is not an integer") from None
    return _wildcard_q(path, value, insensitive=kind in ("pn", "itext"))


@dataclass
class SearchRequest:
    filters: Q
    matched: list[str]  # keywords used for matching (returned too)
    include: list[str]  # tags asked for with includefield
    include_all: bool
    limit: int | None
    offset: int
    warnings: list[str]


def _int_param(request, name: str, default: int | None) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a non-negative integer") from None
    if value < 0 or value > MAX_INT_PARAM:
        raise BadRequest(f"{name} must be an integer from 0 to {MAX_INT_PARAM}")
    return value


def parse_search(request, level: str) -> SearchRequest:
    """The query string of a QIDO-RS request (PS3.18 8.3.4) as filters on ``level``."""
    attrs = LEVEL_ATTRS[level]
    filters = Q()
    matched, include, warnings = [], [], []
    include_all = False
    for raw in request.GET.getlist("includefield"):
        for item in _values([raw]):
            if item.lower() == "all":
                include_all = True
                continue
            tag = tag_hex(item)
            if tag is None:
                raise BadRequest(f"includefield: unknown attribute {item!r}")
            include.append(tag)
    if request.GET.get("fuzzymatching", "").lower() == "true":
        warnings.append("299 ReadingRoom: fuzzymatching is not supported; literal matching used")
    for key in request.GET:
        if key in CONTROL_PARAMS:
            continue
        tag = tag_hex(key)
        if tag is None:
            raise BadRequest(f"unknown query parameter {key!r}")
        name = KEYWORD_BY_TAG.get(tag, keyword(tag))
        attr = attrs.get(name)
        if attr is None:
            warnings.append(f"299 ReadingRoom: {name} is not supported for matching; ignored")
            continue
        filters &= match_q(name, attr, request.GET.getlist(key))
        matched.append(name)
    return SearchRequest(
        filters=filters,
        matched=matched,
        include=include,
        include_all=include_all,
        limit=_int_param(request, "limit", None),
        offset=_int_param(request, "offset", 0) or 0,
        warnings=warnings,
    )


# -- answers ------------------------------------------------------------------


def _get(obj, path: str):
    for part in path.split("__"):
        obj = getattr(obj, part)
        if obj is None:
            return None
    return obj


def attribute_value(level: str, obj, name: str, root: str):
    """The value of attribute ``name`` for one match at ``level``."""
    if name == "SpecificCharacterSet":
        return UTF8
    if name == "InstanceAvailability":
        return ONLINE
    if name == "RetrieveURL":
        if level == STUDY:
            return study_url(root, obj.study_instance_uid)
        if level == SERIES:
            return series_url(root, obj.study.study_instance_uid, obj.series_instance_uid)
        series = obj.series
        return instance_url(
            root, series.study.study_instance_uid, series.series_instance_uid, obj.sop_instance_uid
        )
    attr = LEVEL_ATTRS[level][name]
    if attr.kind == "modalities":
        study = obj if level == STUDY else _get(obj, attr.path[: -len("__pk")])
        return study.modalities
    return _get(obj, attr.path)


def level_queryset(level: str, scope) -> QuerySet:
    if level == STUDY:
        return scope.select_related("patient").order_by("-study_date", "-study_time", "pk")
    if level == SERIES:
        return (
            Series.objects.filter(scope)
            .select_related("study__patient")
            .order_by("-study__study_date", "study_id", "series_number", "pk")
        )
    return (
        Instance.objects.filter(scope)
        .select_related("series__study__patient")
        .order_by("series__study_id", "series__series_number", "series_id", "instance_number", "pk")
    )


def representative_metadata(level: str, objects: list) -> dict[int, dict]:
    """One stored instance's metadata per study/series, in a single query."""
    if not objects:
        return {}
    field = "series__study" if level == STUDY else "series"
    model = Study if level == STUDY else Series
    first = Instance.objects.filter(**{field: OuterRef("pk")}).order_by("instance_number", "pk")
    pairs = model.objects.filter(pk__in=[o.pk for o in objects]).annotate(
        first_instance=Subquery(first.values("pk")[:1])
    )
    rows = Instance.objects.filter(pk__in=Subquery(pairs.values("first_instance"))).values_list(
        field, "metadata"
    )
    return dict(rows)


# Conditions whose value goes into the SQL unchanged (exact text and UID matches):
# searches made only of these are compiled once per shape (``reading.studies.prepared``).
EXACT_LEAVES = {
    level: {
        f"{a.path}{suffix}"
        for a in attrs.values()
        if a.kind in ("text", "uid", "cs")
        for suffix in ("", "__exact", "__in")
    }
    for level, attrs in LEVEL_ATTRS.items()
}
_searches = PreparedQuery()


def _matches(level, scope, query: SearchRequest, needs_metadata: bool, prepared_as) -> list:
    """The matches of a search; compiled once per shape when ``prepared_as`` names the
    scope (one that is the same query for every user it is given to)."""

    def build(filters: Q):
        qs = level_queryset(level, scope).filter(filters)
        if level == INSTANCE and not needs_metadata:
            qs = qs.defer("metadata", "frame_offsets")
        end = query.offset + query.limit if query.limit is not None else None
        return qs[query.offset : end]

    values: list[str] = []
    shape = q_shape(query.filters, EXACT_LEAVES[level], values) if prepared_as is not None else None
    if shape is not None:
        key = (level, prepared_as, shape, needs_metadata, query.offset, query.limit)
        rows = _searches.fetch(
            key, lambda *v: build(q_with_values(query.filters, iter(v))), tuple(values)
        )
        if rows is not None:
            return rows
    return list(build(query.filters))


def search(request, level: str, scope, *, study=None, prepared_as=None) -> HttpResponse:
    """Run a QIDO-RS search at ``level`` within ``scope`` and answer DICOM JSON."""
    query = parse_search(request, level)
    needs_metadata = level == INSTANCE and (
        query.include_all or any(KEYWORD_BY_TAG.get(t) is None for t in query.include)
    )
    matches = _matches(level, scope, query, needs_metadata, prepared_as)

    base = {STUDY: STUDY_RETURN, SERIES: SERIES_RETURN, INSTANCE: INSTANCE_RETURN}[level]
    names = list(dict.fromkeys(base + query.matched))
    if level == SERIES and study is None:
        names += [n for n in STUDY_RETURN if n not in names and n != "RetrieveURL"]
    if level == INSTANCE:
        extra = SERIES_RETURN + (STUDY_RETURN if study is None else [])
        names += [n for n in extra if n not in names and n != "RetrieveURL"]
    extra_tags = [t for t in query.include if KEYWORD_BY_TAG.get(t) not in LEVEL_ATTRS[level]]
    for tag in query.include:
        name = KEYWORD_BY_TAG.get(tag)
        if name in LEVEL_ATTRS[level] and name not in names:
            names.append(name)
    if query.include_all and level != INSTANCE:
        names += [n for n in LEVEL_ATTRS[level] if n not in names]
        extra_tags += [
            tag_hex(n) for n in (STUDY_ALL_EXTRA if level == STUDY else SERIES_ALL_EXTRA)
        ]
    stored = {}
    if level != INSTANCE and extra_tags:
        stored = representative_metadata(level, matches)

    root = service_root(request)
    results = []
    for obj in matches:
        item = {
            tag_hex(name): element(tag_hex(name), attribute_value(level, obj, name, root))
            for name in names
        }
        if level == INSTANCE and needs_metadata:
            url = attribute_value(level, obj, "RetrieveURL", root)
            metadata = resolve_bulk(obj.metadata, url)
            wanted = metadata.keys() if query.include_all else extra_tags
            for tag in wanted:
                if tag in metadata and tag not in item:
                    item[tag] = metadata[tag]
        elif extra_tags:
            metadata = stored.get(obj.pk, {})
            for tag in extra_tags:
                # Bulk data belongs to instances, not to a study or series answer.
                if tag in metadata and tag not in item and "BulkDataURI" not in metadata[tag]:
                    item[tag] = metadata[tag]
        results.append(dict(sorted(item.items())))

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
