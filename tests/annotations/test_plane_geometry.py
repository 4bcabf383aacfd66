"""Measurements drawn on a reformatted (MPR) plane: kept with their patient coordinates."""

import pytest

pytestmark = pytest.mark.django_db

PLANE = {"normal": [1.0, 0.0, 0.0], "view_up": [0.0, 0.0, 1.0]}


def _sagittal_length(sop_uid, **geometry):
    return {
        "sop_instance_uid": sop_uid,
        "tool": "length",
        "geometry": {
            "points": [[10.0, 20.0], [10.0, 40.0]],
            "world": [[0.5, 10.0, -2.5], [0.5, 10.0, -22.5]],
            "plane": PLANE,
            **geometry,
        },
        "measurements": {"length": {"value": 20.0, "unit": "mm"}},
    }


def test_plane_geometry_is_kept_and_read_back(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    url = f"/api/studies/{study_uid}/annotations/"
    response = attending_client.post(
        url, _sagittal_length(sops[0]), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["geometry"]["world"] == [[0.5, 10.0, -2.5], [0.5, 10.0, -22.5]]
    assert body["geometry"]["plane"] == PLANE
    listed = attending_client.get(url).json()["results"]
    assert listed[0]["geometry"] == body["geometry"]


@pytest.mark.parametrize(
    "geometry",
    [
        {"world": [[0.5, 10.0, -2.5]]},  # one world point for two image points
        {"world": [[0.5, 10.0], [0.5, 10.0]]},  # not 3D
        {"plane": {"normal": [5.0, 0.0, 0.0], "view_up": [0.0, 0.0, 1.0]}},  # not a unit vector
        {"plane": {"normal": [1.0, 0.0, 0.0]}},  # no view_up
    ],
)
def test_malformed_plane_geometry_is_refused(attending_client, ct_study, geometry):
    study_uid, sops, _ = ct_study
    response = attending_client.post(
        f"/api/studies/{study_uid}/annotations/",
        _sagittal_length(sops[0], **geometry),
        content_type="application/json",
    )
    assert response.status_code == 400


def test_sr_export_of_a_reformatted_plane_measurement_is_refused(attending_client, ct_study):
    study_uid, sops, _ = ct_study
    created = attending_client.post(
        f"/api/studies/{study_uid}/annotations/",
        _sagittal_length(sops[0]),
        content_type="application/json",
    ).json()
    response = attending_client.post(f"/api/annotations/{created['id']}/export-sr/")
    assert response.status_code in (400, 409, 422)


def test_outsider_cannot_read_plane_measurements(attending_client, outsider_client, ct_study):
    study_uid, sops, _ = ct_study
    url = f"/api/studies/{study_uid}/annotations/"
    attending_client.post(url, _sagittal_length(sops[0]), content_type="application/json")
    assert outsider_client.get(url).status_code in (403, 404)
