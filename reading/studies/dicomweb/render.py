"""Rendered resources and thumbnails (PS3.18 8.3.5, 9.5, 10.4.1.1.3, 10.4.1.1.4).

Pixels are decoded by pydicom's pixel handlers (pylibjpeg and its plugins for
RLE, JPEG, JPEG-LS and JPEG 2000), then the Modality LUT and the VOI transform
(PS3.3 C.11.2) turn them into 8-bit greyscale or RGB for JPEG/PNG. The VOI
transform is ``inference.preprocessing``'s (VOI LUT Sequence or window, through
pydicom's ``apply_voi_lut``) unless the request names a window.
"""

from __future__ import annotations

import functools
import io
import os

import numpy as np
import pydicom
from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from PIL import Image
from pydicom.dataset import Dataset

from inference.preprocessing import pointwise_range, stored_to_uint8
from reading.audit.models import AuditAction
from reading.studies import storage
from reading.studies.access import get_series_for_user, get_study_for_user
from reading.studies.dicomweb.common import audit, dicomweb_view
from reading.studies.dicomweb.frames import (
    FrameReader,
    FrameSource,
    _native_readable,
    instance_for_user,
    parse_frame_list,
    samples_per_pixel,
)
from reading.studies.dicomweb.media import (
    NotAcceptable,
    multipart_content_type,
    new_boundary,
    parse_accept,
)
from reading.studies.dicomweb.rendercache import rendered_cache
from reading.studies.dicomweb.streaming import multipart_chunks, streaming_response
from reading.studies.models import Instance

JPEG, PNG = "image/jpeg", "image/png"
THUMBNAIL_SIZE = 128
WINDOW_FUNCTIONS = {"linear", "linear_exact", "sigmoid"}
HEADERS = 1024  # stored files whose attributes (without pixel data) are kept in memory


def choose_image_type(request, multipart: bool = False) -> str:
    """JPEG unless the client prefers PNG (Accept header or ``accept`` parameter).

    Study and series answers are multipart (``multipart`` True) and take
    ``multipart/related; type="image/jpeg"`` as well as the bare types.
    """
    wanted = request.GET.get("accept")
    entries = parse_accept(wanted or request.headers.get("Accept"))
    for entry in entries:
        if entry.multipart and not multipart:
            continue
        for media in (JPEG, PNG):
            if entry.matches(media):
                return media
    raise NotAcceptable("rendered images are available as image/jpeg or image/png")


def _window_param(request) -> tuple[float, float, str] | None:
    raw = request.GET.get("window")
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


def _viewport_param(request, default: int | None) -> tuple[int, int] | None:
    raw = request.GET.get("viewport")
    if not raw:
        return (default, default) if default else None
    try:
        width, height = (int(p) for p in raw.split(",")[:2])
    except ValueError:
        raise BadRequest("viewport must be width,height") from None
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise BadRequest("viewport must be between 1 and 4096 pixels")
    return width, height


def _quality_param(request) -> int:
    try:
        quality = int(request.GET.get("quality", "90"))
    except ValueError:
        raise BadRequest("quality must be 1..100") from None
    if not 1 <= quality <= 100:
        raise BadRequest("quality must be 1..100")
    return quality


def apply_window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """A window the client asked for (PS3.18 8.3.5.1.3) onto 0..255 as float, by the VOI
    LUT functions of PS3.3 C.11.2.1.2."""
    if function == "linear_exact":
        out = (values - center) / width + 0.5
    elif function == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    else:  # linear (C.11.2.1.2.1)
        width = max(width, 1.0)
        out = (values - (center - 0.5)) / (width - 1.0) + 0.5
    return np.clip(out, 0.0, 1.0) * 255.0


# Every attribute the Modality LUT, the VOI window and ``stored_to_uint8`` read (pydicom's
# apply_modality_lut, apply_voi_lut, apply_windowing), LUT sequences apart.
VOI_KEYWORDS = (
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
)
GREY_LUTS = 64  # tables of 8- and 16-bit stored values to grey, 64 KB each at most
_grey_luts: dict[tuple, np.ndarray] = {}


def _grey_lut(stored: np.ndarray, ds) -> np.ndarray | None:
    """``stored_to_uint8`` of every value of ``stored``'s 8- or 16-bit type, indexed by the
    values' unsigned bits; shared by the images whose VOI attributes are the same (the
    slices of a series), so a series pays the VOI transform once. None for LUT sequences."""
    if stored.dtype.itemsize > 2 or "ModalityLUTSequence" in ds or "VOILUTSequence" in ds:
        return None
    key = (stored.dtype.str, *(str(ds.get(k)) for k in VOI_KEYWORDS))
    lut = _grey_luts.get(key)
    if lut is None:
        voi_range = pointwise_range(ds)
        if voi_range is None:
            return None
        unsigned = np.dtype(f"u{stored.dtype.itemsize}")
        ramp = np.arange(2 ** (8 * stored.dtype.itemsize), dtype=unsigned).view(stored.dtype)
        lut = stored_to_uint8(ramp[None, :], ds, voi_range)[0]
        if len(_grey_luts) >= GREY_LUTS:
            _grey_luts.clear()
        _grey_luts[key] = lut
    return lut


def grey_uint8(stored: np.ndarray, ds) -> np.ndarray:
    """``inference.preprocessing.stored_to_uint8``, once per distinct stored value when
    that is the same thing (a window or LUT maps each value alone) and cheaper."""
    if stored.ndim != 2 or stored.dtype.kind not in "iu":
        return stored_to_uint8(stored, ds)
    lut = _grey_lut(stored, ds)
    if lut is not None:
        return np.take(lut, stored.view(f"u{stored.dtype.itemsize}"))
    voi_range = pointwise_range(ds)
    if voi_range is not None:
        low, high = int(stored.min()), int(stored.max())
        if high - low < stored.size // 4:
            ramp = np.arange(low, high + 1, dtype=stored.dtype)[None, :]
            return stored_to_uint8(ramp, ds, voi_range)[0][stored.astype(np.int64) - low]
    return stored_to_uint8(stored, ds, voi_range)


def read_header(path) -> Dataset:
    """The stored file's attributes up to its pixel data, kept per file (``HEADERS``).

    Stored instances never change (a re-send with other content is a conflict),
    and a file's size and modification time are part of the key, so a file
    replaced under the same name is read again. Callers must not modify it.
    """
    stat = os.stat(path)
    return _read_header(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=HEADERS)
def _read_header(path: str, size: int, mtime_ns: int) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def native_frame(source: FrameSource, ds: Dataset, index: int) -> np.ndarray | None:
    """One greyscale frame of stored values read straight from the file, or None.

    For little-endian native syntaxes with whole-byte samples: the values
    pydicom's native decoder gives (little-endian integers of Bits Allocated,
    signed by Pixel Representation, unused high bits corrected as pydicom's
    ``correct_unused_bits`` does, PS3.5 8.1.1) without parsing the file again.
    """
    if (
        not _native_readable(source)
        or source.samples_per_pixel != 1
        or source.bits_allocated not in (8, 16, 32)
        or str(ds.get("PhotometricInterpretation", "")) not in ("MONOCHROME1", "MONOCHROME2")
        or "FloatPixelData" in ds
        or "DoubleFloatPixelData" in ds
    ):
        return None
    allocated = source.bits_allocated
    stored = int(ds.get("BitsStored", allocated) or allocated)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    (raw,) = FrameReader(source).native([index + 1])
    if len(raw) != source.rows * source.columns * dtype.itemsize:
        return None  # a short file: let pydicom say what is wrong
    array = np.frombuffer(raw, dtype).reshape(source.rows, source.columns).copy()
    if stored < allocated:
        shift = allocated - stored
        np.left_shift(array, shift, out=array)
        np.right_shift(array, shift, out=array)
    return array.astype(dtype.newbyteorder("="), copy=False)


def pixel_source(instance: Instance) -> FrameSource:
    """Where the instance's pixel data lies (``FrameSource`` without the parents' UIDs,
    which rendering does not need: no query for the series or study)."""
    return FrameSource(
        study_instance_uid="",
        series_instance_uid="",
        sop_instance_uid=instance.sop_instance_uid,
        file_path=instance.file_path,
        transfer_syntax_uid=instance.transfer_syntax_uid,
        rows=instance.rows,
        columns=instance.columns,
        bits_allocated=instance.bits_allocated,
        samples_per_pixel=samples_per_pixel(instance),
        number_of_frames=instance.number_of_frames,
        pixel_data_offset=instance.pixel_data_offset,
        pixel_data_length=instance.pixel_data_length,
        frame_offsets=None,  # native frames only
    )


def render_frame(
    path, index: int, window: tuple[float, float, str] | None, source: FrameSource | None = None
) -> Image.Image:
    """One frame as an 8-bit PIL image.

    Without a window in the request, greyscale goes through
    ``inference.preprocessing.stored_to_uint8`` (``radiograph_to_uint8``'s): the Modality LUT, the
    dataset's own VOI LUT Sequence or window (PS3.3 C.11.2), MONOCHROME1
    inverted, the same function that prepares a model's input, so a thumbnail
    shows what the model sees. With the instance's ``source``, native greyscale
    frames are read straight from the file (``native_frame``); everything else
    is decoded by pydicom's pixel handlers.
    """
    array = None
    if source is not None:
        ds = read_header(path)
        array = native_frame(source, ds, index)
    if array is None:
        ds = pydicom.dcmread(path)
        array = pydicom.pixels.pixel_array(ds, index=index)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric in ("MONOCHROME1", "MONOCHROME2") and window is None:
        return Image.fromarray(grey_uint8(array, ds), "L")
    if photometric == "PALETTE COLOR":
        array = pydicom.pixels.apply_color_lut(array, ds)
        photometric = "RGB"
    if array.ndim == 3 and array.shape[-1] == 3:
        rgb = array.astype(np.float64)
        if window is not None:
            rgb = apply_window(rgb, *window)
        elif int(ds.get("BitsStored", 8)) > 8:
            rgb = rgb * 255.0 / max(float(rgb.max()), 1.0)
        return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    values = pydicom.pixels.apply_modality_lut(array, ds).astype(np.float64)
    grey = apply_window(values, *window)
    if photometric == "MONOCHROME1":
        grey = 255.0 - grey
    return Image.fromarray(grey.round().astype(np.uint8), "L")


def encode(image: Image.Image, media_type: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if media_type == PNG:
        image.save(buffer, format="PNG", optimize=False)
    else:
        image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _fit(image: Image.Image, viewport: tuple[int, int] | None) -> Image.Image:
    if viewport is None:
        return image
    fitted = image.copy()
    fitted.thumbnail(viewport, Image.Resampling.LANCZOS)
    return fitted


def _render_response(request, instance: Instance, frame: int, study, thumbnail: bool):
    media_type = choose_image_type(request)
    window = _window_param(request)
    viewport = _viewport_param(request, THUMBNAIL_SIZE if thumbnail else None)
    quality = _quality_param(request)
    if not instance.rows:
        raise Http404("this instance has no image")
    path = storage.absolute(instance.file_path)
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns, frame, window, viewport, quality, media_type)
    body = rendered_cache.get(key)
    if body is None:
        try:
            image = render_frame(path, frame - 1, window, pixel_source(instance))
        except (ValueError, NotImplementedError, RuntimeError) as exc:
            raise NotAcceptable(f"cannot render this instance: {exc}") from None
        body = encode(_fit(image, viewport), media_type, quality)
        rendered_cache.put(key, body)
    audit(request, AuditAction.RENDER, study=study, detail="thumbnail" if thumbnail else "rendered")
    response = HttpResponse(body, content_type=media_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _middle(instances) -> Instance:
    rows = list(instances)
    if not rows:
        raise Http404("nothing to show here")
    return rows[len(rows) // 2]


@dicomweb_view()
def rendered_instance(request, study_uid, series_uid, sop_uid):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid)
    study = instance.series.study
    return _render_response(request, instance, 1, study, thumbnail=False)


@dicomweb_view()
def rendered_frames(request, study_uid, series_uid, sop_uid, frames):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid)
    study = instance.series.study
    numbers = parse_frame_list(frames, instance.number_of_frames)
    if len(numbers) != 1:
        raise BadRequest("a rendered frame request names one frame")
    return _render_response(request, instance, numbers[0], study, thumbnail=False)


@dicomweb_view()
def thumbnail_instance(request, study_uid, series_uid, sop_uid):
    instance = instance_for_user(request.user, study_uid, series_uid, sop_uid)
    study = instance.series.study
    return _render_response(
        request, instance, instance.number_of_frames // 2 + 1, study, thumbnail=True
    )


def _image_instances(**filters):
    return (
        Instance.objects.filter(rows__isnull=False, **filters)
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
    media_type = choose_image_type(request, multipart=True)
    window = _window_param(request)
    viewport = _viewport_param(request, None)
    quality = _quality_param(request)
    rows = list(instances)
    if not rows:
        raise Http404("nothing to show here")
    if len(rows) > settings.DICOMWEB_MAX_FRAMES:
        raise BadRequest(f"{len(rows)} images; render at most {settings.DICOMWEB_MAX_FRAMES}")

    def part(instance):
        path = storage.absolute(instance.file_path)
        yield encode(_fit(render_frame(path, 0, window), viewport), media_type, quality)

    audit(request, AuditAction.RENDER, study=study, detail=f"rendered {len(rows)} images")
    boundary = new_boundary()
    parts = [(media_type, lambda inst=inst: part(inst)) for inst in rows]
    return streaming_response(
        request, multipart_chunks(boundary, parts), multipart_content_type(media_type, boundary)
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
