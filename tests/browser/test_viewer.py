"""The diagnostic viewer end to end: real Daphne, real DICOMweb, Chromium rendering.

Assertions are on pixels (screenshots of the viewport) and on the viewer's state
(``window.readingViewer.state()``), never on exact camera numbers, which differ
between Cornerstone's WebGL and CPU paths.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, RLELossless

from reading.studies.services import ingest_instance
from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    SLICES,
    assert_not_blank,
    make_study,
    open_viewer,
    pixels,
    state,
    viewport_box,
    vp_state,
    wait_for_image,
    wait_loaded,
)

pytestmark = pytest.mark.browser


def test_ct_renders_scrolls_and_windows(login_page, attending, shot):
    study_uid, series_uid, _ = make_study()
    page = open_viewer(login_page, attending, study_uid)
    shot(page, "viewer-ct-open")
    first = pixels(page)
    assert_not_blank(first)
    s = vp_state(page)
    assert s["series"] == series_uid and s["total"] == SLICES
    wait_loaded(page)
    assert all(x["failed"] == 0 for x in state(page)["series"])
    overlay = page.locator('.vw-cell[data-viewport-id="vp-0"] .vw-overlay').inner_text()
    assert "Viewer Test" in overlay and f"/{SLICES}" in overlay and "Thk 2.50 mm" in overlay

    # The wheel moves the slice, and the image changes with it.
    box = viewport_box(page)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    before = vp_state(page)["slice"]
    for _ in range(5):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(60)
    page.wait_for_timeout(300)
    after = vp_state(page)["slice"]
    assert after != before
    assert abs(after - before) >= 3
    # Arrow keys and Page keys too.
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(200)
    assert vp_state(page)["slice"] == after + 1 or vp_state(page)["slice"] == after - 1
    page.keyboard.press("Home")
    page.wait_for_timeout(200)
    assert vp_state(page)["slice"] == 0

    page.keyboard.press("End")
    page.wait_for_timeout(300)
    assert vp_state(page)["slice"] == SLICES - 1
    page.keyboard.press("PageUp")
    page.wait_for_timeout(300)
    assert vp_state(page)["slice"] == SLICES - 11
    # Back to the middle with the scroll bar.
    bar = page.locator('.vw-cell[data-viewport-id="vp-0"] .vw-scrollbar').bounding_box()
    page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.wait_for_timeout(300)
    assert abs(vp_state(page)["slice"] - SLICES // 2) <= 2
    middle = pixels(page)

    # W/L by drag (the default left-button tool) changes the image and the VOI.
    voi_before = vp_state(page)["voi"]
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 60, steps=8)
    page.mouse.up()
    page.wait_for_timeout(400)
    dragged = pixels(page)
    voi_after = vp_state(page)["voi"]
    assert voi_after != voi_before
    assert np.abs(dragged - middle).mean() > 3, "W/L drag did not change the image"
    shot(page, "viewer-ct-wl-drag")

    # Presets on number keys: lung window.
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    voi = vp_state(page)["voi"]
    assert voi["lower"] == pytest.approx(-1350, abs=1) and voi["upper"] == pytest.approx(150, abs=1)
    lung = pixels(page)
    assert np.abs(lung - dragged).mean() > 3
    assert (
        "W 1500 L -600"
        in page.locator('.vw-cell[data-viewport-id="vp-0"] .vw-overlay').inner_text()
    )
    shot(page, "viewer-ct-lung-window")

    # Invert, and the help overlay.
    page.keyboard.press("i")
    page.wait_for_timeout(300)
    assert vp_state(page)["invert"] is True
    inverted = pixels(page)
    assert np.abs(inverted - lung).mean() > 20
    # Rotate and flip move the orientation markers with the image.
    markers = '.vw-cell[data-viewport-id="vp-0"] [data-orient="{}"]'
    assert page.locator(markers.format("left")).inner_text() == "R"
    page.keyboard.press("h")
    page.wait_for_timeout(300)
    assert vp_state(page)["flipHorizontal"] is True
    assert page.locator(markers.format("left")).inner_text() == "L"
    page.keyboard.press("o")
    page.wait_for_timeout(300)
    assert vp_state(page)["rotation"] == 90
    assert page.locator(markers.format("top")).inner_text() in {"L", "R"}
    shot(page, "viewer-ct-rotated")
    # Reset restores the default window, no inversion, no rotation or flip.
    page.keyboard.press("0")
    page.wait_for_timeout(300)
    s = vp_state(page)
    assert not s["invert"] and s["rotation"] == 0 and not s["flipHorizontal"]
    assert s["voi"]["lower"] == pytest.approx(-160, abs=1)  # the file's W400/L40
    assert page.locator(markers.format("left")).inner_text() == "R"

    # Cine plays at the chosen rate and stops.
    page.fill(".vw-fps", "20")
    page.locator(".vw-fps").dispatch_event("change")
    start = vp_state(page)["slice"]
    page.keyboard.press(" ")
    page.wait_for_timeout(1000)
    page.keyboard.press(" ")
    moved = (vp_state(page)["slice"] - start) % SLICES
    assert moved >= 5, f"cine moved {moved} slices in 1 s at 20 fps"
    stopped = vp_state(page)["slice"]
    page.wait_for_timeout(400)
    assert vp_state(page)["slice"] == stopped

    page.keyboard.press("?")
    assert page.locator(".vw-help").is_visible()
    assert "Lung window" in page.locator(".vw-help").inner_text()
    shot(page, "viewer-help")
    page.keyboard.press("Escape")
    assert not page.locator(".vw-help").is_visible()
    assert page.errors == []


def test_compressed_study_renders_losslessly(login_page, attending, shot):
    study_uid, _, datasets = make_study(n=12, size=128, transfer_syntax=JPEG2000Lossless)
    page = open_viewer(login_page, attending, study_uid)
    wait_loaded(page)
    assert_not_blank(pixels(page))
    shot(page, "viewer-jpeg2000")
    index = vp_state(page)["slice"]
    # The decoded frame equals the original pixels (modality LUT applied: HU).
    decoded = page.evaluate(
        """() => { const vp = window.readingViewer.renderingEngine.getViewport('vp-0');
                   const img = vp.getCornerstoneImage();
                   return {data: Array.from(img.getPixelData()), scaled: !!img.preScale?.scaled,
                           slope: img.slope, intercept: img.intercept}; }"""
    )
    expected = datasets[index].pixel_array.astype(np.float64).ravel()
    got = np.asarray(decoded["data"], dtype=np.float64)
    if decoded["scaled"]:
        expected = expected * decoded["slope"] + decoded["intercept"]
    assert np.array_equal(got, expected)

    rle_uid, _, _ = make_study(n=6, size=128, transfer_syntax=RLELossless, patient_id="MRN-V2")
    page.goto(page.url.replace(study_uid, rle_uid))
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    wait_for_image(page)
    wait_loaded(page)
    assert_not_blank(pixels(page))
    shot(page, "viewer-rle")
    assert page.errors == []


def test_every_sample_transfer_syntax_renders(login_page, attending, shot):
    """pydicom's sample files in nine transfer syntaxes (the demo's sample study), one series
    each: every one decodes in the loader's workers and draws something."""
    from reading.studies.demo import DemoScale, demo_studies

    def seed():
        sample_study = demo_studies(DemoScale.small())[-1]
        results = [ingest_instance(i.build(), name=i.name) for i in sample_study.instances]
        assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
        return results[0].study_instance_uid, len(results)

    study_uid, count = in_thread(seed)
    assert count >= 9
    page = open_viewer(login_page, attending, study_uid)
    items = page.locator(".vw-series-item")
    assert items.count() == count
    for i in range(count):
        uid = items.nth(i).get_attribute("data-series-uid")
        items.nth(i).click()
        page.wait_for_function(
            """(uid) => { const s = window.readingViewer.state();
                          const v = s.viewports[0]; const se = s.series.find(x => x.uid === uid);
                          return v.series === uid && v.imageId && se.complete; }""",
            arg=uid,
        )
        page.wait_for_timeout(300)
        series = next(x for x in state(page)["series"] if x["uid"] == uid)
        description = items.nth(i).inner_text().splitlines()[0]
        assert series["failed"] == 0, description
        img = pixels(page)
        assert img.std() > 5, f"{description}: blank"
        shot(page, f"viewer-sample-{i + 1:02d}")
    assert page.errors == []


def test_event_interface_for_live_sessions(login_page, attending):
    """What the live-session code will use: events out, applyViewport/applyAnnotation in."""
    study_uid, series_uid, datasets = make_study(n=10, size=64)
    page = open_viewer(login_page, attending, study_uid)
    wait_loaded(page)
    page.evaluate(
        """() => { window.__events = [];
                   for (const t of ['viewport-changed', 'annotation-added', 'annotation-removed'])
                     window.readingViewer.on(t, (d) => window.__events.push([t, d])); }"""
    )
    page.keyboard.press("Home")
    page.wait_for_function("window.__events.some(([t, d]) => d.slice === 0)")
    event = page.evaluate("window.__events.find(([t, d]) => d.slice === 0)")
    assert event[0] == "viewport-changed"
    assert event[1]["series"] == series_uid and event[1]["remote"] is False
    assert {"voi", "zoom", "pan", "viewportId"} <= set(event[1])

    # A follower applies the leader's state; the echo is marked remote.
    page.evaluate("window.readingViewer.applyViewport({slice: 7, voi: {lower: -1000, upper: 200}})")
    page.wait_for_function("window.__events.some(([t, d]) => d.slice === 7 && d.remote)")
    s = vp_state(page)
    assert s["slice"] == 7 and s["voi"] == {"lower": -1000, "upper": 200}

    # A record made elsewhere (here: POSTed straight to the API) shows up, then goes away.
    record = page.evaluate(
        """async ([study, series, sop]) => {
             const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
             const r = await fetch(`/api/studies/${study}/annotations/`, {method: 'POST',
               headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
               body: JSON.stringify({series_instance_uid: series, sop_instance_uid: sop,
                 frame_number: 1, tool: 'probe', geometry: {points: [[32, 40]]}})});
             return r.json(); }""",
        [study_uid, series_uid, datasets[7].SOPInstanceUID],
    )
    assert page.evaluate("window.readingViewer.state().annotations.shown") == 0
    page.evaluate("(r) => window.readingViewer.applyAnnotation(r)", record)
    page.wait_for_function("window.readingViewer.state().annotations.shown === 1")
    assert page.locator(f'.vw-annotation[data-annotation-id="{record["id"]}"]').count() == 1
    page.evaluate("(id) => window.readingViewer.removeAnnotation(id)", record["id"])
    page.wait_for_function("window.readingViewer.state().annotations.shown === 0")
    # Showing and hiding a remote record neither re-saves nor deletes it.
    page.wait_for_timeout(500)
    assert not page.evaluate("window.__events.some(([t]) => t.startsWith('annotation-'))")
    from reading.annotations.models import Annotation

    assert Annotation.objects.filter(pk=record["id"], deleted_at__isnull=True).count() == 1
    assert page.errors == []


def test_outsider_cannot_open_viewer(login_page, outsider):
    study_uid, _, _ = make_study(n=2, size=32)
    page = login_page(outsider, f"/viewer/{study_uid}/")
    assert page.locator("#rr-viewer").count() == 0
    response = page.request.get(page.url)
    assert response.status == 403
