"""REST API of AI jobs and the review workflow; outsiders see nothing."""

from __future__ import annotations

import pytest

from reading.ai.models import AIReview, ReviewKind
from reading.annotations.models import Annotation
from tests.ai.conftest import TOKENS, series_uid


@pytest.fixture
def job_payload(demo, medgemma, client, resident):
    cr = demo["Chest radiograph PA"]
    client.force_login(resident)
    response = client.post(
        "/api/ai/jobs/",
        {
            "study_instance_uid": cr.study_instance_uid,
            "series_instance_uid": series_uid(cr),
            "task": "findings",
            "parameters": TOKENS,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_request_list_and_findings(job_payload, client, demo):
    cr = demo["Chest radiograph PA"]
    listed = client.get(f"/api/ai/jobs/?study={cr.study_instance_uid}").json()["results"]
    assert [j["job_id"] for j in listed] == [job_payload["job_id"]]
    detail = client.get(f"/api/ai/jobs/{job_payload['job_id']}/").json()
    assert detail["status"] == "done" and detail["random_weights"] is True and detail["findings"]
    body = client.get(f"/api/ai/jobs/{job_payload['job_id']}/findings/").json()
    assert len(body["findings"]) == len(detail["findings"])
    first = body["findings"][0]
    assert first["annotation"]["review_state"] == "pending" and first["reviews"] == []


def test_bad_requests_are_refused_with_a_reason(demo, medgemma, client, attending):
    cr = demo["Chest radiograph PA"]
    client.force_login(attending)
    for body in (
        {"study_instance_uid": cr.study_instance_uid, "task": "findings"},  # no series
        {"study_instance_uid": cr.study_instance_uid, "task": "impression"},  # no text
        {
            "study_instance_uid": cr.study_instance_uid,
            "series_instance_uid": series_uid(cr),
            "task": "findings",
            "parameters": {"max_new_tokens": 10**6},
        },
    ):
        response = client.post("/api/ai/jobs/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["detail"]


def test_review_history_resident_then_attending(job_payload, client, resident, attending):
    ids = client.get(f"/api/ai/jobs/{job_payload['job_id']}/findings/").json()["findings"]
    annotation_id = ids[0]["annotation"]["id"]
    url = f"/api/ai/findings/{annotation_id}/review/"
    edited = client.post(
        url,
        {"decision": "edit", "changes": {"text": "Edited by the resident."}},
        content_type="application/json",
    )
    assert edited.status_code == 200, edited.content
    assert edited.json()["annotation"]["review_state"] == "edited"
    client.force_login(attending)
    overturned = client.post(url, {"decision": "reject"}, content_type="application/json")
    assert overturned.json()["annotation"]["review_state"] == "rejected"
    kinds = [r["kind"] for r in overturned.json()["reviews"]]
    assert kinds == [ReviewKind.FIRST, ReviewKind.OVERTURNED]
    first = AIReview.objects.order_by("created_at").first()
    assert first.changes["after"]["text"] == "Edited by the resident." and first.changes["before"]
    client.force_login(resident)  # a resident cannot overturn the attending
    refused = client.post(url, {"decision": "accept"}, content_type="application/json")
    assert refused.status_code == 400
    assert Annotation.objects.get(pk=annotation_id).review_state == "rejected"
    assert AIReview.objects.count() == 2  # history is appended, never rewritten


def test_attending_confirms_a_residents_accept(job_payload, client, attending):
    annotation_id = job_payload["findings"][0]
    url = f"/api/ai/findings/{annotation_id}/review/"
    client.post(url, {"decision": "accept"}, content_type="application/json")
    client.force_login(attending)
    body = client.post(url, {"decision": "accept"}, content_type="application/json").json()
    assert [r["kind"] for r in body["reviews"]] == ["first", "confirmed"]
    assert body["annotation"]["reviewed_by"]["username"] == "att"


def test_outsider_cannot_request_see_or_review(job_payload, client, outsider, demo):
    cr = demo["Chest radiograph PA"]
    client.force_login(outsider)
    job_id, annotation_id = job_payload["job_id"], job_payload["findings"][0]
    assert client.get(f"/api/ai/jobs/?study={cr.study_instance_uid}").status_code == 403
    assert client.get(f"/api/ai/jobs/{job_id}/").status_code == 403
    assert client.get(f"/api/ai/jobs/{job_id}/findings/").status_code == 403
    assert client.post(f"/api/ai/jobs/{job_id}/cancel/").status_code == 403
    response = client.post(
        "/api/ai/jobs/",
        {"study_instance_uid": cr.study_instance_uid, "task": "findings"},
        content_type="application/json",
    )
    assert response.status_code == 403
    review = client.post(
        f"/api/ai/findings/{annotation_id}/review/",
        {"decision": "accept"},
        content_type="application/json",
    )
    assert review.status_code == 403
    assert not AIReview.objects.exists()
