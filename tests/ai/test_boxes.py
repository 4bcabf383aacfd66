"""Localised findings land on the right image at the right place (source pixel coordinates).

A realistic localisation answer (fenced JSON, 0-1000 boxes on the padded square,
``image`` numbering the CT slices in prompt order) goes through the parser, the box
mapping and the job's save path; the stored ``ai_box`` is checked against the
inverse mapping.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from inference.loading import ModelInfo
from inference.medgemma import AnalysisResult, Generation
from inference.parsing import parse_localisation
from inference.preprocessing import box_to_source, source_to_box
from reading.ai import attempts, findings, runner, services
from reading.ai.models import AIReview, JobStatus
from reading.annotations.models import Annotation
from reading.studies.models import Instance
from tests.ai.conftest import series_uid

ANSWER = """```json
[{"box_2d": [420, 180, 560, 330], "label": "nodule", "image": 2},
 {"box_2d": [100, 600, 300, 900], "label": "opacity", "image": 3}]
```"""


def test_boxes_are_stored_on_their_slice_in_source_pixels(demo, attending):
    ct = demo["Chest CT"]
    job = services.create_job(ct, task="localise", series_uid=series_uid(ct), delay=3600)
    job = attempts.claim_job(job.pk, "test")
    datasets = runner._read_series(ct, job.series_instance_uid)
    images = runner._prepare(datasets, 85, None, "series").images
    parsed = parse_localisation(ANSWER)
    boxes = [box_to_source(b["box_2d"], images[b["image"] - 1], b["label"]) for b in parsed.data]
    generation = Generation(ANSWER, 40, 100, len(images), 0.1, 0.2, 0.3)
    result = AnalysisResult(
        "localisation", ANSWER, parsed.status, parsed.data, [], boxes, generation
    )
    info = ModelInfo("medgemma", "/models/test", "cpu", "float32", 1, True)
    engine = SimpleNamespace(info=info, model=SimpleNamespace(config=SimpleNamespace()))
    refs = runner._image_refs(images, "current")
    outcome, found = findings.build(job, engine, result, images, [], refs, [], 0.5)
    done = attempts.complete_job(job, outcome, found)
    assert done.status == JobStatus.DONE
    stored = list(Annotation.objects.filter(ai_link__job=job).order_by("ai_link__index"))
    assert [a.tool for a in stored] == ["ai_box", "ai_box"]
    for annotation, item in zip(stored, parsed.data, strict=True):
        image = images[item["image"] - 1]
        assert annotation.sop_instance_uid == image.source.sop_instance_uid
        assert annotation.label == item["label"] and annotation.review_state == "pending"
        (x0, y0), (x1, y1) = annotation.geometry["points"]
        assert 0 <= x0 < x1 <= image.source.columns and 0 <= y0 < y1 <= image.source.rows
        assert source_to_box(x0, y0, x1, y1, image) == pytest.approx(item["box_2d"], abs=0.5)
        assert (
            annotation.provenance["images"][0]["sop_instance_uid"] == image.source.sop_instance_uid
        )
    # Delivered again (a retry that reached the save): nothing more is stored.
    assert attempts.complete_job(job, outcome, found) is None
    assert Annotation.objects.filter(ai_link__job=job).count() == 2


def _stored_boxes(ct) -> list[Annotation]:
    job = services.create_job(ct, task="localise", series_uid=series_uid(ct), delay=3600)
    job = attempts.claim_job(job.pk, "test")
    images = runner._prepare(runner._read_series(ct, job.series_instance_uid), 85, None, "s").images
    parsed = parse_localisation(ANSWER)
    boxes = [box_to_source(b["box_2d"], images[b["image"] - 1], b["label"]) for b in parsed.data]
    generation = Generation(ANSWER, 40, 100, len(images), 0.1, 0.2, 0.3)
    result = AnalysisResult(
        "localisation", ANSWER, parsed.status, parsed.data, [], boxes, generation
    )
    info = ModelInfo("medgemma", "/models/test", "cpu", "float32", 1, True)
    engine = SimpleNamespace(info=info, model=SimpleNamespace(config=SimpleNamespace()))
    outcome, found = findings.build(
        job, engine, result, images, [], runner._image_refs(images, "current"), [], 0.5
    )
    attempts.complete_job(job, outcome, found)
    return list(Annotation.objects.filter(ai_link__job=job).order_by("ai_link__index"))


def test_a_box_moved_by_the_reader_is_an_edit_with_its_history(demo, client, resident, outsider):
    box = _stored_boxes(demo["Chest CT"])[0]
    (x0, y0), (x1, y1) = box.geometry["points"]
    moved = [[x0 + 5, y0 + 4], [x1 + 12, y1 + 9]]
    url = f"/api/ai/findings/{box.pk}/review/"
    client.force_login(outsider)
    body = {"decision": "edit", "changes": {"geometry": {"points": moved}}}
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(resident)
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200, response.content
    finding = response.json()
    assert finding["annotation"]["review_state"] == "edited"
    assert finding["annotation"]["geometry"]["points"] == moved
    # The model's answer stays with the finding; the history says what the reader changed.
    assert finding["annotation"]["provenance"]["raw_output"] == ANSWER
    (review,) = finding["reviews"]
    assert review["decision"] == "edit"
    assert review["changes"]["before"]["geometry"]["points"] == [[x0, y0], [x1, y1]]
    assert review["changes"]["after"]["geometry"]["points"] == moved
    bad = {"decision": "edit", "changes": {"geometry": {"points": [[1, 2]]}}}
    assert client.post(url, bad, content_type="application/json").status_code == 400


@pytest.mark.parametrize(
    ("corners", "why"),
    [
        (lambda w, h: [[-3, 10], [20, 30]], "not on the image"),  # negative
        (lambda w, h: [[10, 10], [w + 1, 30]], "not on the image"),  # beyond Columns
        (lambda w, h: [[10, 10], [20, h + 0.5]], "not on the image"),  # beyond Rows
        (lambda w, h: [[10, 10], [10, 30]], "width and height above zero"),  # no width
        (lambda w, h: [[10, 30], [20, 30]], "width and height above zero"),  # no height
        (lambda w, h: [[20, 30], [10, 10]], "top-left then its bottom-right"),  # inverted
        (lambda w, h: [[1e9, 10], [20, 30]], "outside the image coordinate range"),
    ],
    ids=["negative", "beyond-columns", "beyond-rows", "no-width", "no-height", "inverted", "huge"],
)
def test_an_edited_box_off_its_image_is_refused_and_nothing_saved(
    demo, client, resident, corners, why
):
    box = _stored_boxes(demo["Chest CT"])[0]
    image = Instance.objects.get(sop_instance_uid=box.sop_instance_uid)
    points = corners(image.columns, image.rows)
    before = Annotation.objects.get(pk=box.pk)
    client.force_login(resident)
    for url in (f"/api/ai/findings/{box.pk}/review/", f"/api/annotations/{box.pk}/review/"):
        body = {"decision": "edit", "changes": {"geometry": {"points": points}}}
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content)
        assert why in " ".join(response.json()["detail"]), response.json()
    after = Annotation.objects.get(pk=box.pk)
    assert (after.geometry, after.version, after.review_state) == (
        before.geometry,
        before.version,
        "pending",
    )
    assert not AIReview.objects.filter(annotation=box).exists()


def test_a_box_with_nan_is_refused(demo, client, resident):
    box = _stored_boxes(demo["Chest CT"])[0]
    client.force_login(resident)
    body = '{"decision": "edit", "changes": {"geometry": {"points": [[NaN, 1], [2, 3]]}}}'
    response = client.post(
        f"/api/ai/findings/{box.pk}/review/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert Annotation.objects.get(pk=box.pk).version == box.version


def test_a_stored_box_off_its_image_cannot_be_accepted_only_rejected(demo, client, attending):
    """A row stored before the check: accepting it is refused, rejecting it is allowed."""
    box = _stored_boxes(demo["Chest CT"])[0]
    image = Instance.objects.get(sop_instance_uid=box.sop_instance_uid)
    Annotation.objects.filter(pk=box.pk).update(
        geometry={"points": [[5.0, 5.0], [image.columns + 40.0, 20.0]]}
    )
    client.force_login(attending)
    url = f"/api/ai/findings/{box.pk}/review/"
    response = client.post(url, {"decision": "accept"}, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "not on the image" in " ".join(response.json()["detail"])
    assert Annotation.objects.get(pk=box.pk).review_state == "pending"
    response = client.post(url, {"decision": "reject"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert Annotation.objects.get(pk=box.pk).review_state == "rejected"
