"""Query/Retrieve SCP (PS3.4 Annex C): C-FIND, C-MOVE and C-GET over the archive.

Patient Root and Study Root information models, at patient (patient root
only), study, series and image level. Matching is QIDO-RS's (PS3.4 C.2.2.2,
``dicomweb.qidomatch``): one set of rules for both protocols.

Q/R answers a DICOM node, not a user: there is no per-user scoping here.
Which nodes may ask is decided by ``DICOM_ALLOWED_PEERS`` (``dimse.PeerPolicy``);
every query and retrieval is written to the audit trail with the peer's AE
title and address.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q, QuerySet
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.studies import storage
from reading.studies.dicomweb.dicomjson import element, tag_hex
from reading.studies.dicomweb.qidoanswer import attribute_value
from reading.studies.dicomweb.qidomatch import INSTANCE, LEVEL_ATTRS, SERIES, STUDY, Attr, match_q
from reading.studies.dicomweb.qidoquery import level_queryset, representative_metadata
from reading.studies.models import Instance, Patient, Study

log = logging.getLogger(__name__)

QR_FIND = (PatientRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelFind)
QR_MOVE = (PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelMove)
QR_GET = (PatientRootQueryRetrieveInformationModelGet, StudyRootQueryRetrieveInformationModelGet)
PATIENT_ROOT = {str(c) for c in (QR_FIND[0], QR_MOVE[0], QR_GET[0])}

# C-FIND / C-MOVE / C-GET statuses (PS3.4 C.4.1.1.4, C.4.2.1.5, C.4.3.1.4).
PENDING = 0xFF00
CANCEL = 0xFE00
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC000
MOVE_DESTINATION_UNKNOWN = 0xA801

PATIENT = "PATIENT"
LEVELS = {PATIENT: PATIENT, "STUDY": STUDY, "SERIES": SERIES, "IMAGE": INSTANCE}
UNIQUE_KEY = {
    PATIENT: "PatientID",
    STUDY: "StudyInstanceUID",
    SERIES: "SeriesInstanceUID",
    INSTANCE: "SOPInstanceUID",
}
PATIENT_ATTRS: dict[str, Attr] = {
    "PatientName": Attr("patient_name", "pn"),
    "PatientID": Attr("patient_id", "text"),
    "IssuerOfPatientID": Attr("issuer_of_patient_id", "text"),
    "PatientBirthDate": Attr("patient_birth_date", "date"),
    "PatientSex": Attr("patient_sex", "cs"),
}
CONTROL_KEYS = {"QueryRetrieveLevel", "SpecificCharacterSet", "RetrieveAETitle"}
# Native syntaxes a destination may pick for an instance stored in either (PS3.5 A.1, A.2).
NATIVE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


class QueryError(Exception):
    """A request the SCP cannot answer; ``status`` is the DIMSE failure status."""

    def __init__(self, status: int, comment: str):
        super().__init__(comment)
        self.status = status


@dataclass
class Query:
    level: str
    filters: Q
    keys: list  # the identifier's top-level elements, in order


def _text(elem) -> str:
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _attrs(level: str) -> dict[str, Attr]:
    return PATIENT_ATTRS if level == PATIENT else LEVEL_ATTRS[level]


def parse_identifier(identifier: Dataset, sop_class: str) -> Query:
    """The query of a C-FIND/C-MOVE/C-GET identifier (PS3.4 C.4.1.2.1, C.2.2.2)."""
    raw_level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    level = LEVELS.get(raw_level)
    if level is None or (level == PATIENT and str(sop_class) not in PATIENT_ROOT):
        raise QueryError(IDENTIFIER_DOES_NOT_MATCH, f"unsupported level {raw_level!r}")
    attrs = _attrs(level)
    filters = Q()
    keys = []
    for elem in identifier:
        if elem.keyword in CONTROL_KEYS or not elem.keyword:
            continue
        keys.append(elem)
        if elem.VR == "SQ":
            continue  # sequence matching is not supported; returned as stored
        attr = attrs.get(elem.keyword)
        text = _text(elem)
        if attr is not None and text:
            try:
                filters &= match_q(elem.keyword, attr, [text])
            except Exception as exc:  # BadRequest from the matching rules
                raise QueryError(IDENTIFIER_DOES_NOT_MATCH, str(exc)) from None
    return Query(level, filters, keys)


def _matches(query: Query) -> QuerySet:
    if query.level == PATIENT:
        return Patient.objects.filter(query.filters).order_by("patient_id", "pk")
    scope = Study.objects.all() if query.level == STUDY else Q()
    return level_queryset(query.level, scope).filter(query.filters)


def _answer(query: Query, obj, metadata: dict, ae_title: str) -> Dataset:
    """One C-FIND response identifier: the keys asked for, filled (PS3.4 C.4.1.2.2)."""
    attrs = _attrs(query.level)
    unique = UNIQUE_KEY[query.level]
    wanted = [(f"{e.tag:08X}", e.keyword, e.VR) for e in query.keys]
    if unique not in {kw for _, kw, _ in wanted}:
        wanted.append((tag_hex(unique) or "", unique, ""))
    payload = {}
    for tag, keyword, vr in wanted:
        if keyword in attrs:
            value = (
                getattr(obj, attrs[keyword].path)
                if query.level == PATIENT
                else attribute_value(query.level, obj, keyword, "")
            )
            payload[tag] = element(tag, value)
        elif tag in metadata and "BulkDataURI" not in metadata[tag]:
            payload[tag] = metadata[tag]
        else:
            payload[tag] = {"vr": vr or element(tag, None)["vr"]}
    ds = Dataset.from_json(payload)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.QueryRetrieveLevel = next(k for k, v in LEVELS.items() if v == query.level)
    ds.RetrieveAETitle = ae_title
    return ds


def find(identifier: Dataset, sop_class: str, ae_title: str) -> Iterator[Dataset]:
    """The response identifiers of a C-FIND, best first."""
    query = parse_identifier(identifier, sop_class)
    matches = list(_matches(query))
    attrs = _attrs(query.level)
    needs_metadata = any(e.keyword not in attrs for e in query.keys)
    metadata: dict = {}
    if needs_metadata and query.level in (STUDY, SERIES):
        metadata = representative_metadata(query.level, matches)
    for obj in matches:
        stored = obj.metadata if query.level == INSTANCE else metadata.get(obj.pk, {})
        yield _answer(query, obj, stored if needs_metadata else {}, ae_title)


def instances_to_retrieve(identifier: Dataset, sop_class: str) -> list[Instance]:
    """The instances a C-MOVE/C-GET names: the level's unique key must be given (C.4.2.2.1)."""
    query = parse_identifier(identifier, sop_class)
    unique = identifier.get(UNIQUE_KEY[query.level])
    if unique is None or not _text(identifier[UNIQUE_KEY[query.level]]):
        raise QueryError(
            IDENTIFIER_DOES_NOT_MATCH, f"a retrieve at this level needs {UNIQUE_KEY[query.level]}"
        )
    filters = Q()
    for elem in query.keys:
        attr = LEVEL_ATTRS[INSTANCE].get(elem.keyword)
        text = _text(elem)
        if attr is not None and text and elem.VR != "SQ":
            filters &= match_q(elem.keyword, attr, [text])
    return list(
        Instance.objects.filter(filters)
        .select_related("series__study__patient")
        .defer("metadata", "frame_offsets")
        .order_by("series__study_id", "series_id", "instance_number", "pk")
    )


def contexts_for(instances: list[Instance]) -> list:
    """Presentation contexts for sending ``instances`` (at most 128, PS3.8 9.3.2.2)."""
    syntaxes: dict[str, set[str]] = {}
    for inst in instances:
        syntaxes.setdefault(inst.sop_class_uid, set()).add(inst.transfer_syntax_uid)
    contexts = []
    for sop_class, stored in syntaxes.items():
        native = [s for s in stored if not UID(s).is_compressed]
        if native:
            contexts.append(build_context(sop_class, list(NATIVE)))
        for syntax in sorted(set(stored) - set(native)):
            contexts.append(build_context(sop_class, [syntax]))
    return contexts[:128]


def move_destinations() -> dict[str, tuple[str, int]]:
    """``DICOM_MOVE_DESTINATIONS`` ("AE=host:port,...") as {AE: (host, port)}."""
    out = {}
    for entry in settings.DICOM_MOVE_DESTINATIONS:
        ae, _, address = entry.partition("=")
        host, _, port = address.rpartition(":")
        if ae.strip() and host and port.isdigit():
            out[ae.strip()] = (host.strip("[]"), int(port))
    return out


def _peer(event) -> str:
    requestor = event.assoc.requestor
    return f"{requestor.ae_title.strip()}@{requestor.address}"


def _audit(action: str, studies: set[int], detail: str) -> None:
    try:
        if not studies:
            record_access(None, action, detail=detail[:512])
        for study in Study.objects.select_related("patient").filter(pk__in=studies):
            record_access(None, action, study=study, detail=detail[:512])
    except Exception:
        log.exception("audit of a Q/R request failed")


def _failure(status: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]
    return ds


def handle_find(event, ae_title: str):
    """EVT_C_FIND: yields (status, identifier) pairs (pynetdicom's protocol)."""
    close_old_connections()
    try:
        answers = list(find(event.identifier, event.request.AffectedSOPClassUID, ae_title))
    except QueryError as exc:
        yield _failure(exc.status, str(exc)), None
        return
    except Exception as exc:
        log.exception("C-FIND from %s failed", _peer(event))
        yield _failure(UNABLE_TO_PROCESS, f"unable to process: {type(exc).__name__}"), None
        return
    level = str(event.identifier.get("QueryRetrieveLevel", ""))
    _audit(AuditAction.SEARCH, set(), f"c-find:{_peer(event)} {level} {len(answers)} matches")
    for answer in answers:
        if event.is_cancelled:
            yield CANCEL, None
            return
        yield PENDING, answer


def _retrieval(event) -> list[Instance] | Dataset:
    close_old_connections()
    try:
        return instances_to_retrieve(event.identifier, event.request.AffectedSOPClassUID)
    except QueryError as exc:
        return _failure(exc.status, str(exc))
    except Exception as exc:
        log.exception("retrieve from %s failed", _peer(event))
        return _failure(UNABLE_TO_PROCESS, f"unable to process: {type(exc).__name__}")


def _send(event, instances: list[Instance], kind: str):
    studies = {inst.series.study_id for inst in instances}
    _audit(AuditAction.RETRIEVE, studies, f"{kind}:{_peer(event)} {len(instances)} instances")
    for inst in instances:
        if event.is_cancelled:
            yield CANCEL, None
            return
        yield PENDING, dcmread(storage.absolute(inst.file_path))


def handle_move(event):
    """EVT_C_MOVE: destination, number of sub-operations, then (status, dataset) pairs."""
    name = event.move_destination
    name = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
    destination = move_destinations().get(name.strip())
    if destination is None:
        yield None, None  # pynetdicom answers 0xA801, Move Destination unknown
        return
    found = _retrieval(event)
    if isinstance(found, Dataset):
        yield destination
        yield 1
        yield found, None
        return
    yield (*destination, {"contexts": contexts_for(found)} if found else {})
    yield len(found)
    yield from _send(event, found, "c-move")


def handle_get(event):
    """EVT_C_GET: number of sub-operations, then (status, dataset) pairs on this association."""
    found = _retrieval(event)
    if isinstance(found, Dataset):
        yield 1
        yield found, None
        return
    yield len(found)
    yield from _send(event, found, "c-get")
