"""DICOM SR export of one annotation: a Measurement Report (PS3.16 TID 1500).

The annotation becomes one Planar ROI Measurements group (TID 1410) whose image
region (SCOORD, PS3.3 C.18.6) references the annotated SOP instance and frame, with
the annotation's measurements as numeric content items. Built with highdicom.
"""

from __future__ import annotations

import io
import math
import uuid

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from reading.annotations.models import Annotation, Source, Tool
from reading.studies import storage
from reading.studies.models import Instance

SR_SERIES_NUMBER = 9900
MANUFACTURER = "Reading Room"

MEASUREMENT_NAMES = {
    "length": codes.SCT.Length,
    "area": codes.SCT.Area,
    "mean": codes.SCT.Mean,
    "stddev": codes.SCT.StandardDeviation,
    "std_dev": codes.SCT.StandardDeviation,  # the viewer's name (Cornerstone's stdDev)
    "min": codes.SCT.Minimum,
    "max": codes.SCT.Maximum,
    "angle": codes.SCT.Angle,
}
UNITS = {
    "mm": codes.UCUM.Millimeter,
    "mm2": codes.UCUM.SquareMillimeter,
    "mm²": codes.UCUM.SquareMillimeter,
    "hu": codes.UCUM.HounsfieldUnit,
    "deg": codes.UCUM.Degree,
    "°": codes.UCUM.Degree,
    "": codes.UCUM.NoUnits,
}
DEFAULT_UNITS = {"length": "mm", "area": "mm2", "angle": "deg"}


class SRExportError(ValueError):
    """The annotation cannot be expressed as an SR measurement report."""


def _uid_from_uuid(value: uuid.UUID) -> str:
    # PS3.5 B.2: a UUID as a UID under the 2.25 root.
    return f"2.25.{value.int}"


def _rectangle(points: list[list[float]]) -> list[list[float]]:
    if len(points) == 4:
        corners = points
    else:
        (x0, y0), (x1, y1) = points
        corners = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    return [*corners, corners[0]]  # a closed POLYLINE repeats its first point


def _ellipse(points: list[list[float]]) -> list[list[float]]:
    """ELLIPSE wants the major axis' end points first, then the minor axis'."""
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        axes = [[[x0, cy], [x1, cy]], [[cx, y0], [cx, y1]]]
    elif len(points) == 4:
        axes = [points[0:2], points[2:4]]
    else:
        raise SRExportError("an ellipse needs 2 or 4 points.")
    axes.sort(key=lambda a: -math.dist(a[0], a[1]))
    return [*axes[0], *axes[1]]


def graphic_for(annotation: Annotation) -> tuple[hd.sr.GraphicTypeValues, np.ndarray]:
    points = annotation.geometry.get("points", [])
    tool = annotation.tool
    if not points:
        raise SRExportError("the annotation has no location on the image.")
    if "world" in annotation.geometry:
        # Drawn on a reformatted plane: its 2D points are only a projection onto the
        # nearest slice, so an image-referenced SCOORD would put it in the wrong place.
        raise SRExportError("a measurement on a reformatted (MPR) plane has no source image.")
    if tool == Tool.ELLIPSE_ROI:
        return hd.sr.GraphicTypeValues.ELLIPSE, np.array(_ellipse(points), dtype=float)
    if tool in (Tool.RECTANGLE_ROI, Tool.AI_BOX):
        return hd.sr.GraphicTypeValues.POLYLINE, np.array(_rectangle(points), dtype=float)
    if len(points) == 1:
        return hd.sr.GraphicTypeValues.POINT, np.array(points, dtype=float)
    if tool == Tool.AI_FINDING and len(points) >= 3:
        return hd.sr.GraphicTypeValues.POLYLINE, np.array([*points, points[0]], dtype=float)
    return hd.sr.GraphicTypeValues.POLYLINE, np.array(points, dtype=float)


def _measurements(annotation: Annotation, source: Instance) -> list[hd.sr.Measurement]:
    values = dict(annotation.measurements or {})
    spacing = source.pixel_spacing
    points = annotation.geometry.get("points", [])
    if annotation.tool == Tool.LENGTH and "length" not in values and spacing and len(points) == 2:
        # PixelSpacing (0028,0030) is row spacing, column spacing.
        dx = (points[1][0] - points[0][0]) * float(spacing[1])
        dy = (points[1][1] - points[0][1]) * float(spacing[0])
        values["length"] = {"value": math.hypot(dx, dy), "unit": "mm"}
    result = []
    for name, item in values.items():
        concept = MEASUREMENT_NAMES.get(name)
        if concept is None:
            continue
        unit_text = (item.get("unit") or DEFAULT_UNITS.get(name, "")).strip()
        unit = UNITS.get(unit_text.lower()) or hd.sr.CodedConcept(unit_text, "UCUM", unit_text)
        result.append(hd.sr.Measurement(name=concept, value=float(item["value"]), unit=unit))
    return result


def _person_name(name: str) -> str:
    """PN (PS3.5 6.2.1): "Family^Given"; one component gets a trailing caret."""
    if "^" in name:
        return name[:64]
    parts = name.split()
    if len(parts) >= 2:
        return f"{parts[-1]}^{' '.join(parts[:-1])}"[:64]
    return f"{name[:63]}^"


def _observation_context(annotation: Annotation, observer) -> hd.sr.ObservationContext:
    if annotation.source == Source.AI:
        model = str(annotation.provenance.get("model", "AI model"))[:64]
        device = hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=generate_uid(), name=model, manufacturer_name=MANUFACTURER
            ),
        )
        return hd.sr.ObservationContext(observer_device_context=device)
    person = annotation.author or observer
    name = (getattr(person, "display_name", "") or getattr(person, "username", "")) or "Unknown"
    return hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=_person_name(name)
            ),
        )
    )


def build_measurement_report(annotation: Annotation, source: Instance, observer=None) -> bytes:
    """The annotation as a Comprehensive 3D SR Part 10 file (bytes), ready for ingest.

    Parameters
    ----------
    annotation
        The annotation; its points are SCOORD pixel coordinates (column, row).
    source
        The annotated instance; its stored header is the SR's evidence, which gives
        the report the patient and study of the image (PS3.3 C.17.2).
    observer
        The user exporting, named as observer when the annotation has no author.
    """
    evidence = pydicom.dcmread(
        io.BytesIO(storage.read_all(source.file_path)), stop_before_pixels=True
    )
    graphic_type, graphic_data = graphic_for(annotation)
    frames = [annotation.frame_number] if (source.number_of_frames or 1) > 1 else None
    region = hd.sr.ImageRegion(
        graphic_type=graphic_type,
        graphic_data=graphic_data,
        source_image=hd.sr.SourceImageForRegion(
            referenced_sop_class_uid=source.sop_class_uid,
            referenced_sop_instance_uid=source.sop_instance_uid,
            referenced_frame_numbers=frames,
        ),
    )
    algorithm = None
    if annotation.source == Source.AI:
        algorithm = hd.sr.AlgorithmIdentification(
            name=str(annotation.provenance.get("model", "AI model"))[:64],
            version=str(annotation.provenance.get("version", "unknown"))[:64],
        )
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=_uid_from_uuid(annotation.pk),
            identifier=(annotation.label or annotation.get_tool_display())[:64],
        ),
        referenced_region=region,
        finding_type=codes.SCT.Finding,
        algorithm_id=algorithm,
        measurements=_measurements(annotation, source) or None,
    )
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(annotation, observer),
        procedure_reported=codes.SCT.ImagingProcedure,
        imaging_measurements=[group],
    )
    return comprehensive_3d_sr_bytes([evidence], report, "Reading Room measurement")


def comprehensive_3d_sr_bytes(
    evidence: list, report, series_description: str, series_number: int = SR_SERIES_NUMBER
) -> bytes:
    """A Comprehensive 3D SR document (PS3.3 A.35.13) in a new series, as Part 10 bytes."""
    document = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=report,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description=series_description,
    )
    buffer = io.BytesIO()
    document.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
