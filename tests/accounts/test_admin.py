"""The Django admin for department admins: no patient identity; role changes confirmed."""

from __future__ import annotations

import pytest

from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    ds = make_dataset(patient_name="Secret^Sally", patient_id="MRN-777")
    ds.PatientBirthDate = "19610203"
    assert ingest_instance(to_bytes(ds)).ok
    from reading.studies.models import Study

    return Study.objects.select_related("patient").get()


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_department_admin_sees_no_patient_names_or_birth_dates(admin_client, study):
    from reading.audit.models import AuditAction
    from reading.audit.services import record_access

    record_access(None, AuditAction.VIEW, study=study)
    pages = [
        "/admin/",
        "/admin/studies/study/",
        f"/admin/studies/study/{study.pk}/change/",
        "/admin/studies/study/?q=MRN-777",
        "/admin/audit/auditevent/",
    ]
    for path in pages:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert "Secret" not in html and "Sally" not in html, path
        assert "1961" not in html, path
    assert admin_client.get("/admin/studies/patient/").status_code == 403
    assert admin_client.get(f"/admin/studies/patient/{study.patient.pk}/change/").status_code in (
        302,
        403,
    )


def test_clinical_superuser_still_sees_patients(client, attending, study):
    attending.is_staff = attending.is_superuser = True
    attending.save()
    client.force_login(attending)
    assert "Secret^Sally" in client.get("/admin/studies/patient/").content.decode()


def _change_data(client, user, **changes):
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    assert "confirm_role_change" in form.fields
    data.update(changes)
    return data


def test_role_change_in_the_admin_needs_confirmation(admin_client, attending):
    url = f"/admin/accounts/user/{attending.pk}/change/"
    response = admin_client.post(url, _change_data(admin_client, attending, role="none"))
    assert response.status_code == 200 and "Confirm the role change" in response.content.decode()
    attending.refresh_from_db()
    assert attending.role == "attending"
    data = _change_data(admin_client, attending, role="none", confirm_role_change="on")
    assert admin_client.post(url, data).status_code == 302
    attending.refresh_from_db()
    assert attending.role == "none"


def test_manage_page_role_change_asks_first(admin_client, attending):
    html = admin_client.get("/manage/").content.decode()
    assert 'data-confirm="Change the role of att?' in html
    assert "requestSubmit" not in html


def test_too_many_files_get_a_clear_message(attending_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(f"{i}.dcm", b"x") for i in range(5)]
    response = attending_client.post("/api/uploads/", {"file": files})
    assert response.status_code == 400
    assert "at most 3" in response.json()["detail"]


def test_the_default_allows_1000_files():
    from django.conf import settings

    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES >= 1000
