"""The viewer page: readers only, audited, and it hands the bundle the study and its priors."""

import json
from datetime import date

import pytest

from reading.audit.models import AuditAction, AuditEvent
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db


def _study(study_date=date(2026, 11, 20), description="CT CHEST"):
    ds = make_dataset(study_date=study_date, study_description=description)
    result = ingest_instance(to_bytes(ds), name="one.dcm")
    assert result.ok, result.reason
    return ds.StudyInstanceUID


def _config(response):
    html = response.content.decode()
    start = html.index('id="viewer-config"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_reader_opens_viewer_with_config_and_priors(attending_client, attending):
    current = _study()
    prior = _study(date(2025, 11, 2), "CT CHEST PRIOR")
    later = _study(date(2027, 1, 5), "CT CHEST LATER")
    response = attending_client.get(f"/viewer/{current}/")
    assert response.status_code == 200
    config = _config(response)
    assert config["studyUid"] == current
    assert config["dicomweb"] == "/dicomweb"
    assert config["patient"]["id"] == "MRN0001"
    assert [p["studyUid"] for p in config["priors"]] == [prior]  # later studies are no priors
    assert later not in response.content.decode()
    assert 'src="/static/viewer/viewer.js"' in response.content.decode()
    assert "csrftoken" in response.cookies  # the bundle sends it on annotation writes
    event = AuditEvent.objects.get(action=AuditAction.VIEW, study_instance_uid=current)
    assert event.user == attending
    assert event.path == f"/viewer/{current}/"


def test_readonly_flag_from_the_worklist(attending_client):
    uid = _study()
    assert _config(attending_client.get(f"/viewer/{uid}/"))["readonly"] is False
    assert _config(attending_client.get(f"/viewer/{uid}/?readonly=True"))["readonly"] is True
    # "Join reading session" opens read-only until the viewer finds a session to join.
    assert _config(attending_client.get(f"/viewer/{uid}/?join=1"))["readonly"] is True


def test_outsider_gets_403_and_no_audit(outsider_client):
    uid = _study()
    response = outsider_client.get(f"/viewer/{uid}/")
    assert response.status_code == 403
    assert uid not in response.content.decode()
    assert not AuditEvent.objects.filter(study_instance_uid=uid).exists()


def test_unknown_study_is_404(attending_client):
    assert attending_client.get("/viewer/1.2.3.4/").status_code == 404


def test_anonymous_is_sent_to_login(client):
    uid = _study()
    response = client.get(f"/viewer/{uid}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_wasm_is_served_as_application_wasm(attending_client, settings):
    """The codecs are WebAssembly: browsers refuse streaming compilation of another type."""
    from pathlib import Path

    wasm = sorted((Path(settings.BASE_DIR) / "static" / "viewer" / "assets").glob("*.wasm"))
    if not wasm:
        pytest.fail("viewer bundle not built: run `make frontend`")
    response = attending_client.get(f"/static/viewer/assets/{wasm[0].name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/wasm"
