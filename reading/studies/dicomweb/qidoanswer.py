"""The DICOM JSON answer of a QIDO-RS search (PS3.18 10.6.3, F.2).

Which attributes each match returns (the standard's defaults, the matched
ones, ``includefield``) and their values: from the indexed columns, computed
(``RetrieveURL``, ...) or taken from the stored instance metadata.
"""

from __future__ import annotations

from reading.studies.dicomweb.common import instance_url, series_url, study_url
from reading.studies.dicomweb.dicomjson import element, resolve_bulk, tag_hex
from reading.studies.dicomweb.qidomatch import (
    INSTANCE,
    KEYWORD_BY_TAG,
    LEVEL_ATTRS,
    SERIES,
    STUDY,
    SearchRequest,
)
from reading.studies.dicomweb.qidoquery import representative_metadata

ONLINE = "ONLINE"
UTF8 = "ISO_IR 192"

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


def needs_instance_metadata(level: str, query: SearchRequest) -> bool:
    """Whether instance answers take attributes from the stored metadata (not indexed)."""
    return level == INSTANCE and (
        query.include_all or any(KEYWORD_BY_TAG.get(t) is None for t in query.include)
    )


def return_attributes(level: str, query: SearchRequest, study) -> tuple[list[str], list[str]]:
    """The indexed attributes (keywords) and the stored ones (tags) each match returns;
    ``study`` is the study the search is limited to, if any."""
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
    return names, extra_tags


def dicom_json(level: str, matches: list, query: SearchRequest, *, study, root: str) -> list[dict]:
    """The matches as DICOM JSON objects, tags in order."""
    names, extra_tags = return_attributes(level, query, study)
    needs_metadata = needs_instance_metadata(level, query)
    stored = {}
    if level != INSTANCE and extra_tags:
        stored = representative_metadata(level, matches)
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
    return results
