"""Querysets compiled once and run again (reading/studies/prepared.py): the instance
lookup and QIDO-RS searches give what the ORM gives, and refuse who it refuses."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from reading.studies.access import get_instance_for_user
from reading.studies.dicomweb.frames import FRAME_FIELDS
from reading.studies.models import Instance, Study
from reading.studies.prepared import PreparedQuery
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db


def store(*datasets):
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok


def test_instance_lookup_is_the_orm_row_with_its_parents(attending, django_assert_num_queries):
    series = make_ct_series(3)
    store(*series)
    for ds in series * 2:  # the second pass runs the prepared statement
        with django_assert_num_queries(1):
            found = get_instance_for_user(
                attending, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
            )
            assert found.series.study.patient.patient_id == ds.PatientID
        expected = Instance.objects.select_related("series__study__patient").get(pk=found.pk)
        assert found.sop_instance_uid == ds.SOPInstanceUID
        assert found.series.series_instance_uid == expected.series.series_instance_uid
        assert found.metadata == expected.metadata
        assert found.series.study.study_instance_uid == ds.StudyInstanceUID


def test_only_defers_the_other_columns(attending, django_assert_num_queries):
    ds = make_dataset()
    store(ds)
    for _ in range(2):
        found = get_instance_for_user(
            attending, ds.StudyInstanceUID, None, ds.SOPInstanceUID, only=FRAME_FIELDS
        )
        assert "metadata" in found.get_deferred_fields()
        expected = Instance.objects.get(pk=found.pk).metadata
        with django_assert_num_queries(1):
            assert found.metadata == expected


def test_wrong_uids_and_roles_are_refused_after_a_reader_prepared_the_query(
    attending, resident, outsider
):
    ds = make_dataset()
    store(ds)
    uids = (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert get_instance_for_user(attending, *uids).sop_instance_uid == ds.SOPInstanceUID
    assert get_instance_for_user(resident, *uids).sop_instance_uid == ds.SOPInstanceUID
    with pytest.raises(PermissionDenied):
        get_instance_for_user(outsider, *uids)
    with pytest.raises(Http404, match="No such instance"):
        get_instance_for_user(attending, uids[0], uids[1], "1.2.3.4")
    with pytest.raises(Http404, match="No such study"):
        get_instance_for_user(attending, "1.2.3.4", uids[1], uids[2])
    attending.is_active = False
    attending.save()
    with pytest.raises(PermissionDenied):
        get_instance_for_user(attending, *uids)


def test_a_query_with_any_other_value_is_not_prepared():
    prepared = PreparedQuery()

    def build(uid):
        return Study.objects.filter(study_instance_uid=uid, number_of_study_related_series=1)

    assert prepared.fetch("with a number", build, ("1.2.3",)) is None
    ok = prepared.fetch(
        "uid only", lambda uid: Study.objects.filter(study_instance_uid=uid), ("1",)
    )
    assert ok == []


def _search(client, **params) -> list[str]:
    response = client.get("/dicomweb/studies", params, headers={"Accept": "application/dicom+json"})
    assert response.status_code == 200, response.content
    return sorted(item["0020000D"]["Value"][0] for item in json.loads(response.content))


def test_searches_answer_like_the_orm(attending_client):
    a = make_dataset(patient_id="P%_1", patient_name="Doe^Jane")
    b = make_dataset(patient_id="PX11", patient_name="Roe^John")
    c = make_dataset(patient_id="P%_1", patient_name="Poe^Ann")
    store(a, b, c)
    both = sorted([a.StudyInstanceUID, c.StudyInstanceUID])
    for _ in range(2):  # prepared on the first, reused on the second
        assert _search(attending_client, PatientID="P%_1") == both
        assert _search(attending_client, PatientID="PX11") == [b.StudyInstanceUID]
        assert _search(attending_client, PatientID="P%_1", PatientName="doe^jane") == [
            a.StudyInstanceUID
        ]
        assert _search(attending_client, PatientID="P*") == sorted(
            [a.StudyInstanceUID, b.StudyInstanceUID, c.StudyInstanceUID]
        )
        uids = f"{a.StudyInstanceUID},{b.StudyInstanceUID}"
        assert _search(attending_client, StudyInstanceUID=uids) == sorted(
            [a.StudyInstanceUID, b.StudyInstanceUID]
        )
        first = _search(attending_client, PatientID="P%_1", limit=1)
        second = _search(attending_client, PatientID="P%_1", limit=1, offset=1)
        assert sorted(first + second) == both
