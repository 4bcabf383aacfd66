"""The worklist page, opening a study, and the department admin's worklist pages."""

from __future__ import annotations

import json

import pytest

from reading.worklist.models import ReadingItem, Worklist


def initial(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="wl-initial" type="application/json">') + 48
    return json.loads(html[start : html.index("</script>", start)])


def test_home_is_the_worklist_for_readers(attending_client, make_study):
    make_study(accession="ACC-HOME", patient_name="Home^Pat")
    r = attending_client.get("/?q=home")
    assert r.status_code == 200
    data = initial(r)
    assert data["count"] == 1 and data["results"][0]["accession_number"] == "ACC-HOME"
    assert b'id="worklist"' in r.content


def test_home_for_admin_and_outsider(client, admin_user, outsider_client, make_study):
    make_study(patient_name="Secret^Name")
    r = outsider_client.get("/")
    assert r.status_code == 403 and b"Secret" not in r.content
    client.force_login(admin_user)
    r = client.get("/")
    assert r.status_code == 302 and r.url == "/manage/"


def test_open_claims_and_goes_to_viewer(client, attending, resident, make_study):
    study = make_study()
    uid = study.study_instance_uid
    client.force_login(resident)
    r = client.post(f"/worklist/open/{uid}/", {"mode": "read"})
    assert r.status_code == 302 and r.url == f"/viewer/{uid}/"
    client.force_login(attending)
    r = client.get(f"/worklist/open/{uid}/")
    assert r.status_code == 200 and b"Being read by" in r.content and b"Res" in r.content
    r = client.post(f"/worklist/open/{uid}/", {"mode": "read"})
    assert r.status_code == 200 and b"Join reading session" in r.content
    assert ReadingItem.objects.get(pk=study.pk).claimed_by == resident
    r = client.post(f"/worklist/open/{uid}/", {"mode": "readonly"})
    assert r.url == f"/viewer/{uid}/?readonly=1"


def test_open_refuses_outsider_and_admin(client, outsider_client, admin_user, make_study):
    uid = make_study().study_instance_uid
    assert outsider_client.post(f"/worklist/open/{uid}/", {"mode": "read"}).status_code == 403
    client.force_login(admin_user)
    assert client.get(f"/worklist/open/{uid}/").status_code == 403


@pytest.mark.parametrize("url", ["/manage/worklists/", "/manage/assign/"])
def test_manage_pages_are_for_admins_only(client, attending, outsider, url):
    for user in (attending, outsider):
        client.force_login(user)
        assert client.get(url).status_code == 403, (user, url)


def test_admin_manages_worklists_and_bulk_assigns(client, admin_user, resident, make_study):
    client.force_login(admin_user)
    r = client.post(
        "/manage/worklists/",
        {
            "name": "ER CT",
            "modalities": "CT",
            "priorities": "stat,urgent",
            "is_active": "on",
            "members": [resident.pk],
        },
    )
    assert r.status_code == 302
    wl = Worklist.objects.get(name="ER CT")
    assert list(wl.members.all()) == [resident] and wl.priorities == "stat,urgent"
    r = client.post("/manage/worklists/", {"name": "Bad", "priorities": "soon"})
    assert r.status_code == 200 and b"Unknown priorities" in r.content
    studies = [make_study(patient_name="Hidden^Name") for _ in range(3)]
    r = client.get("/manage/assign/")
    assert r.status_code == 200 and b"Hidden" not in r.content  # no patient names for admins
    r = client.post(
        "/manage/assign/",
        {
            "action": "assign",
            "reader": resident.pk,
            "study": [s.study_instance_uid for s in studies[:2]],
        },
    )
    assert r.status_code == 302
    assert ReadingItem.objects.filter(assigned_to=resident).count() == 2
    client.post(
        "/manage/assign/",
        {"action": "priority", "priority": "stat", "study": [studies[2].study_instance_uid]},
    )
    assert ReadingItem.objects.get(pk=studies[2].pk).priority == "stat"


def test_django_admin_lists_and_actions(client, admin_user, resident, make_study):
    from reading.worklist import claims

    study = make_study(accession="ADM-1")
    claims.claim_study(resident, study)
    client.force_login(admin_user)
    for url in (
        "/admin/worklist/readingitem/",
        "/admin/worklist/worklist/",
        "/admin/worklist/savedworklist/",
        "/admin/worklist/readingitem/?reading_status__exact=in_progress&q=adm-1",
    ):
        assert client.get(url).status_code == 200, url
    r = client.post(
        "/admin/worklist/readingitem/",
        {"action": "set_stat", "_selected_action": [study.pk]},
    )
    assert r.status_code == 302
    client.post(
        "/admin/worklist/readingitem/", {"action": "break_claims", "_selected_action": [study.pk]}
    )
    item = ReadingItem.objects.get(pk=study.pk)
    assert item.priority == "stat" and item.priority_rank == 0 and item.claimed_by is None
