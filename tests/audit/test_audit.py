import pytest

from reading.audit.models import AuditAction, AuditEvent
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_uid():
    ds = make_dataset(patient_name="Audit^Anne", patient_id="MRN-AUD")
    assert ingest_instance(to_bytes(ds)).ok
    return str(ds.StudyInstanceUID)


def test_viewing_a_study_writes_an_audit_record(attending_client, attending, study_uid):
    response = attending_client.get(f"/studies/{study_uid}/", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.VIEW)
    assert event.user == attending
    assert event.study_instance_uid == study_uid
    assert event.patient_id == "MRN-AUD"
    assert event.ip_address == "10.1.2.3"


def test_outsider_gets_403_and_no_audit_of_a_view(outsider_client, study_uid):
    assert outsider_client.get(f"/studies/{study_uid}/").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW).exists()


def test_unknown_study_is_404(attending_client):
    assert attending_client.get("/studies/1.2.3.4/").status_code == 404


def test_admin_browses_and_filters_audit_log(client, admin_user, attending, study_uid):
    client.force_login(attending)
    client.get(f"/studies/{study_uid}/")
    client.force_login(admin_user)
    page = client.get("/audit/", {"patient": "MRN-AUD"}).content.decode()
    assert "Audit^Anne" in page and "att" in page
    page = client.get("/audit/", {"user": "nobody"}).content.decode()
    assert "No matching records" in page


@pytest.mark.parametrize("fixture", ["attending", "outsider"])
def test_non_admins_cannot_browse_audit_log(client, request, fixture):
    client.force_login(request.getfixturevalue(fixture))
    assert client.get("/audit/").status_code == 403


def test_admin_without_clinical_role_cannot_open_images(client, admin_user, study_uid):
    client.force_login(admin_user)
    assert client.get(f"/studies/{study_uid}/").status_code == 403
