"""The AI panel's review tools in the browser: the cost said before a run, a box dragged
on its image and saved as an edit, and "Export SR" storing the reviewed findings as a
new series of the study.

The server knows the tiny random-weight MedGemma (the estimate reads its weight files
and says RANDOM WEIGHTS). The box is a localisation answer put through the same parser,
mapping and save path a job uses (``tests/ai/test_boxes.py``): a random-weight model
answers noise, never a box to drag.
"""

from __future__ import annotations

import re

import pytest

from inference.loading import ModelInfo
from inference.medgemma import AnalysisResult, Generation
from inference.parsing import parse_localisation
from inference.preprocessing import box_to_source
from reading.ai import attempts, findings, runner, services
from reading.annotations.models import Annotation
from tests.ai.conftest import _seed, series_uid, tiny_medgemma  # noqa: F401 - the model fixture
from tests.browser.conftest import _server_env, start_server, stop_server
from tests.browser.offloop import in_thread
from tests.browser.test_ai import _until, open_viewer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER = '```json\n[{"box_2d": [300, 250, 620, 560], "label": "opacity", "image": 1}]\n```'
WADO = 'multipart/related; type="application/dicom"'


@pytest.fixture
def ai_server(tiny_medgemma, transactional_db):  # noqa: F811 - the imported fixture
    env = {
        **_server_env(),
        "MEDGEMMA_MODEL": str(tiny_medgemma),
        "INFERENCE_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    server, url = start_server(env)
    yield url
    stop_server(server)


def _box_finding(study) -> Annotation:
    """A done localisation job of ``study`` with one ``ai_box`` awaiting review."""
    job = services.create_job(study, task="localise", series_uid=series_uid(study), delay=3600)
    job = attempts.claim_job(job.pk, "test")
    images = runner._prepare(
        runner._read_series(study, job.series_instance_uid), 85, None, "series"
    ).images
    parsed = parse_localisation(ANSWER)
    boxes = [box_to_source(b["box_2d"], images[b["image"] - 1], b["label"]) for b in parsed.data]
    result = AnalysisResult(
        "localisation",
        ANSWER,
        parsed.status,
        parsed.data,
        [],
        boxes,
        Generation(ANSWER, 40, 100, len(images), 0.1, 0.2, 0.3),
    )
    info = ModelInfo("medgemma", "/models/test", "cpu", "float32", 1, True)
    engine = type("Engine", (), {"info": info, "model": type("M", (), {"config": None})()})()
    outcome, found = findings.build(
        job, engine, result, images, [], runner._image_refs(images, "current"), [], 0.5
    )
    attempts.complete_job(job, outcome, found)
    return Annotation.objects.get(ai_link__job=job)


def _open(browser, url, user, path):
    page = open_viewer(browser, url, user, path, ready_timeout=60)
    page.locator(".vw-dock-tab[data-panel=ai]").click()
    return page


def test_estimate_box_drag_and_sr_export(browser, ai_server, attending, shot):
    cr = in_thread(_seed, ("Chest radiograph",))["Chest radiograph PA"]
    study_uid, image_series = cr.study_instance_uid, series_uid(cr)
    page = _open(browser, ai_server, attending, f"/viewer/{study_uid}/")

    # Before anything runs: what the next read would cost, as the estimate API says.
    page.locator(".ai-task").select_option("findings")
    _until(page, "() => /about .* on CPU/.test(document.querySelector('.ai-estimate').innerText)")
    said = page.locator(".ai-estimate").inner_text()
    guess = page.request.get(
        f"{ai_server}/api/ai/estimate/?study={study_uid}&series={image_series}&task=findings"
    ).json()
    assert guess["model"]["random_weights"] and guess["basis"] == "model size"
    assert said.startswith("RANDOM WEIGHTS"), said
    assert re.search(r"about \d+(\.\d)? (s|min|h) on CPU", said), said
    assert f"({guess['images']} image" in said and f"{guess['tokens']} tokens" in said, said
    assert "from the model size" in said
    assert page.locator(".ai-job").count() == 0  # said before any job exists
    page.locator(".ai-task").select_option("localise")
    _until(page, "(old) => document.querySelector('.ai-estimate').innerText !== old", said)

    # A box to review: drag its bottom-right corner on the image, then "Save box".
    box = in_thread(_box_finding, cr)
    (x0, y0), (x1, y1) = box.geometry["points"]
    page.reload()
    _until(page, "() => window.readingViewer && window.readingViewer.state().ready", timeout=60)
    _until(page, "() => window.readingViewer.ai")
    page.locator(".vw-dock-tab[data-panel=ai]").click()
    finding = page.locator(f".ai-finding[data-annotation='{box.pk}']")
    finding.wait_for()
    finding.locator(".ai-edit-box").click()
    page.wait_for_selector(".ai-save-box")
    corner = page.evaluate("(id) => window.readingViewer.ai.boxes.pageCorner(id, 3)", str(box.pk))
    assert corner, "the box's corner is on screen"
    page.mouse.move(corner["x"], corner["y"])
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(corner["x"] - 4 * step, corner["y"] - 3 * step)
    page.mouse.up()
    shot(page, "ai-box-dragged")
    page.locator(".ai-save-box").click()
    page.wait_for_selector(f".ai-finding[data-annotation='{box.pk}'][data-state=edited]")

    saved = page.request.get(f"{ai_server}/api/annotations/{box.pk}/").json()
    (nx0, ny0), (nx1, ny1) = saved["geometry"]["points"]
    assert (nx0, ny0) == pytest.approx((x0, y0), abs=0.5)  # the corner not dragged stays
    assert nx1 < x1 - 1 and ny1 < y1 - 1, (saved["geometry"], box.geometry)  # moved up-left
    assert 0 <= nx0 < nx1 and 0 <= ny0 < ny1
    assert saved["review_state"] == "edited" and saved["version"] > box.version

    # Export SR: a new series in the list, served by WADO-RS.
    before = set(page.evaluate("window.readingViewer.state().series.map((s) => s.uid)"))
    page.locator(".ai-export-sr").click()
    page.wait_for_selector(".ai-message:has-text('Stored as DICOM SR')")
    sop = re.search(r"DICOM SR ([0-9.]+)", page.locator(".ai-message").inner_text()).group(1)
    _until(page, "(n) => window.readingViewer.state().series.length > n", len(before))
    added = [
        s
        for s in page.evaluate(
            "window.readingViewer.state().series.map((s) => ({uid: s.uid, modality: s.modality}))"
        )
        if s["uid"] not in before
    ]
    assert [s["modality"] for s in added] == ["SR"], added
    sr_series = added[0]["uid"]
    page.wait_for_selector(f".vw-series-item[data-series-uid='{sr_series}']")
    # Listed as what it is: its modality, no thumbnail (an SR has no image to render).
    sr_item = page.locator(f".vw-series-item[data-series-uid='{sr_series}']")
    assert sr_item.locator("img").count() == 0 and sr_item.locator(".glyph").inner_text() == "SR"
    served = page.request.get(
        f"{ai_server}/dicomweb/studies/{study_uid}/series/{sr_series}/instances/{sop}",
        headers={"Accept": WADO},
    )
    assert served.status == 200 and served.headers["content-type"].startswith("multipart/related")
    assert b"DICM" in served.body()
    listed = page.request.get(
        f"{ai_server}/dicomweb/studies/{study_uid}/series",
        headers={"Accept": "application/dicom+json"},
    ).json()
    modalities = {s["0020000E"]["Value"][0]: s["00080060"]["Value"][0] for s in listed}
    assert modalities[sr_series] == "SR"
    shot(page, "ai-panel-findings")
    assert not page.errors, page.errors
