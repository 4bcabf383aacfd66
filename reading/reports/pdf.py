"""The printable report: an A4 PDF drawn with reportlab (platypus)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from reading.reports import text as report_text
from reading.reports.models import Report, ReportStatus


def _styles() -> dict:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=16, spaceAfter=4),
        "heading": ParagraphStyle(
            "heading", parent=base["Heading4"], fontSize=10.5, spaceBefore=8, spaceAfter=2
        ),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13.5),
        "small": ParagraphStyle(
            "small", parent=base["BodyText"], fontSize=8.5, textColor=colors.HexColor("#444444")
        ),
        "banner": ParagraphStyle(
            "banner", parent=base["BodyText"], fontSize=11, textColor=colors.HexColor("#b00020")
        ),
    }


def _para(value: str, style) -> Paragraph:
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z").strip() if value else ""


def _header(report: Report, st: dict) -> list:
    study = report.study
    patient = study.patient
    rows = [
        ["Patient", study.display_patient_name(), "MRN", patient.patient_id],
        [
            "Born",
            patient.patient_birth_date.isoformat() if patient.patient_birth_date else "",
            "Sex",
            patient.patient_sex,
        ],
        ["Accession", study.accession_number, "Study date", str(study.study_date or "")],
        [
            "Study",
            study.study_description,
            "Modality",
            " ".join(m for m in study.modalities if m != "SR"),
        ],
        [
            "Referrer",
            study.referring_physician_name.replace("^", " "),
            "Institution",
            study.institution_name,
        ],
    ]
    table = Table(
        [[_para(str(c), st["small"]) for c in row] for row in rows],
        colWidths=[22 * mm, 68 * mm, 24 * mm, 56 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, -1), (-1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#666666")),
                ("TEXTCOLOR", (2, 0), (2, -1), colors.HexColor("#666666")),
            ]
        )
    )
    return [table, Spacer(1, 4 * mm)]


def _body(report: Report, st: dict) -> list:
    out = []
    for section in report_text.sections(report_text.display_text(report.text)):
        if section["heading"]:
            out.append(_para(section["heading"], st["heading"]))
        if section["text"].strip():
            out.append(_para(section["text"].strip(), st["body"]))
    return out


def _signatures(report: Report, st: dict) -> list:
    out = [Spacer(1, 3 * mm)]
    if report.preliminary_signed_by_id:
        out.append(
            _para(
                f"Preliminary: {report.preliminary_signed_by} — "
                f"{_when(report.preliminary_signed_at)}",
                st["small"],
            )
        )
    if report.final_signed_by_id:
        out.append(
            _para(
                f"Electronically signed: {report.final_signed_by} — "
                f"{_when(report.final_signed_at)}",
                st["small"],
            )
        )
        if report.attestation:
            out.append(_para(report.attestation, st["small"]))
    return out


def render_pdf(report: Report) -> bytes:
    """The original report followed by its signed addenda, as PDF bytes."""
    original = report.parent or report
    st = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Radiology report {original.study.accession_number}",
        author="Reading Room",
    )
    story = [_para("Radiology report", st["title"])]
    if original.status == ReportStatus.PRELIMINARY:
        story.append(_para("PRELIMINARY — not yet signed by an attending", st["banner"]))
    elif original.status == ReportStatus.ADDENDED:
        story.append(_para("FINAL, WITH ADDENDUM", st["banner"]))
    story += _header(original, st)
    story += _body(original, st)
    story += _signatures(original, st)
    for addendum in original.addenda.filter(final_signed_at__isnull=False).order_by(
        "final_signed_at"
    ):
        story.append(Spacer(1, 5 * mm))
        story += _body(addendum, st)
        story += _signatures(addendum, st)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(20 * mm, 10 * mm, f"Report {original.pk}")
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
