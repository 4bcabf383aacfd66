"""Reviewed AI results as DICOM SR TID 1500, stored in the study and served by DICOMweb."""

from __future__ import annotations

import io

import pydicom

from reading.ai import reviews, services
from reading.annotations.models import Annotation
from reading.studies.models import Instance
from tests.ai.conftest import TOKENS, series_uid


def _items(ds):
    for item in ds.get("ContentSequence", []):
        yield item
        yield from _items(item)


def test_reviewed_findings_export_as_sr_into_the_study(demo, medgemma, client, attending):
    cr = demo["Chest radiograph PA"]
    job = services.request_analysis(
        attending, cr.study_instance_uid, series_uid(cr), "findings", parameters=TOKENS
    )
    client.force_login(attending)
    url = f"/api/ai/jobs/{job.pk}/export-sr/"
    assert client.post(url).status_code == 400  # nothing reviewed yet
    finding = Annotation.objects.filter(ai_link__job=job).first()
    reviews.review_finding(finding, reviewer=attending, decision="accept")
    response = client.post(url)
    assert response.status_code == 201, response.content
    sop = response.json()["sop_instance_uid"]
    stored = Instance.objects.get(sop_instance_uid=sop)
    assert stored.series.study == cr
    served = client.get(
        f"/dicomweb/studies/{cr.study_instance_uid}/series/"
        f"{stored.series.series_instance_uid}/instances/{sop}",
        HTTP_ACCEPT='multipart/related; type="application/dicom"',
    )
    assert served.status_code == 200
    from reading.studies import storage

    ds = pydicom.dcmread(io.BytesIO(storage.read_all(stored.file_path)))
    assert ds.Modality == "SR"
    meanings = [
        i.ConceptNameCodeSequence[0].CodeMeaning
        for i in _items(ds)
        if "ConceptNameCodeSequence" in i
    ]
    assert "Algorithm Name" in meanings and "Algorithm Version" in meanings
    states = [
        i.ConceptCodeSequence[0].CodeValue
        for i in _items(ds)
        if "ConceptCodeSequence" in i and i.ConceptNameCodeSequence[0].CodeValue == "RRAI-REVIEW"
    ]
    assert states == ["RRAI-ACCEPTED"]
