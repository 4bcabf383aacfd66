"""WADO-RS frames (PS3.18 10.4.1.1.4): which frames, in which transfer syntax, read how.

The views in :mod:`wado` and the fast path (:mod:`fastpath`) share these.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydicom
from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from pydicom.encaps import generate_frames

from reading.studies import storage
from reading.studies.access import (
    get_instance_for_user,
    instances_for_user,
)
from reading.studies.dicomweb.dicomjson import first_value
from reading.studies.dicomweb.media import (
    BIG_ENDIAN,
    COMPRESSED_MEDIA_TYPES,
    DEFLATED_EXPLICIT_VR_LE,
    EXPLICIT_VR_LE,
    NATIVE_SYNTAXES,
    OCTET_STREAM,
    NotAcceptable,
    closing_delimiter,
    multipart_body,
    multipart_content_type,
    new_boundary,
    parse_accept,
    part_header,
)
from reading.studies.models import Instance


@dataclass
class FramePlan:
    """How frames of one instance go out: the part media type and syntax, decoded or not."""

    media_type: str
    transfer_syntax: str
    decode: bool
    multipart: bool = True

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; transfer-syntax={self.transfer_syntax}"


@dataclass(frozen=True)
class FrameSource:
    """Where the frames of one stored instance lie, and what reading them needs.

    A plain value taken from an ``Instance`` row (stored instances never change:
    a different content under the same SOP Instance UID is a conflict, not an
    update), so the frames fast path may keep it across requests.

    Parameters follow the Instance fields; ``samples_per_pixel`` is Samples per
    Pixel (0028,0002) and only matters for native syntaxes.
    """

    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    file_path: str
    transfer_syntax_uid: str
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    samples_per_pixel: int
    number_of_frames: int
    pixel_data_offset: int | None
    pixel_data_length: int | None
    frame_offsets: list | None

    @classmethod
    def of(cls, instance: Instance, *, pixels_only: bool = False) -> FrameSource:
        """From an Instance loaded with ``FRAME_FIELDS`` (series and study selected).

        ``pixels_only``: where the pixel data lies and no more, for rendering (no
        parents' UIDs: no query for the series or study; no frame offsets, which
        native frames do not need and rendering's queries defer).
        """
        native = instance.transfer_syntax_uid in NATIVE_SYNTAXES
        series = None if pixels_only else instance.series
        return cls(
            study_instance_uid=series.study.study_instance_uid if series else "",
            series_instance_uid=series.series_instance_uid if series else "",
            sop_instance_uid=instance.sop_instance_uid,
            file_path=instance.file_path,
            transfer_syntax_uid=instance.transfer_syntax_uid,
            rows=instance.rows,
            columns=instance.columns,
            bits_allocated=instance.bits_allocated,
            samples_per_pixel=samples_per_pixel(instance) if native and instance.rows else 1,
            number_of_frames=instance.number_of_frames,
            pixel_data_offset=instance.pixel_data_offset,
            pixel_data_length=instance.pixel_data_length,
            frame_offsets=None if pixels_only else instance.frame_offsets,
        )


def _native_readable(source: FrameSource) -> bool:
    """Native frames can be read straight from the file (little endian, byte aligned)."""
    return (
        source.transfer_syntax_uid in NATIVE_SYNTAXES - {BIG_ENDIAN, DEFLATED_EXPLICIT_VR_LE}
        and source.pixel_data_offset is not None
        and (source.bits_allocated or 8) % 8 == 0
    )


def negotiate_frames(accept: str | None, source: FrameSource, count: int) -> FramePlan:
    """Pick the representation of frames from the Accept header (PS3.18 8.7.3.5, 8.7.4).

    ``transfer-syntax=*`` (or ``*/*``) passes frames through in the stored
    syntax; ``application/octet-stream`` without a syntax means explicit VR
    little endian (the standard's default), decoded when stored compressed.
    """
    stored = source.transfer_syntax_uid
    compressed = stored not in NATIVE_SYNTAXES
    passthrough_syntax = stored if compressed else EXPLICIT_VR_LE
    native_from_file = _native_readable(source)
    for entry in parse_accept(accept):
        if not entry.multipart and count > 1 and entry.media_type not in ("*/*", "*"):
            continue
        multipart = entry.multipart or entry.media_type in ("*/*", "*")
        wanted = entry.transfer_syntax
        if entry.media_type in ("*/*", "*", OCTET_STREAM, "application/*"):
            if wanted is None and entry.media_type == OCTET_STREAM:
                wanted = EXPLICIT_VR_LE
            if wanted in (None, "*") or wanted == passthrough_syntax:
                decode = not compressed and not native_from_file
                return FramePlan(OCTET_STREAM, passthrough_syntax, decode, multipart)
            if wanted == EXPLICIT_VR_LE:
                return FramePlan(OCTET_STREAM, EXPLICIT_VR_LE, True, multipart)
            continue
        media_types = COMPRESSED_MEDIA_TYPES.get(stored, ())
        matching = [m for m in media_types if entry.matches(m)]
        if compressed and matching and wanted in (None, "*", stored):
            return FramePlan(matching[0], stored, False, entry.multipart)
    raise NotAcceptable(
        f"frames of this instance are available as {OCTET_STREAM} in {passthrough_syntax}"
        + (f" or {EXPLICIT_VR_LE}" if compressed else "")
    )


def parse_frame_list(text: str, number_of_frames: int) -> list[int]:
    """The distinct frame numbers of a frame list (PS3.18 8.3.4), first mention first.

    A number repeated is served once; more than ``DICOMWEB_MAX_FRAMES`` distinct
    frames (or a list many times that long) is a 400, so that no request builds
    an answer of unbounded size.
    """
    limit = settings.DICOMWEB_MAX_FRAMES
    if text.count(",") >= 4 * limit:
        raise BadRequest(f"frame list too long: at most {limit} frames per request")
    try:
        frames = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise BadRequest(f"bad frame list {text[:64]!r}") from None
    if not frames:
        raise BadRequest("empty frame list")
    if len(frames) > limit:
        raise BadRequest(f"frame list too long: {len(frames)} frames, at most {limit}")
    bad = [n for n in frames if n < 1 or n > number_of_frames]
    if bad:
        raise Http404(f"no frame {bad[0]}: the instance has {number_of_frames} frames")
    return frames


def frame_numbers(source: FrameSource, text: str) -> list[int]:
    """The frame list of a frames URL, checked against the instance (404 when it has none)."""
    if not source.rows:
        raise Http404("this instance has no frames")
    return parse_frame_list(text, source.number_of_frames)


def plan_frames(accept: str | None, source: FrameSource, count: int) -> FramePlan:
    """The negotiated representation; 404 when frames would be read but there is no pixel data."""
    plan = negotiate_frames(accept, source, count)
    if source.pixel_data_offset is None and not plan.decode:
        raise Http404("this instance has no pixel data")
    return plan


ONE_SAMPLE = {"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"}
THREE_SAMPLES = {"RGB", "YBR_FULL", "YBR_ICT", "YBR_RCT", "HSV"}


def samples_per_pixel(instance: Instance) -> int:
    """Samples per Pixel (0028,0002), from the indexed Photometric Interpretation when it says."""
    if instance.photometric_interpretation in ONE_SAMPLE:
        return 1
    if instance.photometric_interpretation in THREE_SAMPLES:
        return 3
    return int(first_value(instance.metadata, "SamplesPerPixel", 1) or 1)


FRAME_FIELDS = (
    "sop_instance_uid",
    "file_path",
    "transfer_syntax_uid",
    "rows",
    "columns",
    "bits_allocated",
    "number_of_frames",
    "pixel_data_offset",
    "pixel_data_length",
    "frame_offsets",
    "photometric_interpretation",
    "series__series_instance_uid",
    "series__study__study_instance_uid",
    "series__study__patient_name",  # the study's own, for the audit record
    "series__study__patient__patient_id",
    "series__study__patient__patient_name",
)


def instance_for_user(
    user, study_uid: str, series_uid: str, sop_uid: str, *, metadata: bool = False
) -> Instance:
    """``get_instance_for_user`` reading only the columns that frames and the audit need
    (and the indexed DICOM JSON with ``metadata``, for rendering).

    Compiling and loading four full rows costs more than the query itself on
    the hot per-frame path; other fields are deferred and load on access.
    """
    only = (*FRAME_FIELDS, "metadata") if metadata else FRAME_FIELDS
    return get_instance_for_user(user, study_uid, series_uid, sop_uid, only=only)


def frame_sources_for_user(user, study_uid: str, series_uid: str) -> dict[str, FrameSource]:
    """Every instance of a series as a FrameSource, by SOP Instance UID, in one query.

    For the frames fast path: a viewer that asks for one frame of a series asks
    for the others next. Raises PermissionDenied like ``studies_for_user``.
    """
    return {
        inst.sop_instance_uid: FrameSource.of(inst)
        for inst in instances_for_user(user, study_uid, series_uid).only(*FRAME_FIELDS)
    }


class FrameReader:
    """Reads frames of one stored instance without parsing the whole file."""

    def __init__(self, source: FrameSource):
        self.source = source

    def native(self, numbers: list[int]) -> list[bytes]:
        src = self.source
        size = src.rows * src.columns * src.samples_per_pixel * src.bits_allocated // 8
        with open(storage.absolute(src.file_path), "rb") as fh:
            out = []
            for n in numbers:
                fh.seek(src.pixel_data_offset + (n - 1) * size)
                out.append(fh.read(size))
        return out

    def compressed(self, numbers: list[int]) -> list[bytes]:
        src = self.source
        if src.frame_offsets:
            with open(storage.absolute(src.file_path), "rb") as fh:
                out = []
                for n in numbers:
                    pieces = []
                    for offset, length in src.frame_offsets[n - 1]:
                        fh.seek(offset)
                        pieces.append(fh.read(length))
                    out.append(b"".join(pieces))
            return out
        # No recorded fragment layout: let pydicom split the encapsulated value.
        buffer = storage.read_range(src.file_path, src.pixel_data_offset, src.pixel_data_length)
        frames = list(generate_frames(buffer, number_of_frames=src.number_of_frames))
        return [frames[n - 1] for n in numbers]

    def decoded(self, numbers: list[int]) -> list[bytes]:
        """Frames decoded by pydicom's pixel handlers, as little-endian native bytes."""
        path = storage.absolute(self.source.file_path)
        out = []
        for n in numbers:
            array = pydicom.pixels.pixel_array(path, index=n - 1)
            out.append(array.astype(array.dtype.newbyteorder("<")).tobytes())
        return out

    def read(self, numbers: list[int], plan: FramePlan) -> list[bytes]:
        if plan.decode:
            return self.decoded(numbers)
        if self.source.transfer_syntax_uid in NATIVE_SYNTAXES:
            return self.native(numbers)
        return self.compressed(numbers)


def frames_content(plan: FramePlan, source: FrameSource, numbers: list[int]) -> tuple[str, bytes]:
    """(Content-Type, body) of a frames answer: one bare frame or a multipart/related body.

    The one place frames are put on the wire, for the Django view and the fast
    path alike.
    """
    frames = FrameReader(source).read(numbers, plan)
    if not plan.multipart:
        return plan.content_type, frames[0]
    boundary = new_boundary()
    body = multipart_body(boundary, [(plan.content_type, frame) for frame in frames])
    return multipart_content_type(plan.media_type, boundary), body


def frames_response(request, source: FrameSource, numbers: list[int]) -> HttpResponse:
    plan = plan_frames(request.headers.get("Accept"), source, len(numbers))
    content_type, body = frames_content(plan, source, numbers)
    return HttpResponse(body, content_type=content_type)


# -- pixel data of many instances (PS3.18 10.4.1.1.6) ----------------------------


def sop_uid_list(text: str | None) -> list[str] | None:
    """The distinct UIDs of a ``SOPInstanceUID=uid1,uid2`` filter, first mention first.

    UID list matching as in QIDO-RS (PS3.18 8.3.4.1); more than
    ``DICOMWEB_MAX_FRAMES`` UIDs is a 400. None when there is no filter.
    """
    if text is None:
        return None
    uids = list(dict.fromkeys(u.strip() for u in text.split(",") if u.strip()))
    if not uids:
        raise BadRequest("empty SOPInstanceUID list")
    if len(uids) > settings.DICOMWEB_MAX_FRAMES:
        raise BadRequest(f"at most {settings.DICOMWEB_MAX_FRAMES} instances per request")
    return uids


def series_frame_sources(user, study_uid: str, series_uid: str, uids: list[str] | None):
    """The image instances of a series as FrameSources: instance number order, or ``uids``'.

    Scoped like ``instances_for_user`` (PermissionDenied for a user without the
    clinical role). A UID named in ``uids`` that is not an image instance of the
    series is a 404; without ``uids``, instances without frames (an SR) are left out.
    """
    qs = instances_for_user(user, study_uid, series_uid).only(*FRAME_FIELDS)
    if uids is None:
        rows = qs.filter(rows__isnull=False).order_by("instance_number", "pk")
        return [FrameSource.of(inst) for inst in rows]
    found = {inst.sop_instance_uid: inst for inst in qs.filter(sop_instance_uid__in=uids)}
    missing = [uid for uid in uids if uid not in found or not found[uid].rows]
    if missing:
        raise Http404(f"no image instance {missing[0]} in this series")
    return [FrameSource.of(found[uid]) for uid in uids]


def pixel_data_chunks(boundary: str, root: str, planned: list[tuple[FrameSource, FramePlan]]):
    """Every frame of each instance as one bulk data part (PS3.18 8.7.3.4, 10.4.1.1.6).

    Each part names its frame's WADO-RS URL in Content-Location, so a client can
    tell the parts apart, and its length in Content-Length. One chunk per frame,
    read when the previous one has been sent.
    """
    for source, plan in planned:
        base = (
            f"{root}/studies/{source.study_instance_uid}/series/{source.series_instance_uid}"
            f"/instances/{source.sop_instance_uid}/frames/"
        )
        reader = FrameReader(source)
        for number in range(1, source.number_of_frames + 1):
            (frame,) = reader.read([number], plan)
            header = part_header(boundary, plan.content_type, f"{base}{number}", len(frame))
            yield header + frame + b"\r\n"
    yield closing_delimiter(boundary)
