"""DICOM to model images, following Google's published MedGemma recipes.

- Radiographs (CR, DX, MG, ...): Modality LUT, then the VOI LUT or window of the
  dataset (PS3.3 C.11.2), scaled to 8 bits, MONOCHROME1 inverted (PS3.3
  C.7.6.3.1.2), grey copied to RGB, padded to a square.
- CT: up to 85 slices sampled evenly along the slice normal in patient order;
  each slice packs three windows of Hounsfield units into RGB: wide
  (-1024..1024), soft tissue (-135..215) and brain (0..80).
- MR: the same slice selection, intensities normalised over the whole series.

Every prepared image remembers its source (SOP Instance UID, frame) and the
scale and padding applied, so a box the model returns (``box_2d`` = [y0, x0,
y1, x1] normalised to 0-1000 of the padded square) maps back to source pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut

MAX_SLICES = 85
DEFAULT_MAX_SIDE = 896  # MedGemma's input size: larger sources are reduced before padding
CT_WINDOWS: tuple[tuple[str, float, float], ...] = (
    ("wide", -1024.0, 1024.0),
    ("soft_tissue", -135.0, 215.0),
    ("brain", 0.0, 80.0),
)
BOX_SCALE = 1000.0

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SourceRef:
    """The exact source image: SOP Instance UID, 1-based frame number, its size in pixels."""

    sop_instance_uid: str
    frame: int
    rows: int
    columns: int
    series_instance_uid: str = ""


@dataclass
class PreparedImage:
    """An 8-bit RGB square image for the model, and how it was made from its source."""

    pixels: np.ndarray  # uint8, (side, side, 3)
    source: SourceRef
    scale: float  # prepared pixels per source pixel
    pad_top: int
    pad_left: int
    label: str = ""

    @property
    def side(self) -> int:
        return int(self.pixels.shape[0])

    def to_pil(self):
        from PIL import Image

        return Image.fromarray(self.pixels, mode="RGB")


@dataclass
class PreparedSeries:
    images: list[PreparedImage]
    modality: str
    total_slices: int
    selected: list[int] = field(default_factory=list)  # indices into the sorted slices
    positions: list[float] = field(default_factory=list)  # mm along the slice normal


@dataclass(frozen=True)
class SourceBox:
    """A box in source pixel coordinates (x to the right, y down; pixel edges)."""

    sop_instance_uid: str
    frame: int
    x0: float
    y0: float
    x1: float
    y1: float
    label: str = ""


# -- pixel helpers ----------------------------------------------------------------------------


def frame_pixels(ds: Dataset, frame: int = 1) -> np.ndarray:
    """The stored values of one frame (1-based, PS3.3 C.7.6.6 Number of Frames)."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if not 1 <= frame <= frames:
        raise ValueError(f"frame {frame} out of 1..{frames}")
    if frames == 1:
        return ds.pixel_array
    from pydicom.pixels import pixel_array

    return pixel_array(ds, index=frame - 1)


def scale_to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linear map of [low, high] to 0..255, clipped and rounded (high < low inverts)."""
    if high == low:
        return np.zeros(values.shape, np.uint8)
    scaled = (values.astype(np.float64) - low) / (high - low)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def window_ct(hu: np.ndarray) -> np.ndarray:
    """Pack the three CT windows of a slice in Hounsfield units into an RGB uint8 image."""
    return np.stack([scale_to_uint8(hu, lo, hi) for _, lo, hi in CT_WINDOWS], axis=-1)


def _voi_output_range(ds: Dataset) -> tuple[float, float] | None:
    """Output range of the dataset's VOI transform, found by passing extreme values through it."""
    has_window = ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None
    if not ds.get("VOILUTSequence") and not has_window:
        return None
    probe = np.array([-1e12, 1e12], dtype=np.float64)
    if ds.get("VOILUTSequence"):
        # A LUT clamps inputs outside [first, first + entries) to its end entries (C.11.2.1.2).
        entries, first = (int(v) for v in ds.VOILUTSequence[0].LUTDescriptor[:2])
        # Probe the end entries themselves: pydicom's index arithmetic can wrap beyond them.
        probe = np.array([first, first + (entries or 65536) - 1], dtype=np.int64)
    out = np.asarray(apply_voi_lut(probe, ds), dtype=np.float64)
    return float(out.min()), float(out.max())  # a LUT may fall: its lowest output is black


def radiograph_to_uint8(ds: Dataset, frame: int = 1) -> np.ndarray:
    """Windowed 8-bit grey image of a radiograph frame, display-ready (white = dense)."""
    return stored_to_uint8(frame_pixels(ds, frame), ds)


def pointwise_range(ds: Dataset) -> tuple[float, float] | None:
    """The VOI output range when ``stored_to_uint8`` maps each stored value alone (a VOI
    window or LUT is present), so that it may be computed once per distinct value; else None.
    Pass it back to ``stored_to_uint8`` as ``voi_range`` to skip finding it again."""
    return _voi_output_range(ds)


def stored_to_uint8(
    stored: np.ndarray, ds: Dataset, voi_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Stored values of a frame to display-ready 8-bit grey: Modality LUT, VOI LUT or
    window (PS3.3 C.11.2), else the 0.5-99.5 percentile range; MONOCHROME1 inverted.
    ``voi_range``: ``pointwise_range(ds)`` when the caller has it (found here otherwise)."""
    if stored.ndim == 3:  # colour: the model takes it as it is
        return stored.astype(np.uint8)
    values = apply_modality_lut(stored, ds)
    if ds.get("VOILUTSequence") and values.dtype.kind == "f" and np.all(values == np.round(values)):
        # A rescale of 1/0 yields floats; a LUT indexes by integer value.
        values = values.astype(np.int64)
    voi = voi_range if voi_range is not None else _voi_output_range(ds)
    if voi is not None:
        out = np.asarray(apply_voi_lut(values, ds), dtype=np.float64)
        grey = scale_to_uint8(out, *voi)
    else:
        low, high = np.percentile(values, [0.5, 99.5])
        grey = scale_to_uint8(values, float(low), float(high))
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        grey = 255 - grey
    return grey


def pad_to_square(
    image: np.ndarray, source: SourceRef, max_side: int | None = DEFAULT_MAX_SIDE, label: str = ""
) -> PreparedImage:
    """Reduce (if larger than ``max_side``) then pad centrally to a black square, as RGB."""
    from PIL import Image

    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    rows, columns = image.shape[:2]
    scale = 1.0
    if max_side and max(rows, columns) > max_side:
        scale = max_side / max(rows, columns)
        size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    height, width = image.shape[:2]
    side = max(height, width)
    pad_top, pad_left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side, 3), np.uint8)
    square[pad_top : pad_top + height, pad_left : pad_left + width] = image
    return PreparedImage(square, source, scale, pad_top, pad_left, label)


def _source(ds: Dataset, frame: int = 1) -> SourceRef:
    return SourceRef(
        sop_instance_uid=str(ds.SOPInstanceUID),
        frame=frame,
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")),
    )


def prepare_radiograph(
    ds: Dataset, frame: int = 1, max_side: int | None = DEFAULT_MAX_SIDE
) -> PreparedImage:
    """A radiograph frame, windowed and padded to a square RGB image."""
    return pad_to_square(radiograph_to_uint8(ds, frame), _source(ds, frame), max_side)


# -- volumes ----------------------------------------------------------------------------------


def slice_position(ds: Dataset) -> float:
    """Position along the slice normal (mm): Image Position . (row x column cosines), PS3.3 C.7.6.2."""
    orientation = ds.get("ImageOrientationPatient")
    position = ds.get("ImagePositionPatient")
    if orientation is None or position is None:
        return float(ds.get("InstanceNumber", 0) or 0)
    row, column = np.array(orientation[:3], float), np.array(orientation[3:], float)
    return float(np.dot(np.array(position, float), np.cross(row, column)))


def sort_slices(datasets: Sequence[Dataset]) -> list[Dataset]:
    """Patient order: ascending along the slice normal (inferior to superior for axial)."""
    return sorted(datasets, key=lambda ds: (slice_position(ds), int(ds.get("InstanceNumber", 0))))


def select_evenly(count: int, limit: int = MAX_SLICES) -> list[int]:
    """Up to ``limit`` indices spread evenly over ``range(count)``, first and last included."""
    if count <= limit:
        return list(range(count))
    return [int(round(i * (count - 1) / (limit - 1))) for i in range(limit)]


def prepare_ct(
    datasets: Sequence[Dataset],
    max_slices: int = MAX_SLICES,
    max_side: int | None = DEFAULT_MAX_SIDE,
    on_progress: Progress | None = None,
) -> PreparedSeries:
    """A CT series as up to ``max_slices`` evenly spaced slices, three HU windows in RGB."""
    ordered = sort_slices(datasets)
    chosen = select_evenly(len(ordered), max_slices)
    images = []
    for n, index in enumerate(chosen, start=1):
        ds = ordered[index]
        hu = apply_modality_lut(ds.pixel_array, ds)
        label = f"slice {n} of {len(chosen)}"
        images.append(pad_to_square(window_ct(hu), _source(ds), max_side, label))
        if on_progress:
            on_progress("slices", n, len(chosen))
    return PreparedSeries(
        images, "CT", len(ordered), chosen, [slice_position(ordered[i]) for i in chosen]
    )


def prepare_mr(
    datasets: Sequence[Dataset],
    max_slices: int = MAX_SLICES,
    max_side: int | None = DEFAULT_MAX_SIDE,
    on_progress: Progress | None = None,
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> PreparedSeries:
    """An MR series, slices selected as for CT, intensities normalised over the whole series.

    MR values have no absolute scale, so one range for the series keeps slices comparable.
    """
    ordered = sort_slices(datasets)
    chosen = select_evenly(len(ordered), max_slices)
    values = [apply_modality_lut(ordered[i].pixel_array, ordered[i]) for i in chosen]
    low, high = np.percentile(np.concatenate([v.ravel() for v in values]), percentiles)
    images = []
    for n, (index, value) in enumerate(zip(chosen, values, strict=True), start=1):
        grey = scale_to_uint8(value, float(low), float(high))
        label = f"slice {n} of {len(chosen)}"
        images.append(pad_to_square(grey, _source(ordered[index]), max_side, label))
        if on_progress:
            on_progress("slices", n, len(chosen))
    return PreparedSeries(
        images, "MR", len(ordered), chosen, [slice_position(ordered[i]) for i in chosen]
    )


def prepare_series(
    datasets: Sequence[Dataset],
    max_slices: int = MAX_SLICES,
    max_side: int | None = DEFAULT_MAX_SIDE,
    on_progress: Progress | None = None,
) -> PreparedSeries:
    """Dispatch on Modality (0008,0060): CT and MR as volumes, anything else as radiographs."""
    if not datasets:
        raise ValueError("no images")
    modality = str(datasets[0].get("Modality", "")).upper()
    if modality == "CT":
        return prepare_ct(datasets, max_slices, max_side, on_progress)
    if modality == "MR":
        return prepare_mr(datasets, max_slices, max_side, on_progress)
    images = []
    for n, ds in enumerate(datasets[:max_slices], start=1):
        images.append(prepare_radiograph(ds, max_side=max_side))
        if on_progress:
            on_progress("slices", n, min(len(datasets), max_slices))
    return PreparedSeries(images, modality, len(datasets), list(range(len(images))))


# -- boxes ------------------------------------------------------------------------------------


def box_to_source(box_2d: Sequence[float], image: PreparedImage, label: str = "") -> SourceBox:
    """Map ``[y0, x0, y1, x1]`` (0-1000 of the padded square) to source pixel coordinates.

    Undoes the normalisation, the padding and the reduction; clips to the source image.
    """
    y0, x0, y1, x1 = (float(v) * image.side / BOX_SCALE for v in box_2d)
    rows, columns = image.source.rows, image.source.columns

    def to_x(x: float) -> float:
        return min(max((x - image.pad_left) / image.scale, 0.0), float(columns))

    def to_y(y: float) -> float:
        return min(max((y - image.pad_top) / image.scale, 0.0), float(rows))

    return SourceBox(
        image.source.sop_instance_uid,
        image.source.frame,
        to_x(min(x0, x1)),
        to_y(min(y0, y1)),
        to_x(max(x0, x1)),
        to_y(max(y0, y1)),
        label,
    )


def source_to_box(x0: float, y0: float, x1: float, y1: float, image: PreparedImage) -> list[float]:
    """The inverse of :func:`box_to_source`: source pixels to ``[y0, x0, y1, x1]`` in 0-1000."""

    def norm(value: float, pad: int) -> float:
        return (value * image.scale + pad) * BOX_SCALE / image.side

    return [
        norm(y0, image.pad_top),
        norm(x0, image.pad_left),
        norm(y1, image.pad_top),
        norm(x1, image.pad_left),
    ]
