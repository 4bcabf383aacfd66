"""Checks on what clients send as geometry, measurements and provenance.

Pure functions: they return the cleaned value or raise ``ValidationError``. Geometry
is points in image pixel coordinates (column, row) of the referenced frame.
"""

from __future__ import annotations

import json
import math
import re

from django.core.exceptions import ValidationError

from reading.annotations.models import Tool

# Pixel coordinates beyond this are nonsense for any image DICOM can carry (Rows and
# Columns are US, at most 65535); a little margin lets handles sit off the image.
COORDINATE_LIMIT = 100_000.0
MAX_GEOMETRY_BYTES = 16 * 1024
MAX_PROVENANCE_BYTES = 8 * 1024
MAX_MEASUREMENTS = 16
MEASUREMENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# Where points may lie on the referenced frame (Rows x Columns, image pixel coordinates
# from 0 to Columns across and 0 to Rows down). An AI mark is on the image: the model's
# boxes are mapped onto the source pixels and clipped to them, and a reader's edit of one
# stays there. A human handle may be dragged off the image (Cornerstone's tools allow
# it, ``preventHandleOutsideImage`` is off) but by no more than the image's own size.
ON_IMAGE_TOOLS = frozenset({Tool.AI_BOX, Tool.AI_FINDING})
OFF_IMAGE_MARGIN = 1.0  # times the image's width or height
# Tools whose two points are a box's corners, top left then bottom right.
ORDERED_BOX_TOOLS = frozenset({Tool.AI_BOX})

# How many points each tool's geometry holds (inclusive range).
POINTS_PER_TOOL: dict[str, tuple[int, int]] = {
    Tool.LENGTH: (2, 2),  # the two end points
    Tool.ANGLE: (3, 3),  # end, vertex, end
    Tool.ELLIPSE_ROI: (2, 4),  # two bounding-box corners, or both axes' end points
    Tool.RECTANGLE_ROI: (2, 4),  # two opposite corners, or all four
    Tool.PROBE: (1, 1),
    Tool.ARROW: (2, 2),  # tip, tail
    Tool.AI_BOX: (2, 2),  # two opposite corners
    Tool.AI_FINDING: (0, 64),  # a finding may point at a spot, an outline, or nothing
}


def _json_size(value) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _number(value, where: str) -> float:
    # bool is an int subclass in Python; true/false are not coordinates.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{where} must be a number.")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"{where} must be finite.")
    return number


def _point(value, where: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValidationError(f"{where} must be [x, y].")
    point = [_number(v, where) for v in value]
    if any(abs(v) > COORDINATE_LIMIT for v in point):
        raise ValidationError(f"{where} is outside the image coordinate range.")
    return point


def clean_geometry(tool: str, geometry, frame: tuple[int | None, int | None] | None = None) -> dict:
    """``{"points": [[x, y], ...], "text_box": [x, y]?}`` with the tool's point count.

    ``frame`` is the referenced frame's ``(rows, columns)`` (Rows (0028,0010), Columns
    (0028,0011)); when given, the points are checked against it (:func:`check_on_frame`).
    """
    if not isinstance(geometry, dict):
        raise ValidationError("geometry must be an object.")
    if _json_size(geometry) > MAX_GEOMETRY_BYTES:
        raise ValidationError("geometry is too large.")
    unknown = set(geometry) - {"points", "text_box", "world", "plane"}
    if unknown:
        raise ValidationError(f"geometry has unknown keys: {', '.join(sorted(unknown))}.")
    points = geometry.get("points")
    if not isinstance(points, list):
        raise ValidationError("geometry.points must be a list of [x, y].")
    low, high = POINTS_PER_TOOL.get(tool, (0, 0))
    if not low <= len(points) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ValidationError(f"a {tool} annotation has {expected} points, not {len(points)}.")
    cleaned = {"points": [_point(p, f"geometry.points[{i}]") for i, p in enumerate(points)]}
    if frame is not None:
        check_on_frame(tool, cleaned["points"], *frame)
    if "text_box" in geometry and geometry["text_box"] is not None:
        cleaned["text_box"] = _point(geometry["text_box"], "geometry.text_box")
    if geometry.get("world") is not None or geometry.get("plane") is not None:
        cleaned.update(_clean_plane(geometry, len(cleaned["points"])))
    return cleaned


def check_on_frame(tool: str, points: list, rows: int | None, columns: int | None) -> None:
    """Refuse points off a ``rows`` x ``columns`` frame (see ``ON_IMAGE_TOOLS``) and a box
    with no size or with its corners the wrong way round. Unknown dimensions (an instance
    indexed without Rows/Columns) leave the extent unchecked, never the box's shape."""
    if rows and columns:
        margin = 0.0 if tool in ON_IMAGE_TOOLS else OFF_IMAGE_MARGIN
        low_x, high_x = -margin * columns, (1 + margin) * columns
        low_y, high_y = -margin * rows, (1 + margin) * rows
        for i, (x, y) in enumerate(points):
            if not (low_x <= x <= high_x and low_y <= y <= high_y):
                place = "on" if not margin else "near"
                raise ValidationError(
                    f"geometry.points[{i}] ({x:g}, {y:g}) is not {place} the image "
                    f"({columns} columns x {rows} rows)."
                )
    if tool in ORDERED_BOX_TOOLS:
        (x0, y0), (x1, y1) = points
        if not (x0 < x1 and y0 < y1):
            raise ValidationError(
                f"a {tool} is its top-left then its bottom-right corner, with a width and "
                f"height above zero; got ({x0:g}, {y0:g}) to ({x1:g}, {y1:g})."
            )


def _vector(value, where: str, size: int, limit: float) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) != size:
        raise ValidationError(f"{where} must have {size} numbers.")
    vector = [_number(v, where) for v in value]
    if any(abs(v) > limit for v in vector):
        raise ValidationError(f"{where} is out of range.")
    return vector


def _clean_plane(geometry: dict, count: int) -> dict:
    """A measurement drawn on a reformatted (MPR) plane: ``world`` holds its points in
    patient coordinates (mm, PS3.3 C.7.6.2.1.1), one per image point, and ``plane`` the
    unit ``normal`` and ``view_up`` of the plane it was drawn in; ``points`` stay its
    projection onto the referenced slice."""
    world, plane = geometry.get("world"), geometry.get("plane")
    if not isinstance(world, list) or len(world) != count:
        raise ValidationError("geometry.world must hold one [x, y, z] per point.")
    if not isinstance(plane, dict) or set(plane) != {"normal", "view_up"}:
        raise ValidationError("geometry.plane must be {normal, view_up}.")
    return {
        "world": [
            _vector(p, f"geometry.world[{i}]", 3, COORDINATE_LIMIT) for i, p in enumerate(world)
        ],
        "plane": {k: _vector(plane[k], f"geometry.plane.{k}", 3, 1.01) for k in plane},
    }


def clean_measurements(measurements) -> dict:
    """``{"length": {"value": 12.5, "unit": "mm"}, ...}``; a bare number has no unit."""
    if measurements in (None, ""):
        return {}
    if not isinstance(measurements, dict):
        raise ValidationError("measurements must be an object.")
    if len(measurements) > MAX_MEASUREMENTS:
        raise ValidationError(f"at most {MAX_MEASUREMENTS} measurements.")
    cleaned = {}
    for name, item in measurements.items():
        if not isinstance(name, str) or not MEASUREMENT_NAME_RE.match(name):
            raise ValidationError(f"measurement name {name!r} must be lower_snake_case.")
        if isinstance(item, dict):
            if set(item) - {"value", "unit"}:
                raise ValidationError(f"measurement {name} has keys other than value, unit.")
            unit = item.get("unit", "")
            if not isinstance(unit, str) or len(unit) > 16:
                raise ValidationError(f"measurement {name}: unit must be a short string.")
            cleaned[name] = {
                "value": _number(item.get("value"), f"measurement {name}"),
                "unit": unit,
            }
        else:
            cleaned[name] = {"value": _number(item, f"measurement {name}"), "unit": ""}
    return cleaned


def clean_provenance(provenance) -> dict:
    """Free-form but bounded: for AI, e.g. ``{"model": ..., "prompt": ..., "job_id": ...}``."""
    if provenance in (None, ""):
        return {}
    if not isinstance(provenance, dict):
        raise ValidationError("provenance must be an object.")
    if _json_size(provenance) > MAX_PROVENANCE_BYTES:
        raise ValidationError("provenance is too large.")
    return provenance
