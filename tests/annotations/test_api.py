import uuid

import pytest

from reading.annotations.models import Annotation, ReviewState, Source
from reading.annotations.services import create_annotation
from reading.audit.models import AuditEvent
from reading.studies.models import Study

pytestmark = pytest.mark.django_db


def _length(sop_uid, **extra):
    return {
        "sop_instance_uid": sop_uid,
        "frame_number": 1,
        "tool": "length",
        "geometry": {"points": [[1.5, 2.5], [10.0, 20.25]]},
        "label": "nodule",
        "measurements": {"length": {"value": 12.3, "unit": "mm"}},
        **extra,
    }


def _url(study_uid):
    return f"/api/studies/{study_uid}/annotations/"


def test_create_list_and_reload(attending_client, attending, ct_study):
    study_uid, sops, series_uid = ct_study
    response = attending_client.post(
        _url(study_uid), _length(sops[1]), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tool"] == "length"
    assert body["series_instance_uid"] == series_uid
    assert body["geometry"] == {"points": [[1.5, 2.5], [10.0, 20.25]]}
    assert body["author"]["username"] == attending.username
    assert body["source"] == "human" and body["review_state"] == "none"
    assert body["version"] == 1
    listed = attending_client.get(_url(study_uid)).json()
    assert [a["id"] for a in listed["results"]] == [body["id"]]
    one = attending_client.get(f"/api/annotations/{body['id']}/").json()
    assert one == body
    assert AuditEvent.objects.filter(action="annotate", study_instance_uid=study_uid).exists()


def test_client_chosen_id_is_kept_and_not_reused(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    chosen = str(uuid.uuid4())
    first = attending_client.post(
        _url(study_uid), _length(sops[0], id=chosen), content_type="application/json"
    )
    assert first.status_code == 201 and first.json()["id"] == chosen
    again = attending_client.post(
        _url(study_uid), _length(sops[0], id=chosen), content_type="application/json"
    )
    assert again.status_code == 400
    assert Annotation.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"geometry": {"points": [[1, 2]]}},  # a length has two points
        {"geometry": {"points": [[1, "2"], [3, 4]]}},  # numbers only
        {"geometry": {"points": [[1, True], [3, 4]]}},
        {"geometry": {"points": [[1, 2], [3, 1e9]]}},  # out of range
        {"geometry": {"points": [[1, 2], [3, 65]]}},  # a 32-row image's handle 33 rows off
        {"geometry": {"points": [[-33, 2], [3, 4]]}},
        {"geometry": {"points": [[1, 2], [3, 4]], "script": "x"}},  # unknown key
        {"geometry": [[1, 2], [3, 4]]},
        {"measurements": {"Length!": 3}},
        {"measurements": {"length": {"value": "NaN"}}},
        {"tool": "freehand"},
        {"frame_number": 2},  # single-frame image
        {"sop_instance_uid": "1.2.3.4"},  # not in this study
        {"label": "x" * 300},
    ],
)
def test_invalid_annotations_are_refused(attending_client, ct_study, change):
    study_uid, sops, _ = ct_study
    response = attending_client.post(
        _url(study_uid), {**_length(sops[0]), **change}, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert Annotation.objects.count() == 0


def test_a_handle_may_sit_off_the_image_by_up_to_its_size(attending_client, ct_study):
    """Cornerstone lets a handle be dragged past the image's edge (32 x 32 here)."""
    study_uid, sops, _ = ct_study
    data = _length(sops[0], geometry={"points": [[-5.5, 2], [40, 63.9]]})
    response = attending_client.post(_url(study_uid), data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["geometry"]["points"] == [[-5.5, 2.0], [40.0, 63.9]]


def test_oversized_geometry_is_refused(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    data = _length(sops[0], tool="ai_finding")
    data["geometry"] = {"points": [[i, i] for i in range(65)]}
    assert (
        attending_client.post(_url(study_uid), data, content_type="application/json").status_code
        == 400
    )


def test_patch_increments_version_last_writer_wins(attending_client, client, resident, ct_study):
    study_uid, sops, _ = ct_study
    created = attending_client.post(
        _url(study_uid), _length(sops[0]), content_type="application/json"
    ).json()
    url = f"/api/annotations/{created['id']}/"
    first = attending_client.patch(url, {"label": "A"}, content_type="application/json").json()
    client.force_login(resident)
    second = client.patch(
        url,
        {"label": "B", "geometry": {"points": [[0, 0], [5, 5]]}},
        content_type="application/json",
    ).json()
    assert (first["version"], second["version"]) == (2, 3)
    stored = Annotation.objects.get(pk=created["id"])
    assert stored.label == "B" and stored.version == 3
    assert stored.geometry == {"points": [[0.0, 0.0], [5.0, 5.0]]}
    assert second["updated_by"]["username"] == resident.username
    assert stored.author.role == "attending"  # authorship does not move


def test_patch_cannot_change_tool_or_image(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    created = attending_client.post(
        _url(study_uid), _length(sops[0]), content_type="application/json"
    ).json()
    response = attending_client.patch(
        f"/api/annotations/{created['id']}/", {"tool": "angle"}, content_type="application/json"
    )
    # Unknown fields are dropped by the serializer; the tool stays.
    assert response.status_code == 200
    assert Annotation.objects.get(pk=created["id"]).tool == "length"


def test_delete_is_soft_and_hidden_from_list(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    created = attending_client.post(
        _url(study_uid), _length(sops[0]), content_type="application/json"
    ).json()
    url = f"/api/annotations/{created['id']}/"
    assert attending_client.delete(url).status_code == 204
    assert attending_client.delete(url).status_code == 204  # idempotent
    stored = Annotation.objects.get(pk=created["id"])
    assert stored.deleted_at is not None and stored.version == 2
    assert attending_client.get(_url(study_uid)).json()["results"] == []
    with_deleted = attending_client.get(_url(study_uid) + "?include_deleted=1").json()["results"]
    assert [a["id"] for a in with_deleted] == [created["id"]]
    assert (
        attending_client.patch(url, {"label": "x"}, content_type="application/json").status_code
        == 400
    )


def _ai_finding(study_uid, sop_uid):
    return create_annotation(
        study=Study.objects.get(study_instance_uid=study_uid),
        author=None,
        source=Source.AI,
        provenance={"model": "medgemma-1.5-4b-it", "prompt": "findings?", "job_id": 7},
        data={
            "sop_instance_uid": sop_uid,
            "tool": "ai_box",
            "geometry": {"points": [[2, 2], [12, 14]]},
            "label": "opacity",
        },
    )


@pytest.mark.parametrize(("decision", "state"), [("accept", "accepted"), ("reject", "rejected")])
def test_review_ai_finding(attending_client, attending, ct_study, decision, state):
    study_uid, sops, _ = ct_study
    finding = _ai_finding(study_uid, sops[0])
    assert finding.review_state == ReviewState.PENDING and finding.author is None
    response = attending_client.post(
        f"/api/annotations/{finding.pk}/review/",
        {"decision": decision},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["review_state"] == state
    assert body["reviewed_by"]["username"] == attending.username
    assert body["provenance"]["job_id"] == 7
    assert body["reviewed_at"]


def test_review_edit_changes_geometry(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    finding = _ai_finding(study_uid, sops[0])
    response = attending_client.post(
        f"/api/annotations/{finding.pk}/review/",
        {
            "decision": "edit",
            "changes": {"geometry": {"points": [[3, 3], [10, 10]]}, "label": "GGO"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    stored = Annotation.objects.get(pk=finding.pk)
    assert stored.review_state == "edited" and stored.label == "GGO"
    assert stored.geometry["points"] == [[3.0, 3.0], [10.0, 10.0]]
    # An edit without changes, and reviewing a human annotation, are refused.
    assert (
        attending_client.post(
            f"/api/annotations/{finding.pk}/review/",
            {"decision": "edit"},
            content_type="application/json",
        ).status_code
        == 400
    )
    human = attending_client.post(
        _url(study_uid), _length(sops[0]), content_type="application/json"
    )
    assert (
        attending_client.post(
            f"/api/annotations/{human.json()['id']}/review/",
            {"decision": "accept"},
            content_type="application/json",
        ).status_code
        == 400
    )


def test_outsider_gets_403_everywhere(outsider_client, attending, ct_study):
    study_uid, sops, _ = ct_study
    study = Study.objects.get(study_instance_uid=study_uid)
    annotation = create_annotation(study=study, author=attending, data=_length(sops[0]))
    base = f"/api/annotations/{annotation.pk}/"
    assert outsider_client.get(_url(study_uid)).status_code == 403
    assert (
        outsider_client.post(
            _url(study_uid), _length(sops[0]), content_type="application/json"
        ).status_code
        == 403
    )
    assert outsider_client.get(base).status_code == 403
    assert (
        outsider_client.patch(base, {"label": "x"}, content_type="application/json").status_code
        == 403
    )
    assert outsider_client.delete(base).status_code == 403
    assert (
        outsider_client.post(
            base + "review/", {"decision": "accept"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert outsider_client.post(base + "export-sr/").status_code == 403
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_anonymous_gets_401(client, ct_study):
    study_uid, _, _ = ct_study
    assert client.get(_url(study_uid)).status_code == 401


def test_unknown_study_and_annotation_are_404(attending_client):
    assert attending_client.get(_url("1.2.3")).status_code == 404
    assert attending_client.get(f"/api/annotations/{uuid.uuid4()}/").status_code == 404
    assert attending_client.get("/api/annotations/not-a-uuid/").status_code == 404
