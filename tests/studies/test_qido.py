"""QIDO-RS through Django's test client: matching, return attributes, paging, audit."""

from __future__ import annotations

import json

import pytest
from pydicom.uid import generate_uid

from reading.audit.models import AuditEvent
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes
from tests.studies.dicomweb_helpers import (
    DICOM_JSON,
    value,
)

pytestmark = pytest.mark.django_db


def _uids(response, tag="0020000D") -> set[str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(DICOM_JSON)
    return {value(item, tag) for item in json.loads(response.content)}


def test_qido_studies_matching(attending_client, archive):
    ct, prior, mr = (archive[k][0].StudyInstanceUID for k in ("ct", "prior", "mr"))
    get = attending_client.get
    assert _uids(get("/dicomweb/studies")) == {ct, prior, mr}
    assert _uids(get("/dicomweb/studies", {"PatientID": "MRN-A"})) == {ct, prior}
    assert _uids(get("/dicomweb/studies", {"00100020": "MRN-B"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientName": "doe*"})) == {ct, prior}
    assert _uids(get("/dicomweb/studies", {"PatientName": "SMITH^J?HN"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientName": "*th^*"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientName": "Doe"})) == set()
    assert _uids(get("/dicomweb/studies", {"StudyDate": "20260110"})) == {ct}
    assert _uids(get("/dicomweb/studies", {"StudyDate": "20260101-20261231"})) == {ct, mr}
    assert _uids(get("/dicomweb/studies", {"StudyDate": "-20251231"})) == {prior}
    assert _uids(get("/dicomweb/studies", {"StudyDate": "20260201-"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"ModalitiesInStudy": "MR"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"ModalitiesInStudy": "CT,MR"})) == {ct, prior, mr}
    assert _uids(get("/dicomweb/studies", {"AccessionNumber": "ACC-0"})) == {prior}
    assert _uids(get("/dicomweb/studies", {"StudyInstanceUID": f"{ct},{mr}"})) == {ct, mr}
    both = get(f"/dicomweb/studies?StudyInstanceUID={ct}&StudyInstanceUID={prior}")
    assert _uids(both) == {ct, prior}
    assert _uids(get("/dicomweb/studies", {"StudyDescription": "mr*"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientID": "MRN-A", "StudyDate": "20250601"})) == {
        prior
    }


def test_qido_bad_parameters_are_400(attending_client, archive):
    assert attending_client.get("/dicomweb/studies", {"StudyDate": "2026-13"}).status_code == 400
    assert attending_client.get("/dicomweb/studies", {"NoSuchThing": "x"}).status_code == 400
    assert attending_client.get("/dicomweb/studies", {"limit": "-1"}).status_code == 400
    assert attending_client.get("/dicomweb/studies", {"includefield": "Nope"}).status_code == 400


def test_qido_study_return_attributes_and_paging(attending_client, archive):
    response = attending_client.get("/dicomweb/studies", {"PatientID": "MRN-A"})
    items = json.loads(response.content)
    # Newest first; the standard return attributes (PS3.18 Table 10.6.3-3).
    assert [value(i, "00080050") for i in items] == ["ACC-1", "ACC-0"]
    first = items[0]
    assert value(first, "00201206") == 1 and value(first, "00201208") == 3
    assert first["00080061"]["Value"] == ["CT"]
    assert value(first, "00100010") == {"Alphabetic": "Doe^Jane"}
    assert value(first, "00080020") == "20260110"
    assert value(first, "00080056") == "ONLINE"
    uid = archive["ct"][0].StudyInstanceUID
    assert value(first, "00081190") == f"http://testserver/dicomweb/studies/{uid}"
    for tag in ("00080005", "00080030", "00080090", "00100030", "00100040", "00200010"):
        assert tag in first
    page = attending_client.get("/dicomweb/studies", {"limit": 1, "offset": 1})
    assert [value(i, "00080050") for i in json.loads(page.content)] == ["ACC-1"]
    fuzzy = attending_client.get("/dicomweb/studies", {"fuzzymatching": "true"})
    assert fuzzy.status_code == 200 and "fuzzymatching" in fuzzy["Warning"]


def test_qido_includefield(attending_client, archive):
    plain = json.loads(attending_client.get("/dicomweb/studies", {"PatientID": "MRN-B"}).content)
    assert "00081030" in plain[0] and "00100030" in plain[0]
    assert "00200052" not in plain[0]
    some = attending_client.get(
        "/dicomweb/studies", {"PatientID": "MRN-B", "includefield": "BodyPartExamined,00180050"}
    )
    item = json.loads(some.content)[0]
    assert "00180015" in json.dumps(item) or value(item, "00180015") is None
    everything = attending_client.get(
        "/dicomweb/series", {"PatientID": "MRN-B", "includefield": "all"}
    )
    series = json.loads(everything.content)[0]
    assert value(series, "00200052") == "1.2.826.0.1.3680043.8.498.1"
    assert value(series, "00100020") == "MRN-B"  # study attributes on /series
    instances = attending_client.get(
        f"/dicomweb/studies/{archive['mr'][0].StudyInstanceUID}/instances",
        {"includefield": "all"},
    )
    inst = json.loads(instances.content)[0]
    assert value(inst, "00280030") == 0.7  # PixelSpacing from the stored metadata
    assert inst["7FE00010"]["BulkDataURI"].startswith("http://testserver/dicomweb/studies/")


def test_qido_series_and_instances(attending_client, archive):
    ct = archive["ct"]
    study_uid, series_uid = ct[0].StudyInstanceUID, ct[0].SeriesInstanceUID
    series = json.loads(attending_client.get(f"/dicomweb/studies/{study_uid}/series").content)
    assert len(series) == 1
    assert value(series[0], "0020000E") == series_uid
    assert value(series[0], "00080060") == "CT"
    assert value(series[0], "00201209") == 3
    assert value(series[0], "00081190").endswith(f"/studies/{study_uid}/series/{series_uid}")
    assert _uids(attending_client.get("/dicomweb/series", {"Modality": "MR"})) == {
        archive["mr"][0].StudyInstanceUID
    }
    url = f"/dicomweb/studies/{study_uid}/series/{series_uid}/instances"
    instances = json.loads(attending_client.get(url).content)
    assert [value(i, "00200013") for i in instances] == [1, 2, 3]
    assert value(instances[0], "00280010") == 32
    assert value(instances[0], "00280008") is not None
    one = attending_client.get(url, {"SOPInstanceUID": ct[1].SOPInstanceUID})
    assert _uids(one, "00080018") == {ct[1].SOPInstanceUID}
    assert _uids(attending_client.get(url, {"InstanceNumber": "3"}), "00080018") == {
        ct[2].SOPInstanceUID
    }
    across = attending_client.get("/dicomweb/instances", {"PatientID": "MRN-B"})
    assert _uids(across, "00080018") == {ds.SOPInstanceUID for ds in archive["mr"]}
    assert _uids(
        attending_client.get(f"/dicomweb/studies/{study_uid}/instances", {"limit": 2}),
        "00080018",
    ) == {ct[0].SOPInstanceUID, ct[1].SOPInstanceUID}


def test_qido_query_count_does_not_grow_with_results(
    attending_client, django_assert_max_num_queries
):
    def add_studies(n):
        for _ in range(n):
            for ds in make_ct_series(2, patient_id=f"P{generate_uid()[-6:]}"):
                assert ingest_instance(to_bytes(ds)).ok

    add_studies(2)
    # Session + user + (audit) + search + representative metadata.
    with django_assert_max_num_queries(7):
        response = attending_client.get("/dicomweb/studies", {"includefield": "all"})
    assert len(json.loads(response.content)) == 2
    add_studies(6)
    with django_assert_max_num_queries(7):
        response = attending_client.get("/dicomweb/studies", {"includefield": "all"})
    assert len(json.loads(response.content)) == 8
    with django_assert_max_num_queries(6):
        response = attending_client.get("/dicomweb/series", {"includefield": "00180050"})
    assert len(json.loads(response.content)) == 8
    with django_assert_max_num_queries(6):
        response = attending_client.get("/dicomweb/instances", {"includefield": "all"})
    assert len(json.loads(response.content)) == 16


def test_qido_writes_search_audit(attending_client, archive):
    attending_client.get("/dicomweb/studies", {"PatientID": "MRN-A"})
    event = AuditEvent.objects.get(action="search")
    assert event.username == "att" and "MRN-A" in event.detail
