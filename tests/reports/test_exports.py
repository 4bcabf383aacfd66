"""Exports: the SR round trip (stored, read back, served by WADO-RS), FHIR, PDF."""

import base64
import io

import highdicom as hd
import numpy as np
import pydicom
import pypdfium2 as pdfium
import pytest
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from pydicom.sr.codedict import codes

from reading.annotations.services import create_annotation
from reading.audit.models import AuditEvent
from reading.reports import services
from reading.reports.models import Report
from reading.studies import storage
from reading.studies.models import Instance
from tests.reports.conftest import fill

pytestmark = pytest.mark.django_db


def _final(resident, attending, study) -> Report:
    report, _ = services.get_or_create_report(resident, study.study_instance_uid)
    text = fill(report.text).replace("IMPRESSION:\nsee above", "IMPRESSION:\nNo acute disease.")
    services.save_text(report, text, resident)
    services.sign_preliminary(report, resident, attending)
    services.sign_final(report, attending)
    return Report.objects.get(pk=report.pk)


def _read_sr(sop_uid):
    row = Instance.objects.select_related("series").get(sop_instance_uid=sop_uid)
    raw = storage.read_all(row.file_path)
    return row, pydicom.dcmread(io.BytesIO(raw)), hd.sr.srread(io.BytesIO(raw))


def _sections(ds) -> dict:
    out = {}
    for item in ds.ContentSequence:
        if item.ValueType == "CONTAINER":
            name = item.ConceptNameCodeSequence[0].CodeMeaning
            out[name] = [
                (child.ValueType, getattr(child, "TextValue", None))
                for child in item.ContentSequence
            ]
    return out


def test_final_sign_stores_an_sr_served_by_wado(
    resident, attending, ct_chest, as_attending, as_outsider
):
    sop = Instance.objects.filter(series__study=ct_chest).first().sop_instance_uid
    create_annotation(
        study=ct_chest,
        author=resident,
        data={
            "sop_instance_uid": sop,
            "tool": "length",
            "geometry": {"points": [[4.0, 4.0], [14.0, 4.0]]},
            "label": "RUL nodule",
            "measurements": {"length": {"value": 7.0, "unit": "mm"}},
        },
    )
    report = _final(resident, attending, ct_chest)
    assert report.sr_sop_instance_uid
    row, ds, sr = _read_sr(report.sr_sop_instance_uid)
    assert row.series.study_id == ct_chest.pk and row.series.modality == "SR"
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    assert ds.StudyInstanceUID == ct_chest.study_instance_uid and ds.PatientID == "MRN0001"
    assert ds.CompletionFlag == "COMPLETE" and ds.VerificationFlag == "VERIFIED"
    assert ds.VerifyingObserverSequence[0].VerifyingObserverName == "Att^"
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "2000"
    assert sr.ConceptNameCodeSequence[0].CodeValue == codes.LN.DiagnosticImagingReport.value
    sections = _sections(ds)
    assert sections["Impressions"] == [("TEXT", "No acute disease.")]
    assert (
        "CT images of the chest were obtained without"
        in sections["Current Procedure Descriptions"][0][1]
    )
    findings = sections["Findings"]
    assert ("TEXT", "Measurement: RUL nodule (image 1)") in findings
    num = next(
        i
        for i in ds.ContentSequence
        if i.ValueType == "CONTAINER" and i.ConceptNameCodeSequence[0].CodeMeaning == "Findings"
    )
    nums = [c for c in num.ContentSequence if c.ValueType == "NUM"]
    assert float(nums[0].MeasuredValueSequence[0].NumericValue) == pytest.approx(7.0)
    # Served by DICOMweb like any instance; not to an outsider.
    url = (
        f"/dicomweb/studies/{ct_chest.study_instance_uid}/series/"
        f"{report.sr_series_instance_uid}/instances/{report.sr_sop_instance_uid}"
    )
    got = as_attending.get(url, headers={"Accept": "application/dicom"})
    assert got.status_code == 200
    back = pydicom.dcmread(io.BytesIO(b"".join(got.streaming_content)))
    assert back.SOPInstanceUID == report.sr_sop_instance_uid
    assert as_outsider.get(url, headers={"Accept": "application/dicom"}).status_code in (403, 404)


def test_addendum_sr_references_the_original(resident, attending, ct_chest):
    report = _final(resident, attending, ct_chest)
    addendum, _ = services.create_addendum(report, attending)
    services.save_text(addendum, "ADDENDUM:\nThe nodule is calcified: benign.\n", attending)
    services.sign_final(addendum, attending)
    addendum.refresh_from_db()
    assert (
        addendum.sr_sop_instance_uid and addendum.sr_sop_instance_uid != report.sr_sop_instance_uid
    )
    _, ds, _ = _read_sr(addendum.sr_sop_instance_uid)
    predecessor = ds.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0]
    assert (
        predecessor.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == report.sr_sop_instance_uid
    )
    sections = _sections(ds)
    assert sections["Addendum"] == [("TEXT", "The nodule is calcified: benign.")]
    assert sections["Impressions"] == [("TEXT", "No acute disease.")]


def test_fhir_diagnostic_report_validates_with_mapped_statuses(
    as_resident, resident, attending, ct_chest
):
    report, _ = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    draft = as_resident.get(f"/api/reports/{report.pk}/fhir").json()
    assert DiagnosticReport.model_validate(draft).status == "partial"
    services.save_text(report, fill(report.text), resident)
    services.sign_preliminary(report, resident, attending)
    assert as_resident.get(f"/api/reports/{report.pk}/fhir").json()["status"] == "preliminary"
    services.sign_final(report, attending)
    final = as_resident.get(f"/api/reports/{report.pk}/fhir")
    assert final["Content-Type"].startswith("application/fhir+json")
    resource = DiagnosticReport.model_validate(final.json())
    assert resource.status == "final" and resource.code.coding[0].code == "18748-4"
    assert resource.subject.identifier.value == "MRN0001"
    assert resource.conclusion == "see above"
    assert "Res" in [p.display for p in resource.resultsInterpreter]
    addendum, _ = services.create_addendum(report, attending)
    services.save_text(addendum, "ADDENDUM:\nCorrection: left, not right.\n", attending)
    services.sign_final(addendum, attending)
    raw = as_resident.get(f"/api/reports/{addendum.pk}/fhir").json()
    amended = DiagnosticReport.model_validate(raw)
    assert amended.status == "amended" and amended.id == str(report.pk)
    text = base64.b64decode(raw["presentedForm"][0]["data"]).decode()
    assert "FINDINGS:" in text and "Correction: left, not right." in text


def test_pdf_renders_with_ink(as_resident, as_outsider, resident, attending, ct_chest, tmp_path):
    report, _ = services.get_or_create_report(resident, ct_chest.study_instance_uid)
    assert as_resident.get(f"/api/reports/{report.pk}/pdf").status_code == 409  # a draft
    services.save_text(report, fill(report.text), resident)
    services.sign_preliminary(report, resident, attending)
    services.sign_final(report, attending)
    response = as_resident.get(f"/api/reports/{report.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    pdf = pdfium.PdfDocument(response.content)
    page = pdf[0]
    words = page.get_textpage().get_text_range()
    assert "Radiology report" in words and "FINDINGS" in words and "Test Patient" in words
    assert "Electronically signed: Att" in words
    image = page.render(scale=1).to_pil().convert("L")
    image.save(tmp_path / "report.png")
    pixels = np.asarray(image)
    ink = (pixels < 128).mean()
    assert 0.005 < ink < 0.3, ink  # text on a white page
    assert AuditEvent.objects.filter(action="export", detail=f"pdf:{report.pk}").exists()
    assert as_outsider.get(f"/api/reports/{report.pk}/pdf").status_code == 403
