"""STOW-RS (PS3.18 10.5): store instances sent as multipart/related application/dicom.

The body is parsed part by part from the request stream and the parts go
through ``reading.studies.batch.ingest_items``, as every other ingest path's
files do: in batches whose files are synced together and whose rows are
written in one transaction, a refused part failing alone. The answer is the
Store Instances Response Module (PS3.18 10.5.3, Table 10.5.3-3), sent once
every instance it reports stored is on disk and committed.
"""

from __future__ import annotations

import io

import pydicom
from django.conf import settings

from reading.audit.models import AuditAction
from reading.studies.access import can_read_images, get_study_for_user
from reading.studies.batch import BatchItem, ingest_items
from reading.studies.dicomio import DATASET_DOES_NOT_MATCH
from reading.studies.dicomweb.common import (
    audit,
    dicom_json_response,
    dicomweb_view,
    error,
    instance_url,
    service_root,
    study_url,
)
from reading.studies.dicomweb.dicomjson import element
from reading.studies.dicomweb.media import (
    DICOM,
    MultipartError,
    UnsupportedMediaType,
    iter_multipart,
    parse_media_type,
)
from reading.studies.models import Study
from reading.studies.services import IngestResult, IngestStatus


def _boundary(request) -> str:
    media_type, params = parse_media_type(request.headers.get("Content-Type", ""))
    if media_type != "multipart/related":
        raise UnsupportedMediaType(
            'STOW-RS takes Content-Type: multipart/related; type="application/dicom"'
        )
    part_type = params.get("type", DICOM).lower()
    if part_type != DICOM:
        raise UnsupportedMediaType(f"parts of type {part_type!r} are not accepted; send {DICOM}")
    boundary = params.get("boundary", "")
    if not boundary:
        raise UnsupportedMediaType("the Content-Type has no boundary parameter")
    return boundary


def _referenced(result: IngestResult) -> dict:
    item = {}
    if result.sop_class_uid:
        item["00081150"] = element("00081150", result.sop_class_uid)
    if result.sop_instance_uid:
        item["00081155"] = element("00081155", result.sop_instance_uid)
    return item


def store(request, study_uid: str | None = None):
    if not can_read_images(request.user):
        return error(403, "Your role does not give access to patient images.")
    # Storing into an existing study needs access to it; a new study is fine.
    if study_uid is not None and Study.objects.filter(study_instance_uid=study_uid).exists():
        get_study_for_user(request.user, study_uid)
    boundary = _boundary(request)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.DICOM_MAX_UPLOAD_BYTES:
        return error(413, f"the body is over the {settings.DICOM_MAX_UPLOAD_BYTES}-byte limit")

    results: list[IngestResult] = []
    try:
        results += _store_parts(request, boundary, study_uid)
    except MultipartError as exc:
        return error(400, str(exc))
    if not results:
        return error(400, "the multipart body holds no parts")
    return _answer(request, results, study_uid)


def _store_parts(request, boundary: str, study_uid: str | None) -> list[IngestResult]:
    parts = iter_multipart(request.read, boundary, max_part_bytes=settings.DICOM_MAX_INSTANCE_BYTES)
    return ingest_items(
        _batch_item(part, f"part {index}", study_uid) for index, part in enumerate(parts, start=1)
    ).results


def _batch_item(part, name: str, study_uid: str | None) -> BatchItem:
    refusal = _refused_part(part, name, study_uid)
    return BatchItem(name, None if refusal else part.payload, refusal=refusal)


def _answer(request, results: list[IngestResult], study_uid: str | None):
    root = service_root(request)
    referenced, failed = [], []
    stored_studies: set[str] = set()
    for result in results:
        if result.ok:
            item = _referenced(result)
            item["00081190"] = element(
                "00081190",
                instance_url(
                    root,
                    result.study_instance_uid,
                    result.series_instance_uid,
                    result.sop_instance_uid,
                ),
            )
            referenced.append(item)
            stored_studies.add(result.study_instance_uid)
        else:
            item = _referenced(result)
            item["00081197"] = element("00081197", result.dicom_status)
            failed.append(item)

    payload: dict = {}
    retrieve_study = study_uid or (next(iter(stored_studies)) if len(stored_studies) == 1 else "")
    if retrieve_study:
        payload["00081190"] = element("00081190", study_url(root, retrieve_study))
    if failed:
        payload["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        payload["00081199"] = {"vr": "SQ", "Value": referenced}

    for uid in sorted(stored_studies):
        study = Study.objects.select_related("patient").filter(study_instance_uid=uid).first()
        if study is not None:
            count = sum(1 for r in results if r.ok and r.study_instance_uid == uid)
            audit(request, AuditAction.STORE, study=study, detail=f"stow-rs:{count}-instances")
    # PS3.18 10.5.3.1: 200 all stored, 202 some failed, 409 none stored.
    status = 409 if not referenced else 202 if failed else 200
    warning = ""
    if failed:
        # PS3.18 10.5.3.1: a response with failures carries a Warning header field.
        warning = (
            f"299 ReadingRoom: {len(failed)} of {len(results)} instances were not stored; "
            "see Failed SOP Sequence (0008,1198)"
        )
    return dicom_json_response(payload, status=status, Warning=warning)


def _refused_part(part, name: str, study_uid: str | None) -> IngestResult | None:
    """The failure of a part refused before its ingest; None for a part to ingest."""
    if part.oversized:
        limit = settings.DICOM_MAX_INSTANCE_BYTES
        return IngestResult(
            status=IngestStatus.FAILED, name=name, reason=f"too large: over the {limit}-byte limit"
        )
    if not part.complete:
        return IngestResult(
            status=IngestStatus.FAILED, name=name, reason="truncated: the body ended inside it"
        )
    content_type = part.content_type
    if content_type and parse_media_type(content_type)[0] != DICOM:
        return IngestResult(
            status=IngestStatus.FAILED,
            name=name,
            reason=f"not DICOM: a {content_type} part in an application/dicom request",
        )
    if study_uid is not None:
        return _wrong_study(part.payload, name, study_uid)
    return None


def _wrong_study(raw: bytes, name: str, study_uid: str) -> IngestResult | None:
    """A failure for an instance of another study than the URL's (PS3.18 10.5.1)."""
    try:
        ds = pydicom.dcmread(
            io.BytesIO(raw),
            stop_before_pixels=True,
            specific_tags=["StudyInstanceUID", "SOPInstanceUID", "SOPClassUID"],
        )
        uid = str(ds.StudyInstanceUID)
    except Exception:
        return None  # ingest_instance says what is wrong with it
    if uid == study_uid:
        return None
    return IngestResult(
        status=IngestStatus.FAILED,
        name=name,
        reason=f"study instance uid {uid} is not the study in the URL",
        failure_status=DATASET_DOES_NOT_MATCH,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        sop_class_uid=str(ds.get("SOPClassUID", "")),
    )


@dicomweb_view(methods=("GET", "POST"))
def studies_root(request):
    """``/studies``: QIDO-RS search on GET, STOW-RS on POST."""
    if request.method == "POST":
        return store(request)
    from reading.studies.dicomweb.qido import search_studies

    return search_studies.__wrapped__(request)


@dicomweb_view(methods=("GET", "POST"))
def study_root(request, study_uid):
    """``/studies/{uid}``: WADO-RS retrieve on GET, STOW-RS into that study on POST."""
    if request.method == "POST":
        return store(request, study_uid)
    from reading.studies.dicomweb.wado import retrieve_study

    return retrieve_study.__wrapped__(request, study_uid)
