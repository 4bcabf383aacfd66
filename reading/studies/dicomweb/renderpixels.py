"""One frame's stored pixel values, read for rendering.

Native greyscale frames are read straight from the file at the offsets the
archive indexed. The attributes that turn them into grey (Image Pixel and the
Modality and VOI LUT modules' single values) come from the instance's indexed
DICOM JSON (``Instance.metadata``) when the view has it, else from the file's
attributes up to its pixel data, kept per file. Everything else is decoded by
pydicom's pixel handlers (pylibjpeg and its plugins for RLE, JPEG, JPEG-LS and
JPEG 2000).
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from reading.studies.dicomweb.frames import FrameReader, FrameSource, _native_readable

HEADERS = 1024  # stored files whose attributes (without pixel data) are kept in memory
# The attributes rendering reads (renderpixels.native_frame, rendervoi), by tag: Samples per
# Pixel, Photometric Interpretation, Rows, Columns, Bits Allocated/Stored, High Bit, Pixel
# Representation, Window Center/Width, Rescale Intercept/Slope/Type, VOI LUT Function.
INDEXED_TAGS = (
    "00280002", "00280004", "00280010", "00280011", "00280100", "00280101", "00280102",
    "00280103", "00281050", "00281051", "00281052", "00281053", "00281054", "00281056",
)  # fmt: skip
# Whose presence sends rendering to the file: LUT sequences, float pixel data, Pixel
# Padding (pydicom's handling reads the whole dataset).
FILE_ONLY_TAGS = ("00283000", "00283010", "7FE00008", "7FE00009", "00280120", "00280121")
# Pixel Data, Float Pixel Data, Double Float Pixel Data: an instance with none has no image.
PIXEL_DATA_TAGS = ("7FE00010", "7FE00008", "7FE00009")


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


def indexed_header(metadata: dict | None) -> Dataset | None:
    """The rendering attributes of an instance's indexed DICOM JSON as a dataset, or None
    when rendering needs the file (``FILE_ONLY_TAGS``) or there is no index.

    Shared by the instances whose values are the same (the slices of a series); callers
    must not modify it.
    """
    if not metadata or any(tag in metadata for tag in FILE_ONLY_TAGS):
        return None
    subset = {tag: metadata[tag] for tag in INDEXED_TAGS if tag in metadata}
    return _indexed_header(json.dumps(subset, sort_keys=True))


def render_attributes(metadata: dict | None) -> dict:
    """The part of an instance's indexed DICOM JSON that rendering reads (``indexed_header``
    gives the same dataset for it as for the whole), for a cache to keep."""
    wanted = (*INDEXED_TAGS, *FILE_ONLY_TAGS, *PIXEL_DATA_TAGS)
    return {tag: metadata[tag] for tag in wanted if tag in (metadata or {})}


def has_pixel_data(metadata: dict) -> bool:
    """Whether an instance's indexed DICOM JSON (or its ``render_attributes``) has pixel data."""
    return any(tag in metadata for tag in PIXEL_DATA_TAGS)


@functools.lru_cache(maxsize=64)
def _indexed_header(subset: str) -> Dataset:
    return Dataset.from_json(subset)


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


def frame_values(
    path, index: int, source: FrameSource | None = None, metadata: dict | None = None
) -> tuple[np.ndarray, Dataset]:
    """Frame ``index`` (0-based) of the stored file as pydicom's ``pixel_array`` gives it,
    and its rendering attributes. With the instance's ``source`` (``FrameSource.of(instance,
    pixels_only=True)``), native greyscale frames come from ``native_frame``, with the
    attributes from the instance's ``metadata`` where ``indexed_header`` takes them."""
    array = None
    if source is not None:
        ds = indexed_header(metadata) or read_header(path)
        array = native_frame(source, ds, index)
    if array is None:
        ds = pydicom.dcmread(path)
        array = pydicom.pixels.pixel_array(ds, index=index)
    return array, ds
