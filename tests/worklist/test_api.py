"""REST API: permissions for attending, resident, admin and outsider on every endpoint."""

from __future__ import annotations

import json

import pytest

from reading.worklist.models import Priority, ReadingItem, ReadingStatus, SavedWorklist


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


@pytest.fixture
def study(make_study):
    return make_study(accession="ACC-API", patient_name="Api^Pat")


def u(study, action=""):
    base = f"/api/worklist/studies/{study.study_instance_uid}/"
    return base + (f"{action}/" if action else "")


def test_anonymous_gets_401(client, study):
    assert client.get("/api/worklist/").status_code == 401
    assert post(client, u(study, "claim")).status_code == 401


def test_list_shape(client, attending, study):
    client.force_login(attending)
    body = client.get("/api/worklist/?q=api&sort=-date").json()
    assert body["count"] == 1 and body["query"] == "q=api&sort=-date"
    row = body["results"][0]
    assert row["accession_number"] == "ACC-API"
    assert row["patient_name"] == "Api Pat"
    assert row["patient_age"] == "066Y" and row["patient_sex"] == "F"
    assert row["reading_status"] == "unread" and row["priority"] == "routine"
    assert row["viewer_url"] == f"/viewer/{study.study_instance_uid}/"


def test_outsider_is_refused_everywhere(outsider_client, study, attending):
    c = outsider_client
    assert c.get("/api/worklist/").status_code == 403
    assert c.get(u(study)).status_code == 403
    for action in ("claim", "release", "break"):
        assert post(c, u(study, action)).status_code == 403, action
    assert post(c, u(study, "status"), {"status": "final"}).status_code == 403
    assert post(c, u(study, "priority"), {"priority": "stat"}).status_code == 403
    assert post(c, u(study, "reassign"), {"user_id": attending.pk}).status_code == 403
    assert post(c, "/api/worklist/assign/", {"study_instance_uids": ["x"]}).status_code == 403
    assert c.get("/api/worklist/saved/").status_code == 403
    assert c.get("/api/worklist/worklists/").status_code == 403
    assert c.get("/api/worklist/readers/").status_code == 403
    assert c.delete("/api/worklist/saved/1/").status_code == 403
    assert ReadingItem.objects.get(pk=study.pk).claimed_by is None


def test_admin_manages_workflow_but_cannot_read(client, admin_user, resident, study):
    client.force_login(admin_user)
    assert client.get("/api/worklist/").status_code == 403
    assert post(client, u(study, "claim")).status_code == 403
    r = post(client, u(study, "priority"), {"priority": "stat"})
    assert r.status_code == 200
    r = post(
        client,
        "/api/worklist/assign/",
        {"study_instance_uids": [study.study_instance_uid], "user_id": resident.pk},
    )
    assert r.status_code == 200 and r.json()["updated"] == 1
    item = ReadingItem.objects.get(pk=study.pk)
    assert item.assigned_to == resident and item.priority == Priority.STAT
    assert client.get("/api/worklist/readers/").status_code == 200


def test_claim_conflict_and_status_flow(client, attending, resident, study):
    client.force_login(resident)
    r = post(client, u(study, "claim"))
    assert r.status_code == 200 and r.json()["won"] is True
    assert post(client, u(study, "status"), {"status": "preliminary"}).status_code == 200
    assert post(client, u(study, "status"), {"status": "final"}).status_code == 403
    assert post(client, u(study, "status"), {"status": "bogus"}).status_code == 400
    assert post(client, u(study, "break")).status_code == 403  # residents don't break claims
    client.force_login(attending)
    r = post(client, u(study, "claim"))
    assert r.status_code == 409
    assert r.json()["row"]["claimed_by"]["username"] == resident.username
    assert post(client, u(study, "status"), {"status": "final"}).status_code == 409
    assert post(client, u(study, "release")).status_code == 409
    client.force_login(resident)
    assert post(client, u(study, "release")).status_code == 200
    client.force_login(attending)
    assert post(client, u(study, "claim")).status_code == 200
    r = post(client, u(study, "status"), {"status": "final"})
    assert r.status_code == 200 and r.json()["reading_status"] == ReadingStatus.FINAL


def test_admin_break_and_reassign(client, admin_user, attending, resident, study):
    client.force_login(resident)
    post(client, u(study, "claim"))
    client.force_login(admin_user)
    r = post(client, u(study, "reassign"), {"user_id": attending.pk})
    assert r.status_code == 200 and r.json()["claimed_by"] == attending.username
    assert post(client, u(study, "break")).status_code == 200
    assert ReadingItem.objects.get(pk=study.pk).claimed_by is None


def test_saved_worklists_api(client, attending, resident):
    client.force_login(attending)
    r = post(client, "/api/worklist/saved/", {"name": "My STAT CTs", "query": "priority=stat"})
    assert r.status_code == 201
    saved_id = r.json()["id"]
    assert [s["name"] for s in client.get("/api/worklist/saved/").json()] == ["My STAT CTs"]
    client.force_login(resident)
    assert client.get("/api/worklist/saved/").json() == []
    assert client.delete(f"/api/worklist/saved/{saved_id}/").status_code == 403
    client.force_login(attending)
    assert client.delete(f"/api/worklist/saved/{saved_id}/").status_code == 204
    assert not SavedWorklist.objects.exists()


def test_bearer_token_client(client, attending, study):
    from reading.accounts.services import create_api_token

    token = create_api_token(attending)
    r = client.post(
        u(study, "claim"), HTTP_AUTHORIZATION=f"Bearer {token.key}", content_type="application/json"
    )
    assert r.status_code == 200


@pytest.mark.parametrize("n", [3, 60])
def test_list_and_page_query_counts_do_not_grow(
    client, make_study, attending, resident, n, django_assert_max_num_queries
):
    from reading.worklist import claims

    for i in range(n):
        study = make_study()
        if i % 2:
            claims.claim_study(resident, study)
    client.force_login(attending)
    # session + user, COUNT + page, the audit row of this read (one per request, not per row)
    with django_assert_max_num_queries(5):
        body = client.get("/api/worklist/?page_size=200").json()
    assert len(body["results"]) == n
    # ... plus the saved and the department worklists for the sidebar
    with django_assert_max_num_queries(7):
        assert client.get("/?page_size=200").status_code == 200


def test_rows_and_viewer_show_each_studys_own_patient_name(
    client, attending, django_capture_on_commit_callbacks
):
    """A later study of the same Patient ID spells the name differently: each study's
    worklist row and viewer header carry that study's own Patient module."""
    from reading.studies.services import ingest_instance
    from tests.dicom_factory import make_dataset, to_bytes

    old = make_dataset(patient_id="MRN-W", patient_name="Muller^Hans")
    new = make_dataset(patient_id="MRN-W", patient_name="Müller^Hans")
    new.SpecificCharacterSet = "ISO_IR 192"
    new.PatientSex = "M"
    with django_capture_on_commit_callbacks(execute=True):
        for ds in (old, new):
            assert ingest_instance(to_bytes(ds)).ok
    client.force_login(attending)
    rows = client.get("/api/worklist/?q=mrn-w").json()["results"]
    names = {r["study_instance_uid"]: (r["patient_name"], r["patient_sex"]) for r in rows}
    assert names[str(old.StudyInstanceUID)] == ("Muller Hans", "F")
    assert names[str(new.StudyInstanceUID)] == ("Müller Hans", "M")
    page = client.get(f"/viewer/{new.StudyInstanceUID}/").content.decode()
    config = json.loads(
        page.split('id="viewer-config" type="application/json">')[1].split("</script>")[0]
    )
    assert (config["patient"]["name"], config["patient"]["sex"]) == ("Müller Hans", "M")
