"""Stored pixel values to an 8-bit image: the Modality LUT and the VOI transform
(PS3.3 C.11.2), or the window a request names (PS3.18 8.3.5.1.3).

Greyscale without a requested window goes through ``inference.preprocessing``'s
VOI transform (VOI LUT Sequence or window, through pydicom's ``apply_voi_lut``),
by a table per distinct set of VOI attributes where that gives the same values.
"""

from __future__ import annotations

import numpy as np
import pydicom
from PIL import Image

from inference.preprocessing import pointwise_range, stored_to_uint8

WINDOW_FUNCTIONS = {"linear", "linear_exact", "sigmoid"}


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


def to_image(array: np.ndarray, ds, window: tuple[float, float, str] | None) -> Image.Image:
    """``array`` (a frame of ``ds``'s stored values) as an 8-bit greyscale or RGB image."""
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
