"""The viewer's tools end to end: measurements that say what and where, ROI statistics in HU,
MPR, a prior beside the current study, layouts. Real Daphne, real DICOMweb, Chromium."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from pydicom.uid import generate_uid

from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    SIZE,
    assert_not_blank,
    build_study,
    ingest,
    make_study,
    open_viewer,
    phantom_series,
    pixels,
    state,
    viewport_box,
    vp_state,
    wait_for_image,
    wait_loaded,
)

pytestmark = pytest.mark.browser


def test_length_measurement_is_saved_and_comes_back(login_page, attending, shot):
    from reading.annotations.models import Annotation
    from reading.studies.models import Instance

    study_uid, series_uid, datasets = make_study(n=24)
    page = open_viewer(login_page, attending, study_uid)
    page.keyboard.press("l")  # length tool
    box = viewport_box(page)
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.5
    x1, y1 = box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.5
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=10)
    page.mouse.up()
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    shot(page, "viewer-length")
    slice_index = vp_state(page)["slice"]

    saved = Annotation.objects.get()
    assert saved.tool == "length"
    assert saved.series_instance_uid == series_uid
    assert saved.sop_instance_uid == datasets[slice_index].SOPInstanceUID
    assert saved.frame_number == 1
    (ax, ay), (bx, by) = saved.geometry["points"]
    # Image pixel coordinates: a horizontal line across the middle of a 256-pixel image.
    assert 0 <= ax < bx <= SIZE and abs(ay - SIZE / 2) < 12 and abs(by - SIZE / 2) < 12
    length_px = bx - ax
    assert saved.measurements["length"]["unit"] == "mm"
    assert saved.measurements["length"]["value"] == pytest.approx(length_px * 1.4, rel=0.02)

    page.reload()
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    wait_for_image(page)
    st = state(page)
    assert len(st["annotations"]["records"]) == 1
    assert st["annotations"]["shown"] == 1
    page.evaluate("(i) => window.readingViewer.applyViewport({slice: i})", slice_index)
    page.wait_for_timeout(500)
    shot(page, "viewer-length-after-reload")
    # The restored line is drawn on its image, and the tool recomputes the same length.
    svg_text = page.locator('.vw-cell[data-viewport-id="vp-0"] svg').first.text_content()
    assert f"{round(saved.measurements['length']['value'])} mm" in svg_text
    page.wait_for_timeout(800)
    assert Annotation.objects.count() == 1  # showing it again saved nothing new
    saved.refresh_from_db()
    assert saved.version == 1 and saved.geometry["points"] == [[ax, ay], [bx, by]]

    # Read-only (the worklist's way of opening a study someone else holds): shown, not editable.
    viewer_url = page.url
    page.goto(viewer_url + "?readonly=1")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    assert page.locator('[data-tool="length"]').is_hidden()
    assert state(page)["annotations"]["shown"] == 1
    page.keyboard.press("l")
    assert state(page)["tool"] == "wl"
    assert "Read-only" in page.locator(".vw-status").inner_text()
    page.goto(viewer_url)
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")

    # The measurements list: export the record as DICOM SR into the study, then delete it.
    item = page.locator(f'.vw-annotation[data-annotation-id="{saved.id}"]')
    assert "Length" in item.inner_text() and " mm" in item.inner_text()
    item.locator('[data-action="export-sr"]').click()
    page.wait_for_function("document.querySelector('.vw-status').textContent.includes('DICOM SR')")
    saved.refresh_from_db()
    assert saved.sr_sop_instance_uid
    assert Instance.objects.filter(
        sop_instance_uid=saved.sr_sop_instance_uid, series__study__study_instance_uid=study_uid
    ).exists()
    shot(page, "viewer-length-exported")
    item.locator('[data-action="delete-annotation"]').click()
    item.locator('[data-action="confirm-delete"]').click()  # delete asks first
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 0")
    page.wait_for_timeout(300)
    saved.refresh_from_db()
    assert saved.deleted_at is not None
    assert page.errors == []


def test_roi_reports_mean_and_sd_in_hu(login_page, attending, shot):
    from reading.annotations.models import Annotation

    study_uid, _, _ = make_study(n=4)
    page = open_viewer(login_page, attending, study_uid)
    page.keyboard.press("r")  # rectangular ROI
    # Inside the 700 HU spine disc (centre x=128, y=128+0.22*256).
    cy = SIZE / 2 + 0.22 * SIZE
    (x0, y0), (x1, y1) = (
        page.evaluate("([p]) => window.readingViewer.imageToPage('vp-0', p)", [pt])
        for pt in ([SIZE / 2 - 7, cy - 7], [SIZE / 2 + 7, cy + 7])
    )
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=6)
    page.mouse.up()
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    page.wait_for_timeout(800)  # statistics settle, a PATCH may follow
    saved = Annotation.objects.get()
    assert saved.tool == "rectangle_roi"
    assert saved.measurements["mean"]["unit"] == "HU"
    assert saved.measurements["mean"]["value"] == pytest.approx(700, abs=1)
    assert saved.measurements["std_dev"]["value"] == pytest.approx(0, abs=1)
    item = page.locator(".vw-annotation").first.inner_text()
    assert "mean 700.0 HU" in item
    shot(page, "viewer-roi")

    # An arrow asks for its text, which is saved with it.
    page.keyboard.press("t")
    (ax, ay), (bx, by) = (
        page.evaluate("([p]) => window.readingViewer.imageToPage('vp-0', p)", [pt])
        for pt in ([40, 40], [80, 70])
    )
    page.mouse.move(ax, ay)
    page.mouse.down()
    page.mouse.move(bx, by, steps=5)
    page.mouse.up()
    page.locator(".vw-ask input").fill("check this")
    page.keyboard.press("Enter")
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 2")
    arrow = Annotation.objects.get(tool="arrow")
    assert arrow.text == "check this"
    (tx, ty), (hx, hy) = arrow.geometry["points"]
    assert abs(tx - 40) < 2 and abs(ty - 40) < 2 and abs(hx - 80) < 2 and abs(hy - 70) < 2
    shot(page, "viewer-arrow")
    assert page.errors == []


def test_mpr_shows_three_orientations(login_page, attending, shot):
    study_uid, _, _ = make_study(n=40, size=128)
    page = open_viewer(login_page, attending, study_uid)
    wait_loaded(page)
    slice_before = vp_state(page)["slice"]
    page.keyboard.press("m")
    page.wait_for_function(
        "window.readingViewer.state().mpr && window.readingViewer.state().viewports.length === 3"
    )
    page.wait_for_timeout(1500)
    st = state(page)
    assert [v["orientation"] for v in st["viewports"]] == ["axial", "sagittal", "coronal"]
    images = {v["viewportId"]: pixels(page, v["viewportId"]) for v in st["viewports"]}
    for img in images.values():
        assert_not_blank(img)
    # Each plane shows a different section of the volume.
    h = min(i.shape[0] for i in images.values())
    w = min(i.shape[1] for i in images.values())
    axial, sagittal, coronal = (
        images[k][:h, :w] for k in ("mpr-axial", "mpr-sagittal", "mpr-coronal")
    )
    assert np.abs(axial - sagittal).mean() > 5 and np.abs(sagittal - coronal).mean() > 5
    shot(page, "viewer-mpr")
    # A 20 mm MIP slab: every axial pixel as bright or brighter, and the nodule 10 mm
    # below this plane shows up in it.
    page.select_option(".vw-slab", "20")
    page.wait_for_timeout(1000)
    assert state(page)["slab"] == 20
    mip = pixels(page, "mpr-axial")[:h, :w]
    diff = mip - axial
    assert np.percentile(diff, 0.5) > -3
    assert diff.max() > 60
    shot(page, "viewer-mpr-mip")
    # Leaving MPR brings the stack back at the slice it showed.
    page.keyboard.press("m")
    page.wait_for_function("!window.readingViewer.state().mpr")
    wait_for_image(page)
    assert vp_state(page)["slice"] == slice_before
    assert_not_blank(pixels(page))
    assert page.errors == []


def test_prior_side_by_side_scrolls_by_position_and_shares_wl(login_page, attending, shot):
    current_uid, current_series, _ = make_study(n=40, size=128, patient_id="MRN-P1")
    prior_uid, prior_series, _ = make_study(
        n=20, size=128, patient_id="MRN-P1", study_date=date(2025, 11, 3), desc="PRIOR", step=5.0
    )
    page = open_viewer(login_page, attending, current_uid)
    prior_button = page.locator(f'.vw-prior[data-study-uid="{prior_uid}"]')
    assert "2025-11-03" in prior_button.inner_text()
    prior_button.click()
    wait_for_image(page, "vp-1")
    st = state(page)
    assert st["layout"] == "1x2"
    assert [v["series"] for v in st["viewports"]] == [current_series, prior_series]
    assert "PRIOR" in page.locator('.vw-cell[data-viewport-id="vp-1"] .vw-overlay').inner_text()
    wait_loaded(page)

    # Current slices are 2.5 mm apart, the prior's 5 mm: index 20 (z=-50) matches prior 10.
    page.evaluate("window.readingViewer.applyViewport({viewportId: 'vp-0', slice: 20})")
    page.wait_for_function(
        "window.readingViewer.state().viewports.find(v => v.viewportId === 'vp-1').slice === 10"
    )
    page.locator('.vw-cell[data-viewport-id="vp-0"]').click()
    for expected in (21, 22):
        page.keyboard.press("ArrowDown")
        page.wait_for_function(
            "(n) => window.readingViewer.state().viewports[0].slice === n", arg=expected
        )
        page.wait_for_timeout(200)
    page.wait_for_function(
        "window.readingViewer.state().viewports.find(v => v.viewportId === 'vp-1').slice === 11"
    )
    # W/L follows too.
    page.keyboard.press("3")  # bone
    page.wait_for_timeout(400)
    assert vp_state(page, "vp-1")["voi"] == vp_state(page, "vp-0")["voi"]
    shot(page, "viewer-prior-compare")
    # Back to one viewport ends the comparison cleanly.
    page.click('[data-action="layout-1x1"]')
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    assert len(state(page)["viewports"]) == 1
    assert page.errors == []


def test_layouts_and_drag_a_series_into_a_viewport(login_page, attending, shot):
    def two_series():
        study_uid, first_series, _ = build_study(n=3, size=64, patient_id="MRN-L1")
        second = generate_uid()
        for k, ds in enumerate(
            phantom_series(
                5,
                study_uid=study_uid,
                series_uid=second,
                step=-1,
                patient_id="MRN-L1",
                series_description="Coronal",
            )
        ):
            ds.SeriesNumber = 2
            ingest(ds, f"c{k}.dcm")
        return study_uid, first_series, second

    study_uid, first_series, second_series = in_thread(two_series)
    page = open_viewer(login_page, attending, study_uid)
    items = page.locator(".vw-series-item")
    assert items.count() == 2
    assert "Coronal" in items.nth(1).inner_text() and "5" in items.nth(1).inner_text()
    page.click('[data-action="layout-2x2"]')
    page.wait_for_function("window.readingViewer.state().viewports.length === 4")
    wait_for_image(page, "vp-1")
    series = [v.get("series") for v in state(page)["viewports"]]
    assert series[:2] == [first_series, second_series]
    page.click('[data-action="layout-1x1"]')
    page.wait_for_function("window.readingViewer.state().viewports.length === 1")
    page.drag_and_drop(
        f'.vw-series-item[data-series-uid="{second_series}"]',
        '.vw-cell[data-viewport-id="vp-0"]',
    )
    page.wait_for_function(
        "(uid) => window.readingViewer.state().viewports[0].series === uid", arg=second_series
    )
    wait_for_image(page)
    assert vp_state(page)["total"] == 5
    assert_not_blank(pixels(page))
    shot(page, "viewer-dragged-series")
    assert page.errors == []
