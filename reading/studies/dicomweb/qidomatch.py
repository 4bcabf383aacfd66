"""QIDO-RS search parameters (PS3.18 8.3.4) and the matching they ask for (PS3.4 C.2.2.2).

Which attributes each level can match on and where they live on its model;
single value matching (with ``*``/``?`` wildcards), UID lists, date/time
ranges, universal matching for empty values. Person names match
case-insensitively. The C-FIND provider (``reading.studies.qr``) matches by the
same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from django.core.exceptions import BadRequest
from django.db.models import Exists, OuterRef, Q

from reading.studies.dicomio import parse_dicom_date, parse_dicom_time
from reading.studies.dicomweb.dicomjson import keyword, tag_hex
from reading.studies.models import Series

STUDY, SERIES, INSTANCE = "study", "series", "instance"
CONTROL_PARAMS = {"limit", "offset", "includefield", "fuzzymatching"}
MAX_INT_PARAM = 2**31 - 1  # larger values overflow the database's integers (a 500)


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
