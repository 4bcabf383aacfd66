"""The full-page report view: readers get the page, others do not."""

from __future__ import annotations

import uuid

import pytest

from reading.reports.models import Report
from reading.studies.models import Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(resident):
    ds = make_ct_series(1)[0]
    assert ingest_instance(to_bytes(ds)).ok
    study = Study.objects.get(study_instance_uid=str(ds.StudyInstanceUID))
    return Report.objects.create(study=study, text="FINDINGS:\n«___»\n", created_by=resident)


def test_reader_gets_the_page_with_its_config(client, resident, report):
    client.force_login(resident)
    response = client.get(f"/reports/{report.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="report-config"' in body and str(report.pk) in body
    assert "viewer/report-page.js" in body


def test_outsider_admin_and_unknown_ids_are_refused(client, outsider, admin_user, resident, report):
    for user in (outsider, admin_user):
        client.force_login(user)
        assert client.get(f"/reports/{report.pk}/").status_code == 403
    client.force_login(resident)
    assert client.get(f"/reports/{uuid.uuid4()}/").status_code == 404
    client.logout()
    assert client.get(f"/reports/{report.pk}/").status_code == 302
