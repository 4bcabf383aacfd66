"""The signed report as a DICOM Comprehensive SR (PS3.16 TID 2000 Basic Diagnostic
Imaging Report), built with highdicom.

One CONTAINER per section (headings from CID 7001), the section's text as a TEXT item
(CID 7002), and the study's measurements as NUM items under Findings. An addendum's SR
holds the original and the addendum, and names the original SR in the Predecessor
Documents Sequence (0040,A360; PS3.3 C.17.2.3).
"""

from __future__ import annotations

import io

import highdicom as hd
import pydicom
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from reading.annotations.models import Annotation, ReviewState, Source
from reading.annotations.sr import DEFAULT_UNITS, MANUFACTURER, MEASUREMENT_NAMES, UNITS
from reading.annotations.sr import _person_name as person_name
from reading.reports import text as report_text
from reading.reports.models import Report, ReportStatus
from reading.studies import storage
from reading.studies.models import Instance

SR_SERIES_NUMBER = 9901
SERIES_DESCRIPTION = "Reading Room report"
REL = hd.sr.RelationshipTypeValues

# Section heading -> (container concept, text item concept).
SECTIONS = {
    "CLINICAL HISTORY": (codes.DCM.History, codes.DCM.History),
    "HISTORY": (codes.DCM.History, codes.DCM.History),
    "INDICATION": (codes.DCM.History, codes.DCM.History),
    "TECHNIQUE": (codes.DCM.CurrentProcedureDescriptions, codes.DCM.ProcedureDescription),
    "PROCEDURE": (codes.DCM.CurrentProcedureDescriptions, codes.DCM.ProcedureDescription),
    "COMPARISON": (codes.DCM.PriorProcedureDescriptions, codes.DCM.ProcedureDescription),
    "FINDINGS": (codes.DCM.Findings, codes.DCM.Finding),
    "IMPRESSION": (codes.DCM.Impressions, codes.DCM.Impression),
    "CONCLUSION": (codes.DCM.Conclusions, codes.DCM.Conclusion),
    "RECOMMENDATION": (codes.DCM.Recommendations, codes.DCM.Recommendation),
    "RECOMMENDATIONS": (codes.DCM.Recommendations, codes.DCM.Recommendation),
    "ADDENDUM": (codes.DCM.Addendum, codes.DCM.Addendum),
}


class ReportSRError(ValueError):
    """The report cannot be written as an SR (e.g. the study has no stored image)."""


def _text_item(concept, value: str) -> hd.sr.TextContentItem:
    return hd.sr.TextContentItem(name=concept, value=value, relationship_type=REL.CONTAINS)


def measurement_items(study_id: int) -> list:
    """The study's measurements (human, or AI ones a radiologist accepted) as NUM items."""
    rows = Annotation.objects.filter(study_id=study_id, deleted_at__isnull=True).exclude(
        measurements={}
    )
    instances = dict(
        Instance.objects.filter(series__study_id=study_id).values_list(
            "sop_instance_uid", "instance_number"
        )
    )
    items: list = []
    for a in rows.order_by("created_at"):
        if a.source == Source.AI and a.review_state not in (
            ReviewState.ACCEPTED,
            ReviewState.EDITED,
        ):
            continue
        label = a.label or a.get_tool_display()
        where = f"image {instances.get(a.sop_instance_uid) or '?'}"
        items.append(_text_item(codes.DCM.Finding, f"Measurement: {label} ({where})"))
        for name, item in (a.measurements or {}).items():
            concept = MEASUREMENT_NAMES.get(name)
            if concept is None or not isinstance(item, dict) or "value" not in item:
                continue
            unit_text = (item.get("unit") or DEFAULT_UNITS.get(name, "")).strip()
            unit = UNITS.get(unit_text.lower()) or hd.sr.CodedConcept(unit_text, "UCUM", unit_text)
            items.append(
                hd.sr.NumContentItem(
                    name=concept,
                    value=float(item["value"]),
                    unit=unit,
                    relationship_type=REL.CONTAINS,
                )
            )
    return items


def _section_containers(text: str, measurements: list | None = None) -> list:
    out = []
    measured = False
    for section in report_text.sections(report_text.display_text(text)):
        heading, body = section["heading"], section["text"].strip()
        container_concept, text_concept = SECTIONS.get(
            heading, (codes.DCM.Findings, codes.DCM.Finding)
        )
        if heading and heading not in SECTIONS:
            body = f"{heading}: {body}"
        container = hd.sr.ContainerContentItem(
            name=container_concept, relationship_type=REL.CONTAINS
        )
        children = [_text_item(text_concept, body)] if body else []
        if heading == "FINDINGS" and measurements and not measured:
            children += measurements
            measured = True
        if not children:
            continue
        container.ContentSequence = hd.sr.ContentSequence(children)
        out.append(container)
    if measurements and not measured:
        container = hd.sr.ContainerContentItem(
            name=codes.DCM.Findings, relationship_type=REL.CONTAINS
        )
        container.ContentSequence = hd.sr.ContentSequence(measurements)
        out.append(container)
    return out


def _observer(report: Report) -> hd.sr.ObservationContext:
    signer = report.final_signed_by or report.preliminary_signed_by or report.created_by
    name = str(signer) if signer is not None else "Unknown"
    return hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=person_name(name)
            ),
        )
    )


def _evidence(report: Report) -> pydicom.Dataset:
    image = (
        Instance.objects.filter(series__study_id=report.study_id)
        .exclude(series__modality="SR")
        .order_by("series__series_number", "instance_number")
        .first()
    )
    if image is None:
        raise ReportSRError("The study has no stored image to attach the report to.")
    return pydicom.dcmread(io.BytesIO(storage.read_all(image.file_path)), stop_before_pixels=True)


def _stored_dataset(sop_instance_uid: str) -> pydicom.Dataset | None:
    row = Instance.objects.filter(sop_instance_uid=sop_instance_uid).first()
    if row is None:
        return None
    return pydicom.dcmread(io.BytesIO(storage.read_all(row.file_path)), stop_before_pixels=True)


def build_report_sr(report: Report) -> bytes:
    """The report (with its original, for an addendum) as a Comprehensive SR Part 10 file.

    Parameters
    ----------
    report
        A report signed final. For an addendum, the content is the original's sections
        followed by an Addendum container, and the original's SR (when stored) is its
        predecessor document.
    """
    original = report.parent or report
    measurements = measurement_items(report.study_id)
    content = _section_containers(original.text, measurements)
    previous = []
    if report.parent_id:
        addendum_text = report_text.display_text(report.text)
        body = report_text.section_text(addendum_text, "ADDENDUM") or addendum_text.strip()
        container = hd.sr.ContainerContentItem(
            name=codes.DCM.Addendum, relationship_type=REL.CONTAINS
        )
        container.ContentSequence = hd.sr.ContentSequence([_text_item(codes.DCM.Addendum, body)])
        content.append(container)
        if original.sr_sop_instance_uid:
            predecessor = _stored_dataset(original.sr_sop_instance_uid)
            if predecessor is not None:
                previous.append(predecessor)
    root = hd.sr.ContainerContentItem(name=codes.LN.DiagnosticImagingReport, template_id="2000")
    root.ContentSequence = hd.sr.ContentSequence([*_observer(report), *content])
    final = report.status in (ReportStatus.FINAL, ReportStatus.ADDENDED)
    signer = report.final_signed_by
    document = hd.sr.ComprehensiveSR(
        evidence=[_evidence(report)],
        content=root,
        series_instance_uid=generate_uid(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=generate_uid(),
        instance_number=1 + original.addenda.filter(final_signed_at__isnull=False).count()
        if report.parent_id
        else 1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=final,
        is_verified=bool(final and signer),
        verifying_observer_name=person_name(str(signer)) if final and signer else None,
        verifying_organization=(report.study.institution_name or MANUFACTURER)[:64]
        if final and signer
        else None,
        previous_versions=previous or None,
        series_description=SERIES_DESCRIPTION,
    )
    buffer = io.BytesIO()
    document.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
