"""Rendered resources and thumbnails (PS3.18 8.3.5, 9.5, 10.4.1.1.3, 10.4.1.1.4).

The views and their HTTP side: the media type negotiated, the request's
window, viewport and quality, the encoded answer (kept in ``rendercache``).
A frame's stored values are read by ``renderpixels`` and become an 8-bit image
by ``rendervoi`` (the Modality LUT and the VOI transform, PS3.3 C.11.2).
"""

from __future__ import annotations

import io
import os
from typing import NamedTuple

import numpy as np
import simplejpeg
from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from PIL import Image

from reading.audit.models import AuditAction
from reading.studies import storage
from reading.studies.access import get_series_for_user, get_study_for_user
from reading.studies.dicomweb.common import audit, dicomweb_view
from reading.studies.dicomweb.frames import FrameSource, instance_for_user, parse_frame_list
from reading.studies.dicomweb.media import (
    NotAcceptable,
    multipart_content_type,
    new_boundary,
    parse_accept,
)
from reading.studies.dicomweb.rendercache import rendered_cache
from reading.studies.dicomweb.renderpixels import PIXEL_DATA_TAGS, frame_values, has_pixel_data
from reading.studies.dicomweb.rendervoi import WINDOW_FUNCTIONS, to_image
from reading.studies.dicomweb.streaming import multipart_chunks, streaming_response
from reading.studies.models import Instance

JPEG, PNG = "image/jpeg", "image/png"
THUMBNAIL_SIZE = 128
RENDERED_CACHE_CONTROL = "private, max-age=3600"


def choose_image_type(get, accept: str | None, multipart: bool = False) -> str:
    """JPEG unless the client prefers PNG (the ``accept`` query parameter, else the
    Accept header ``accept``).

    Study and series answers are multipart (``multipart`` True) and take
    ``multipart/related; type="image/jpeg"`` as well as the bare types.
    """
    entries = parse_accept(get.get("accept") or accept)
    for entry in entries:
        if entry.multipart and not multipart:
            continue
        for media in (JPEG, PNG):
            if entry.matches(media):
                return media
    raise NotAcceptable("rendered images are available as image/jpeg or image/png")


class RenderParams(NamedTuple):
    """What a rendered request asks for (PS3.18 8.3.5.1); part of the cache key."""

    window: tuple[float, float, str] | None
    viewport: tuple[int, int] | None
    quality: int
    media_type: str


def render_params(
    get, accept: str | None, viewport: int | None = None, multipart: bool = False
) -> RenderParams:
    """The parameters of a request's query ``get`` and Accept header ``accept``;
    ``viewport`` is the size when none is asked for. Raises BadRequest or NotAcceptable."""
    media_type = choose_image_type(get, accept, multipart)
    return RenderParams(
        _window_param(get), _viewport_param(get, viewport), _quality_param(get), media_type
    )


def _window_param(get) -> tuple[float, float, str] | None:
    raw = get.get("window")
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",")]
    try:
        center, width = float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        raise BadRequest("window must be center,width[,function]") from None
    function = parts[2].lower() if len(parts) > 2 and parts[2] else "linear"
    if width <= 0 or function not in WINDOW_FUNCTIONS:
        raise BadRequest("window width must be positive; function linear, linear_exact or sigmoid")
    return center, width, function


def _viewport_param(get, default: int | None) -> tuple[int, int] | None:
    raw = get.get("viewport")
    if not raw:
        return (default, default) if default else None
    try:
        width, height = (int(p) for p in raw.split(",")[:2])
    except ValueError:
        raise BadRequest("viewport must be width,height") from None
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise BadRequest("viewport must be between 1 and 4096 pixels")
    return width, height


def _quality_param(get) -> int:
    try:
        quality = int(get.get("quality", "90"))
    except ValueError:
        raise BadRequest("quality must be 1..100") from None
    if not 1 <= quality <= 100:
        raise BadRequest("quality must be 1..100")
    return quality


def render_frame(
    path,
    index: int,
    window: tuple[float, float, str] | None,
    source: FrameSource | None = None,
    metadata: dict | None = None,
) -> Image.Image:
    """One frame as an 8-bit PIL image.

    Without a window in the request, greyscale goes through
    ``inference.preprocessing.stored_to_uint8`` (``radiograph_to_uint8``'s): the Modality LUT, the
    dataset's own VOI LUT Sequence or window (PS3.3 C.11.2), MONOCHROME1
    inverted, the same function that prepares a model's input, so a thumbnail
    shows what the model sees. With the instance's ``source``, native greyscale
    frames are read straight from the file (``renderpixels.native_frame``), with the
    instance's indexed ``metadata`` for their attributes; everything else is decoded by
    pydicom's pixel handlers.
    """
    return to_image(*frame_values(path, index, source, metadata), window)


def encode(image: Image.Image, media_type: str, quality: int) -> bytes:
    """PNG by Pillow; JPEG by libjpeg-turbo through simplejpeg, which releases the GIL
    (Pillow's encoder holds it), with no chroma subsampling for colour."""
    if media_type == PNG:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=False)
        return buffer.getvalue()
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        return simplejpeg.encode_jpeg(
            pixels[:, :, None], quality, colorspace="GRAY", colorsubsampling="Gray"
        )
    return simplejpeg.encode_jpeg(pixels, quality, colorspace="RGB", colorsubsampling="444")


def _fit(image: Image.Image, viewport: tuple[int, int] | None) -> Image.Image:
    if viewport is None:
        return image
    fitted = image.copy()
    fitted.thumbnail(viewport, Image.Resampling.LANCZOS)
    return fitted


def _render_body(
    path, frame: int, source: FrameSource | None, params: tuple, metadata: dict | None = None
) -> bytes:
    window, viewport, quality, media_type = params
    image = render_frame(path, frame - 1, window, source, metadata)
    return encode(_fit(image, viewport), media_type, quality)


def rendered_image(source: FrameSource, frame: int, params: RenderParams, metadata: dict) -> bytes:
    """Frame ``frame`` (1-based) of the instance at ``source`` rendered with ``params``
    (``render_params``), from ``rendercache`` when it was rendered before; ``metadata`` is the
    instance's indexed DICOM JSON (or the part ``renderpixels.render_attributes`` keeps).
    Raises Http404 for an instance without an image, NotAcceptable for what cannot be
    rendered, OSError for a missing file."""
    if not source.rows or not has_pixel_data(metadata):
        raise Http404("this instance has no image")
    path = storage.absolute(source.file_path)
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns, frame, *params)
    body = rendered_cache.get(key)
    if body is None:
        try:
            body = _render_body(path, frame, source, params, metadata)
        except (ValueError, NotImplementedError, RuntimeError) as exc:
            raise NotAcceptable(f"cannot render this instance: {exc}") from None
        rendered_cache.put(key, body)
    return body


def _render_response(request, instance: Instance, frame: int, study, thumbnail: bool):
    params = render_params(
        request.GET, request.headers.get("Accept"), THUMBNAIL_SIZE if thumbnail else None
    )
    source = FrameSource.of(instance, pixels_only=True)
    body = rendered_image(source, frame, params, instance.metadata)
    audit(request, AuditAction.RENDER, study=study, detail="thumbnail" if thumbnail else "rendered")
    response = HttpResponse(body, content_type=params.media_type)
    response["Cache-Control"] = RENDERED_CACHE_CONTROL
    return response


def _middle(instances) -> Instance:
    rows = list(instances)
    if not rows:
        raise Http404("nothing to show here")
    return rows[len(rows) // 2]


@dicomweb_view()
def rendered_instance(request, study_uid, series_uid, sop_uid):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid, metadata=True)
    study = instance.series.study
    return _render_response(request, instance, 1, study, thumbnail=False)


@dicomweb_view()
def rendered_frames(request, study_uid, series_uid, sop_uid, frames):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid, metadata=True)
    study = instance.series.study
    numbers = parse_frame_list(frames, instance.number_of_frames)
    if len(numbers) != 1:
        raise BadRequest("a rendered frame request names one frame")
    return _render_response(request, instance, numbers[0], study, thumbnail=False)


@dicomweb_view()
def thumbnail_instance(request, study_uid, series_uid, sop_uid):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid, metadata=True)
    study = instance.series.study
    return _render_response(
        request, instance, instance.number_of_frames // 2 + 1, study, thumbnail=True
    )


def _image_instances(**filters):
    return (
        Instance.objects.filter(
            rows__isnull=False, metadata__has_any_keys=PIXEL_DATA_TAGS, **filters
        )
        .defer("metadata", "frame_offsets")
        .order_by("series__series_number", "series_id", "instance_number", "pk")
    )


@dicomweb_view()
def thumbnail_series(request, study_uid, series_uid):
    study = get_study_for_user(request.user, study_uid)
    series = get_series_for_user(request.user, study_uid, series_uid)
    instance = _middle(_image_instances(series=series))
    return _render_response(
        request, instance, instance.number_of_frames // 2 + 1, study, thumbnail=True
    )


@dicomweb_view()
def thumbnail_study(request, study_uid):
    study = get_study_for_user(request.user, study_uid)
    first = _image_instances(series__study=study).values_list("series_id", flat=True).first()
    if first is None:
        raise Http404("nothing to show here")
    instance = _middle(_image_instances(series_id=first))
    return _render_response(
        request, instance, instance.number_of_frames // 2 + 1, study, thumbnail=True
    )


def _rendered_many(request, instances, study):
    """Rendered Study / Series (PS3.18 10.4.1.1.3): one rendered part per instance."""
    params = render_params(request.GET, request.headers.get("Accept"), multipart=True)
    rows = list(instances)
    if not rows:
        raise Http404("nothing to show here")
    if len(rows) > settings.DICOMWEB_MAX_FRAMES:
        raise BadRequest(f"{len(rows)} images; render at most {settings.DICOMWEB_MAX_FRAMES}")

    def part(instance):
        yield _render_body(storage.absolute(instance.file_path), 1, None, params)

    audit(request, AuditAction.RENDER, study=study, detail=f"rendered {len(rows)} images")
    boundary = new_boundary()
    parts = [(params.media_type, lambda inst=inst: part(inst)) for inst in rows]
    return streaming_response(
        request,
        multipart_chunks(boundary, parts),
        multipart_content_type(params.media_type, boundary),
    )


@dicomweb_view()
def rendered_study(request, study_uid):
    study = get_study_for_user(request.user, study_uid)
    return _rendered_many(request, _image_instances(series__study=study), study)


@dicomweb_view()
def rendered_series(request, study_uid, series_uid):
    study = get_study_for_user(request.user, study_uid)
    series = get_series_for_user(request.user, study_uid, series_uid)
    return _rendered_many(request, _image_instances(series=series), study)
