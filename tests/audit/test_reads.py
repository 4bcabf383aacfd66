"""Every read of patient data is audited; forwarded addresses only from trusted proxies."""

from __future__ import annotations

import pytest
from django.urls import URLResolver, get_resolver

from reading.audit.middleware import (
    AUDITED_ROUTES,
    NO_PATIENT_DATA,
    SELF_AUDITED,
    SELF_AUDITED_PREFIXES,
)
from reading.audit.models import AuditEvent
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def study_uid():
    ds = make_dataset(patient_name="Audit^Anne", patient_id="MRN-AUD")
    assert ingest_instance(to_bytes(ds)).ok
    return str(ds.StudyInstanceUID)


@pytest.fixture
def session_id(attending, study_uid):
    from reading.reading_sessions import services
    from reading.studies.models import Study

    study = Study.objects.get(study_instance_uid=study_uid)
    return str(services.create_session(study=study, host=attending).pk)


def audited(detail: str) -> AuditEvent:
    return AuditEvent.objects.get(detail=detail)


def test_worklist_page_and_api_are_audited(attending_client, attending, study_uid):
    assert attending_client.get("/").status_code == 200
    assert attending_client.get("/api/worklist/").status_code == 200
    assert audited("worklist-page").user == attending
    assert audited("worklist").username == attending.username


@pytest.mark.parametrize(
    "path, detail",
    [
        ("/api/studies/{study}/annotations/", "annotations"),
        ("/api/studies/{study}/chat/", "chat"),
        ("/api/sessions/", "sessions"),
        ("/api/sessions/{session}/", "session"),
        ("/api/sessions/{session}/events", "session-events"),
        ("/api/sessions/{session}/chat/", "chat"),
    ],
)
def test_study_reads_are_audited_with_the_patient(
    attending_client, study_uid, session_id, path, detail
):
    response = attending_client.get(path.format(study=study_uid, session=session_id))
    assert response.status_code == 200
    event = audited(detail)
    if "{" in path:
        assert event.study_instance_uid == study_uid and event.patient_id == "MRN-AUD"


def test_django_admin_patient_pages_are_audited(client, attending, study_uid):
    from reading.studies.models import Patient

    attending.is_staff = attending.is_superuser = True  # a clinical admin sees patients
    attending.save()
    client.force_login(attending)
    patient = Patient.objects.get()
    assert client.get("/admin/studies/patient/").status_code == 200
    assert client.get(f"/admin/studies/patient/{patient.pk}/change/").status_code == 200
    details = set(AuditEvent.objects.values_list("detail", flat=True))
    assert "admin:studies_patient_changelist:" in details
    assert f"admin:studies_patient_change:{patient.pk}" in details


def test_outsider_reads_nothing_and_nothing_is_audited(outsider_client, study_uid):
    assert outsider_client.get(f"/api/studies/{study_uid}/annotations/").status_code in (403, 404)
    assert not AuditEvent.objects.filter(detail="annotations").exists()


def _route_names(patterns, namespace=None):
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or namespace
            if ns == "admin":
                continue
            yield from _route_names(p.url_patterns, ns)
        else:
            name = p.name or ("events-slash" if "events" in str(p.pattern) else str(p.pattern))
            yield f"{namespace}:{name}" if namespace else name


def test_every_route_is_classified_for_audit():
    """A new route must say whether it reads patient data (and so is audited)."""
    known = set(AUDITED_ROUTES) | SELF_AUDITED | NO_PATIENT_DATA
    missing = [
        name
        for name in _route_names(get_resolver().url_patterns)
        if name not in known and not name.startswith(SELF_AUDITED_PREFIXES)
    ]
    assert not missing, f"classify these routes in reading/audit/middleware.py: {missing}"


def test_forwarded_for_is_ignored_from_untrusted_peers(attending_client, study_uid, settings):
    settings.TRUSTED_PROXIES = []
    attending_client.get(
        f"/studies/{study_uid}/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )
    assert AuditEvent.objects.get(detail="").ip_address == "10.1.2.3"


def test_forwarded_for_is_believed_from_a_trusted_proxy(attending_client, study_uid, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    attending_client.get(
        f"/studies/{study_uid}/",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.7, 10.0.0.5",
    )
    # 10.0.0.5 is another trusted proxy; 192.0.2.7 is the client; 6.6.6.6 was written by it.
    assert AuditEvent.objects.get(detail="").ip_address == "192.0.2.7"
