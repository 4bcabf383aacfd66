"""The report leaving the system: PDF, DICOM SR stored into the study, FHIR R4.

Each export is an audit event (``export``).
"""

from __future__ import annotations

import base64

from django.db import transaction

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.reports import text as report_text
from reading.reports.models import Report, ReportStatus
from reading.reports.services import ReportError, WrongStatus

RS = ReportStatus

# DiagnosticReport.status (R4 value set diagnostic-report-status).
FHIR_STATUS = {
    RS.DRAFT: "partial",
    RS.PRELIMINARY: "preliminary",
    RS.FINAL: "final",
    RS.ADDENDED: "amended",
}


def _audit(user, report: Report, what: str, request=None) -> None:
    record_access(
        user, AuditAction.EXPORT, study=report.study, request=request, detail=f"{what}:{report.pk}"
    )


def report_pdf(report: Report, user, request=None) -> bytes:
    """The signed report (preliminary or later) as PDF, addenda included."""
    from reading.reports.pdf import render_pdf

    original = report.parent or report
    if original.status == RS.DRAFT:
        raise WrongStatus("Sign the report before printing it.")
    data = render_pdf(original)
    _audit(user, original, "pdf", request)
    return data


def store_report_sr(report: Report, *, actor, request=None):
    """Write the final report (or addendum) as a DICOM SR and ingest it into its study.

    Returns the ``IngestResult``; the SR is then served by DICOMweb like any instance.
    """
    from reading.reports.sr import ReportSRError, build_report_sr
    from reading.studies.services import ingest_instance

    report = Report.objects.select_related(
        "study__patient", "parent", "final_signed_by", "preliminary_signed_by", "created_by"
    ).get(pk=report.pk)
    if report.status not in (RS.FINAL, RS.ADDENDED):
        raise WrongStatus("Only final reports are stored as DICOM SR.")
    try:
        raw = build_report_sr(report)
    except ReportSRError as exc:
        raise ReportError(str(exc)) from exc
    result = ingest_instance(raw, name=f"report-{report.pk}.dcm")
    if not result.ok:
        raise ReportError(f"storing the SR failed: {result.reason}")
    with transaction.atomic():
        Report.objects.filter(pk=report.pk).update(
            sr_sop_instance_uid=result.sop_instance_uid,
            sr_series_instance_uid=result.series_instance_uid,
        )
        _audit(actor, report, f"sr:{result.sop_instance_uid}", request)
    return result


def _instant(value) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _full_text(original: Report) -> str:
    parts = [report_text.display_text(original.text).strip()]
    for addendum in original.addenda.filter(final_signed_at__isnull=False).order_by(
        "final_signed_at"
    ):
        parts.append(report_text.display_text(addendum.text).strip())
    return "\n\n".join(p for p in parts if p) + "\n"


def fhir_diagnostic_report(report: Report, user, request=None) -> dict:
    """A FHIR R4 DiagnosticReport of the report (the original, with its signed addenda)."""
    original = report.parent or report
    study = original.study
    patient = study.patient
    issued = original.final_signed_at or original.preliminary_signed_at or original.updated_at
    impression = report_text.display_text(
        report_text.section_text(original.text, "IMPRESSION")
    ).strip()
    resource: dict = {
        "resourceType": "DiagnosticReport",
        "id": str(original.pk),
        "meta": {"lastUpdated": _instant(original.updated_at)},
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{original.pk}"}],
        "status": FHIR_STATUS[RS(original.status)],
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "RAD",
                        "display": "Radiology",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": "18748-4",
                    "display": "Diagnostic imaging study",
                }
            ],
            "text": study.study_description or "Imaging study",
        },
        "subject": {
            "identifier": {"value": patient.patient_id},
            "display": study.display_patient_name() or patient.patient_id,
        },
        "issued": _instant(issued),
        "imagingStudy": [
            {
                "identifier": {
                    "system": "urn:dicom:uid",
                    "value": f"urn:oid:{study.study_instance_uid}",
                },
                "display": study.study_description or study.study_instance_uid,
            }
        ],
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "en",
                "title": "Radiology report",
                "data": base64.b64encode(_full_text(original).encode()).decode(),
            }
        ],
    }
    if study.accession_number:
        resource["identifier"].append(
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "ACSN",
                        }
                    ]
                },
                "value": study.accession_number,
            }
        )
    if study.study_date:
        resource["effectiveDateTime"] = study.study_date.isoformat()
    if original.attending_id:
        resource["performer"] = [{"display": str(original.attending)}]
    interpreters = [
        u for u in (original.preliminary_signed_by, original.final_signed_by) if u is not None
    ]
    if interpreters:
        resource["resultsInterpreter"] = [{"display": str(u)} for u in dict.fromkeys(interpreters)]
    if impression:
        resource["conclusion"] = impression
    _audit(user, original, "fhir", request)
    return resource
