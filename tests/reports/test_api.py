"""REST API of reports: who sees what, sign and next, versions and diff."""

import pytest

from reading.reports.models import Report
from reading.worklist.services import ensure_item
from tests.reports.conftest import fill

pytestmark = pytest.mark.django_db


def _open(client, study):
    return client.post(f"/api/studies/{study.study_instance_uid}/report/")


def _fill_via_service(report_id, user):
    from reading.reports import services

    report = Report.objects.get(pk=report_id)
    services.save_text(report, fill(report.text), user)
    return report


def test_open_report_payload(as_resident, ct_chest):
    assert as_resident.get(f"/api/studies/{ct_chest.study_instance_uid}/report/").status_code == 404
    response = _open(as_resident, ct_chest)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft" and body["template"]["slug"] == "ct-chest"
    kinds = {f["kind"] for f in body["template"]["fields"]}
    assert kinds == {"choice", "blank", "number"}
    assert [s["heading"] for s in body["sections"]][:2] == ["CLINICAL HISTORY", "TECHNIQUE"]
    assert "sign_preliminary" in body["actions"] and "sign_final" not in body["actions"]
    assert _open(as_resident, ct_chest).status_code == 200
    again = as_resident.get(f"/api/reports/{body['id']}/").json()
    assert again["id"] == body["id"] and again["links"]["pdf"].endswith("/pdf")


@pytest.mark.parametrize("who", ["as_admin", "as_outsider"])
def test_no_access_without_a_clinical_role(request, who, as_resident, ct_chest):
    report_id = _open(as_resident, ct_chest).json()["id"]
    client = request.getfixturevalue(who)
    assert _open(client, ct_chest).status_code == 403
    for path in ("", "versions/", "diff/", "pdf", "fhir"):
        assert client.get(f"/api/reports/{report_id}/{path}").status_code in (403, 404), path
    response = client.post(
        f"/api/reports/{report_id}/sign/", {"level": "final"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Report.objects.get(pk=report_id).status == "draft"


def test_unknown_report_is_404(as_attending):
    assert as_attending.get("/api/reports/not-a-uuid/").status_code == 404
    assert as_attending.get("/api/reports/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_sign_flow_with_diff_and_next(
    as_resident, as_attending, resident, attending, ct_chest, store_study
):
    later = store_study(accession="ACC0002")
    ensure_item(later)
    report_id = _open(as_resident, ct_chest).json()["id"]
    sign = f"/api/reports/{report_id}/sign/"
    refused = as_resident.post(sign, {"level": "preliminary"}, content_type="application/json")
    assert refused.status_code == 409 and refused.json()["code"] == "unfilled_fields"
    report = _fill_via_service(report_id, resident)
    signed = as_resident.post(
        sign, {"level": "preliminary", "attending": attending.pk}, content_type="application/json"
    )
    assert signed.status_code == 200, signed.content
    body = signed.json()
    assert body["report"]["status"] == "preliminary"
    assert body["report"]["signers"]["attending"]["username"] == "att"
    assert body["next"]["study_instance_uid"] == later.study_instance_uid
    # The resident cannot sign final, the attending edits and signs.
    refused = as_resident.post(sign, {"level": "final"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    from reading.reports import services

    report.refresh_from_db()
    services.save_text(
        report,
        report.text.replace("Cough", "Cough").replace(
            "IMPRESSION:\nsee above", "IMPRESSION:\nNo acute findings"
        ),
        attending,
    )
    final = as_attending.post(sign, {"level": "final"}, content_type="application/json").json()
    assert final["report"]["status"] == "final"
    assert final["report"]["actions"][:1] == ["add_addendum"]
    # The resident sees what the attending changed: default diff is preliminary -> now.
    diff = as_resident.get(f"/api/reports/{report_id}/diff/").json()
    assert diff["from"] == 1 and diff["to"] == "current"
    inserted = "".join(o["text"] for o in diff["ops"] if o["op"] == "insert")
    deleted = "".join(o["text"] for o in diff["ops"] if o["op"] == "delete")
    assert "acute findings" in inserted and "above" in deleted
    after = "".join(o["text"] for o in diff["ops"] if o["op"] != "delete")
    assert after.endswith("IMPRESSION:\nNo acute findings\n")
    versions = as_resident.get(f"/api/reports/{report_id}/versions/").json()
    assert [v["reason"] for v in versions] == ["sign_preliminary", "sign_final"]
    explicit = as_resident.get(f"/api/reports/{report_id}/diff/?from=1&to=2").json()
    assert explicit["ops"] == diff["ops"]
    assert as_resident.get(f"/api/reports/{report_id}/diff/?from=9").status_code == 404


def test_save_points_and_addendum_over_the_api(as_attending, attending, ct_chest):
    report_id = _open(as_attending, ct_chest).json()["id"]
    first = as_attending.post(f"/api/reports/{report_id}/versions/")
    assert first.status_code == 201 and first.json()["number"] == 1
    assert as_attending.post(f"/api/reports/{report_id}/versions/").status_code == 200
    response = as_attending.post(f"/api/reports/{report_id}/addenda/")
    assert response.status_code == 409 and response.json()["code"] == "wrong_status"
    _fill_via_service(report_id, attending)
    as_attending.post(
        f"/api/reports/{report_id}/sign/", {"level": "final"}, content_type="application/json"
    )
    addendum = as_attending.post(f"/api/reports/{report_id}/addenda/")
    assert addendum.status_code == 201
    body = addendum.json()
    assert body["is_addendum"] and body["parent_id"] == report_id
    assert body["text"].startswith("ADDENDUM:")
    original = as_attending.get(f"/api/reports/{report_id}/").json()
    assert [a["id"] for a in original["addenda"]] == [body["id"]]


def test_critical_over_the_api_and_on_the_worklist(as_resident, ct_chest):
    report_id = _open(as_resident, ct_chest).json()["id"]
    flagged = as_resident.post(
        f"/api/reports/{report_id}/critical/",
        {"finding": "Tension pneumothorax"},
        content_type="application/json",
    ).json()
    assert flagged["critical"]["open"] is True
    row = as_resident.get("/api/worklist/").json()["results"][0]
    assert row["report_status"] == "draft" and row["critical"] is True
    done = as_resident.post(
        f"/api/reports/{report_id}/critical/communications/",
        {"recipient": "Dr Ward, ED", "method": "phone", "communicated_at": "2026-11-20T10:30:00Z"},
        content_type="application/json",
    )
    assert done.status_code == 201
    critical = done.json()["critical"]
    assert critical["open"] is False
    assert critical["communications"][0]["recipient"] == "Dr Ward, ED"
    row = as_resident.get("/api/worklist/").json()["results"][0]
    assert row["critical"] is False


def test_templates_and_macros(as_resident, as_admin, as_attending, ct_chest):
    templates = as_resident.get(
        f"/api/report-templates/?study={ct_chest.study_instance_uid}"
    ).json()
    assert {t["slug"] for t in templates} >= {"ct-chest", "chest-radiograph", "mr-brain", "generic"}
    assert [t["slug"] for t in templates if t["suggested"]] == ["ct-chest"]
    macros = as_resident.get("/api/macros/").json()
    assert any(m["name"] == "normal chest" and m["scope"] == "department" for m in macros)
    mine = as_resident.post(
        "/api/macros/",
        {"name": "No Acute", "text": "Nothing acute."},
        content_type="application/json",
    )
    assert mine.status_code == 201 and mine.json()["name"] == "no acute"
    names = [(m["name"], m["scope"]) for m in as_resident.get("/api/macros/").json()]
    assert ("no acute", "personal") in names and ("no acute", "department") not in names
    # Someone else's personal macro is invisible; department macros are admins' to edit.
    assert ("no acute", "department") in [
        (m["name"], m["scope"]) for m in as_attending.get("/api/macros/").json()
    ]
    assert as_attending.delete(f"/api/macros/{mine.json()['id']}/").status_code == 404
    dept = {"name": "x", "text": "y", "scope": "department"}
    assert (
        as_resident.post("/api/macros/", dept, content_type="application/json").status_code == 403
    )
    assert as_admin.post("/api/macros/", dept, content_type="application/json").status_code == 201
    assert as_resident.delete(f"/api/macros/{mine.json()['id']}/").status_code == 204


def test_impression_without_ai_engine_is_unavailable(as_resident, resident, ct_chest, monkeypatch):
    from reading.reports import assist

    monkeypatch.setattr(assist, "_ai_services", lambda: None)
    report_id = _open(as_resident, ct_chest).json()["id"]
    _fill_via_service(report_id, resident)
    response = as_resident.post(f"/api/reports/{report_id}/impression/")
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
