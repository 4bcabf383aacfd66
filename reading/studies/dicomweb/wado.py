"""WADO-RS retrieval (PS3.18 10.4): instances, metadata, frames and bulk data.

Instances are streamed from disk exactly as received. Frames are read by seek
+ read: native frames from the stored pixel data offset, compressed frames
from their recorded fragment positions, passed through in their own transfer
syntax unless the client asks for uncompressed ones.
"""

from __future__ import annotations

import io

import pydicom
from django.http import Http404, HttpResponse

from reading.audit.models import AuditAction
from reading.studies import storage
from reading.studies.access import (
    get_instance_for_user,
    get_series_for_user,
    get_study_for_user,
)
from reading.studies.dicomweb.common import (
    audit,
    dicomweb_view,
    service_root,
)
from reading.studies.dicomweb.frames import (
    FrameSource,
    frame_numbers,
    frames_response,
    instance_for_user,
    pixel_data_chunks,
    plan_frames,
    series_frame_sources,
    sop_uid_list,
)
from reading.studies.dicomweb.media import (
    DICOM,
    EXPLICIT_VR_LE,
    NATIVE_SYNTAXES,
    OCTET_STREAM,
    NotAcceptable,
    multipart_body,
    multipart_content_type,
    new_boundary,
    parse_accept,
)
from reading.studies.dicomweb.streaming import (
    StoredFile,
    file_chunks,
    multipart_chunks,
    multipart_length,
    streaming_response,
)
from reading.studies.models import Instance

PIXEL_DATA_TAGS = {"7FE00010", "7FE00008", "7FE00009"}
TRANSCODED_WARNING = "299 ReadingRoom: instances transcoded from their stored transfer syntax"


# -- instances (application/dicom) ----------------------------------------------


def negotiate_dicom(request, syntaxes: set[str], single: bool) -> tuple[bool, str | None]:
    """Check the Accept header against ``application/dicom`` (PS3.18 8.7.3).

    Stored instances go out in their own transfer syntax; a client that asks
    for Explicit VR Little Endian (the uncompressed default, PS3.18 8.7.3.5.2)
    gets instances stored otherwise transcoded by pydicom instead of a 406.
    Returns (bare single-part ``application/dicom`` chosen, syntax to transcode
    to or None).
    """
    for entry in parse_accept(request.headers.get("Accept")):
        if not entry.matches(DICOM):
            continue
        if not entry.multipart and entry.media_type == DICOM and not single:
            continue
        bare = not entry.multipart and entry.media_type == DICOM
        if entry.transfer_syntax in (None, "*") or syntaxes == {entry.transfer_syntax}:
            return bare, None
        if entry.transfer_syntax == EXPLICIT_VR_LE:
            return bare, EXPLICIT_VR_LE
    raise NotAcceptable(
        "instances are served as stored, in " + ", ".join(sorted(syntaxes)) + ", or "
        f"transcoded to {EXPLICIT_VR_LE}; use "
        'Accept: multipart/related; type="application/dicom"; transfer-syntax=*'
    )


def transcoded(relpath: str, syntax: str) -> bytes:
    """The stored instance re-encoded in ``syntax`` (decoded by pydicom's pixel handlers).

    Raises
    ------
    NotAcceptable
        When the stored pixel data cannot be decoded here.
    """
    ds = pydicom.dcmread(storage.absolute(relpath))
    if str(ds.file_meta.TransferSyntaxUID) != syntax:
        try:
            if ds.file_meta.TransferSyntaxUID.is_compressed:
                ds.decompress()
            ds.file_meta.TransferSyntaxUID = syntax
        except Exception as exc:
            raise NotAcceptable(f"cannot transcode this instance to {syntax}: {exc}") from None
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _retrieve(request, instances: list[tuple[str, str, int]], study, single: bool = False):
    """Instances as stored (or transcoded), from rows of (file path, transfer syntax, size)."""
    if not instances:
        raise Http404("Nothing stored here.")
    bare, target = negotiate_dicom(request, {ts for _, ts, _ in instances}, single)
    if target is not None and bare:
        body = transcoded(instances[0][0], target)  # errors are a 406 before anything is sent
        audit(request, AuditAction.RETRIEVE, study=study, detail="instances transcoded")
        response = HttpResponse(body, content_type=f"{DICOM}; transfer-syntax={target}")
        response["Warning"] = TRANSCODED_WARNING
        return response
    audit(request, AuditAction.RETRIEVE, study=study, detail="instances")
    if bare:
        path, _, size = instances[0]
        return streaming_response(request, iter([StoredFile(path, size)]), DICOM, size, stored=True)
    boundary = new_boundary()
    content_type = multipart_content_type(DICOM, boundary)
    if target is None or all(ts == target for _, ts, _ in instances):
        # As stored: the length is known, and given, before anything is read.
        part_type = DICOM if target is None else f"{DICOM}; transfer-syntax={target}"
        parts = [(part_type, StoredFile(path, size)) for path, _, size in instances]
        length = multipart_length(boundary, [(part_type, size) for _, _, size in instances])
        chunks = multipart_chunks(boundary, parts)
        return streaming_response(request, chunks, content_type, length, stored=True)
    part_type = f"{DICOM}; transfer-syntax={target}"
    parts = [
        (part_type, lambda path=path, ts=ts: _as(path, ts, target)) for path, ts, _ in instances
    ]
    response = streaming_response(request, multipart_chunks(boundary, parts), content_type)
    response["Warning"] = TRANSCODED_WARNING
    return response


def _as(relpath: str, stored: str, target: str):
    if stored == target:
        yield from file_chunks(relpath)
    else:
        yield transcoded(relpath, target)


def _instance_rows(**filters) -> list[tuple[str, str, int]]:
    return list(
        Instance.objects.filter(**filters)
        .order_by("series__series_number", "series_id", "instance_number", "pk")
        .values_list("file_path", "transfer_syntax_uid", "file_size")
    )


@dicomweb_view()
def retrieve_study(request, study_uid):
    study = get_study_for_user(request.user, study_uid)
    return _retrieve(request, _instance_rows(series__study=study), study)


@dicomweb_view()
def retrieve_series(request, study_uid, series_uid):
    study = get_study_for_user(request.user, study_uid)
    series = get_series_for_user(request.user, study_uid, series_uid)
    return _retrieve(request, _instance_rows(series=series), study)


@dicomweb_view()
def retrieve_instance(request, study_uid, series_uid, sop_uid):
    instance = get_instance_for_user(request.user, study_uid, series_uid, sop_uid)
    rows = [(instance.file_path, instance.transfer_syntax_uid, instance.file_size)]
    return _retrieve(request, rows, instance.series.study, single=True)


# -- frames (application/octet-stream and compressed media types) ----------------


@dicomweb_view()
def retrieve_frames(request, study_uid, series_uid, sop_uid, frames):
    """WADO-RS frames (PS3.18 10.4.1.1.3).

    ``reading.studies.dicomweb.fastpath`` answers the same URL ahead of Django
    for requests it can serve from its caches, with the same functions; this
    view answers everything else (errors, decoding, cache misses it hands on).
    """
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid)
    study = instance.series.study
    source = FrameSource.of(instance)
    numbers = frame_numbers(source, frames)
    audit(request, AuditAction.RETRIEVE, study=study, detail="frames")
    return frames_response(request, source, numbers)


@dicomweb_view()
def retrieve_series_pixeldata(request, study_uid, series_uid):
    """Series Pixel Data (PS3.18 10.4.1.1.6): every frame of the series in one answer.

    A ``multipart/related`` body of bulk data parts (PS3.18 8.7.3.4), one per
    frame, in instance number order, each with its frame's URL in
    Content-Location. ``?SOPInstanceUID=uid1,uid2`` (UID list matching, PS3.18
    8.3.4.1) restricts it to those instances, in that order: the viewer fetches
    the frames nearest the slice in view a few instances per request. The
    representation is negotiated per instance as for frames; one that cannot be
    served as asked makes the whole request a 406, before anything is sent.
    """
    series = get_series_for_user(request.user, study_uid, series_uid)
    uids = sop_uid_list(request.GET.get("SOPInstanceUID"))
    sources = series_frame_sources(request.user, study_uid, series_uid, uids)
    if not sources:
        raise Http404("this series has no frames")
    accept = request.headers.get("Accept")
    # Bulk data resources are always multipart: plan as for a list of frames.
    planned = [(source, plan_frames(accept, source, 2)) for source in sources]
    audit(request, AuditAction.RETRIEVE, study=series.study, detail="pixeldata")
    boundary = new_boundary()
    chunks = pixel_data_chunks(boundary, service_root(request), planned)
    content_type = multipart_content_type(planned[0][1].media_type, boundary)
    return streaming_response(request, chunks, content_type)


# -- bulk data ------------------------------------------------------------------


def _bulk_element_bytes(instance: Instance, path: list[str]) -> bytes:
    """Raw value bytes of a (possibly nested) element, read by pydicom from the file."""
    ds = pydicom.dcmread(io.BytesIO(storage.read_all(instance.file_path)))
    try:
        for seq_tag, index in zip(path[:-1:2], path[1:-1:2], strict=True):
            ds = ds[int(seq_tag, 16)].value[int(index)]
        elem = ds.get_item(int(path[-1], 16))
    except (KeyError, IndexError, ValueError, TypeError):
        raise Http404("no such bulk data element") from None
    if elem is None:
        raise Http404("no such bulk data element")
    value = elem.value
    if isinstance(value, bytes):
        return value
    raise Http404("this element is not bulk data")


@dicomweb_view()
def retrieve_bulkdata(request, study_uid, series_uid, sop_uid, tag_path):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid)
    study = instance.series.study
    path = [p.upper() for p in tag_path.strip("/").split("/")]
    audit(request, AuditAction.RETRIEVE, study=study, detail="bulkdata")
    if len(path) == 1 and path[0] in PIXEL_DATA_TAGS:
        if instance.pixel_data_offset is None:
            raise Http404("this instance has no pixel data")
        numbers = list(range(1, instance.number_of_frames + 1))
        if instance.transfer_syntax_uid not in NATIVE_SYNTAXES:
            return frames_response(request, FrameSource.of(instance), numbers)
        payload = storage.read_range(
            instance.file_path, instance.pixel_data_offset, instance.pixel_data_length
        )
        content_type = f"{OCTET_STREAM}; transfer-syntax={EXPLICIT_VR_LE}"
    else:
        payload = _bulk_element_bytes(instance, path)
        content_type = OCTET_STREAM
    accept = parse_accept(request.headers.get("Accept"))
    if accept and not accept[0].multipart and accept[0].media_type == OCTET_STREAM:
        return HttpResponse(payload, content_type=content_type)
    boundary = new_boundary()
    return HttpResponse(
        multipart_body(boundary, [(content_type, payload)]),
        content_type=multipart_content_type(OCTET_STREAM, boundary),
    )
