"""SR export: write, then read back what was stored (as other viewers would)."""

import io

import highdicom as hd
import pydicom
import pytest

from reading.annotations.models import Annotation, Source
from reading.annotations.services import create_annotation, export_annotation_sr
from reading.audit.models import AuditEvent
from reading.studies import storage
from reading.studies.models import Instance, Study

pytestmark = pytest.mark.django_db


def _stored_sr(sop_uid):
    instance = Instance.objects.get(sop_instance_uid=sop_uid)
    ds = pydicom.dcmread(io.BytesIO(storage.read_all(instance.file_path)))
    return instance, hd.sr.srread(io.BytesIO(storage.read_all(instance.file_path))), ds


def test_export_length_as_tid1500_into_the_study(attending_client, attending, ct_study):
    study_uid, sops, series_uid = ct_study
    created = attending_client.post(
        f"/api/studies/{study_uid}/annotations/",
        {
            "sop_instance_uid": sops[2],
            "tool": "length",
            "geometry": {"points": [[4.0, 4.0], [14.0, 4.0]]},
            "label": "RUL nodule",
        },
        content_type="application/json",
    ).json()
    response = attending_client.post(f"/api/annotations/{created['id']}/export-sr/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["study_instance_uid"] == study_uid
    assert body["annotation"]["sr_sop_instance_uid"] == body["sop_instance_uid"]

    instance, sr, ds = _stored_sr(body["sop_instance_uid"])
    assert instance.series.study.study_instance_uid == study_uid
    assert instance.series.modality == "SR"
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert ds.PatientID == "MRN0001" and ds.StudyInstanceUID == study_uid
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 1
    group = groups[0]
    assert group.tracking_identifier == "RUL nodule"
    region = group.roi
    assert region.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    assert region.value.tolist() == [[4.0, 4.0], [14.0, 4.0]]
    source = region.ContentSequence[0].ReferencedSOPSequence[0]
    assert source.ReferencedSOPInstanceUID == sops[2]
    (length,) = group.get_measurements()
    # Length from PixelSpacing 0.7 mm: 10 columns -> 7 mm.
    assert length.value == pytest.approx(7.0)
    assert length.unit.value == "mm"
    # The source image is recorded as evidence.
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == series_uid
    assert AuditEvent.objects.filter(action="export", study_instance_uid=study_uid).exists()


def test_export_ellipse_with_hu_stats_and_ai_provenance(attending, ct_study):
    study_uid, sops, _ = ct_study
    study = Study.objects.get(study_instance_uid=study_uid)
    annotation = create_annotation(
        study=study,
        author=None,
        source=Source.AI,
        provenance={"model": "medgemma-1.5-4b-it", "version": "1.5"},
        data={
            "sop_instance_uid": sops[0],
            "tool": "ellipse_roi",
            "geometry": {"points": [[2, 10], [22, 10], [12, 6], [12, 14]]},
            "measurements": {
                "mean": {"value": 42.5, "unit": "HU"},
                "std_dev": {"value": 3.25, "unit": "HU"},
                "area": {"value": 98.9, "unit": "mm2"},
            },
        },
    )
    result = export_annotation_sr(annotation, actor=attending)
    assert result.ok
    _, sr, _ = _stored_sr(result.sop_instance_uid)
    group = sr.content.get_planar_roi_measurement_groups()[0]
    assert group.roi.graphic_type == hd.sr.GraphicTypeValues.ELLIPSE
    # Major axis (length 20) first, then the minor axis.
    assert group.roi.value.tolist() == [[2, 10], [22, 10], [12, 6], [12, 14]]
    values = {m.name.meaning: (m.value, m.unit.value) for m in group.get_measurements()}
    assert values["Mean"] == (pytest.approx(42.5), "[hnsf'U]")
    assert values["Standard Deviation"] == (pytest.approx(3.25), "[hnsf'U]")
    assert values["Area"] == (pytest.approx(98.9), "mm2")
    texts = {
        item.ConceptNameCodeSequence[0].CodeMeaning: item.get("TextValue")
        for item in group[0].ContentSequence
    }
    assert texts["Algorithm Name"] == "medgemma-1.5-4b-it"
    assert Annotation.objects.get(pk=annotation.pk).sr_sop_instance_uid == result.sop_instance_uid


def test_export_of_deleted_annotation_is_refused(attending_client, attending, ct_study):
    study_uid, sops, _ = ct_study
    created = attending_client.post(
        f"/api/studies/{study_uid}/annotations/",
        {"sop_instance_uid": sops[0], "tool": "probe", "geometry": {"points": [[3, 3]]}},
        content_type="application/json",
    ).json()
    attending_client.delete(f"/api/annotations/{created['id']}/")
    response = attending_client.post(f"/api/annotations/{created['id']}/export-sr/")
    assert response.status_code == 400
    assert not Instance.objects.filter(series__modality="SR").exists()


def test_exported_sr_series_has_no_thumbnail(attending_client, attending, ct_study):
    """An SR series holds no image: its thumbnail is a clean 404 (the viewer shows a
    label instead), and the study's thumbnail still comes from its images."""
    study_uid, sops, series_uid = ct_study
    study = Study.objects.get(study_instance_uid=study_uid)
    annotation = create_annotation(
        study=study,
        author=attending,
        data={
            "sop_instance_uid": sops[1],
            "tool": "length",
            "geometry": {"points": [[4.0, 4.0], [14.0, 4.0]]},
        },
    )
    result = export_annotation_sr(annotation, actor=attending)
    assert result.ok
    sr = Instance.objects.select_related("series").get(sop_instance_uid=result.sop_instance_uid)
    base = f"/dicomweb/studies/{study_uid}/series"
    accept = {"Accept": "image/jpeg"}
    for url in (
        f"{base}/{sr.series.series_instance_uid}/thumbnail",
        f"{base}/{sr.series.series_instance_uid}/instances/{sr.sop_instance_uid}/thumbnail",
    ):
        response = attending_client.get(url, headers=accept)
        assert response.status_code == 404, url
        assert not response["Content-Type"].startswith("image/"), url
    images = attending_client.get(f"{base}/{series_uid}/thumbnail", headers=accept)
    assert images.status_code == 200 and images["Content-Type"] == "image/jpeg"
    study_thumb = attending_client.get(f"/dicomweb/studies/{study_uid}/thumbnail", headers=accept)
    assert study_thumb.status_code == 200 and study_thumb["Content-Type"] == "image/jpeg"
