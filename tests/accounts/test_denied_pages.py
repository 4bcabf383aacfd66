"""Denied pages say why, as pages (handler403), and as JSON for the API."""

import pytest

from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_uid(db):
    datasets = make_ct_series(1)
    assert ingest_instance(to_bytes(datasets[0])).ok
    return str(datasets[0].StudyInstanceUID)


def test_department_admin_is_told_why_on_a_styled_page(client, admin_user, study_uid):
    client.force_login(admin_user)
    response = client.get(f"/viewer/{study_uid}/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert "Not available to your role" in body
    assert "Your role does not give access to patient images." in body
    assert "Department admins manage users" in body
    assert '<link rel="stylesheet"' in body  # the site's page, not a bare "403 Forbidden"
    assert "Viewer^" not in body


def test_api_answers_json_detail(client, admin_user, study_uid):
    client.force_login(admin_user)
    response = client.get(f"/api/studies/{study_uid}/annotations/", HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json()["detail"]


def test_outsider_gets_the_page_without_the_admin_hint(client, outsider, study_uid):
    client.force_login(outsider)
    response = client.get(f"/viewer/{study_uid}/")
    assert response.status_code in (403, 404)
    body = response.content.decode()
    assert "Department admins manage users" not in body
