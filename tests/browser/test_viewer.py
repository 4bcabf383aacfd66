"""The diagnostic viewer end to end: real Daphne, real DICOMweb, Chromium rendering.

Assertions are on pixels (screenshots of the viewport) and on the viewer's state
(``window.readingViewer.state()``), never on exact camera numbers, which differ
between Cornerstone's WebGL and CPU paths.
"""

from __future__ import annotations

import io
import subprocess
from datetime import date

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

from reading.studies.services import ingest_instance
from tests.browser.conftest import ROOT
from tests.browser.offloop import in_thread
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.browser

SIZE = 256
SLICES = 48


@pytest.fixture(scope="session", autouse=True)
def viewer_bundle():
    """The built bundle (``make frontend``: npm ci + vite build), built once if missing."""
    if not (ROOT / "static" / "viewer" / "viewer.js").exists():
        subprocess.run(["make", "--no-print-directory", "frontend"], cwd=ROOT, check=True)
    return ROOT / "static" / "viewer"


def phantom_slice(k: int, n: int, size: int = SIZE) -> np.ndarray:
    """A chest-like slice in HU: body, two lungs that shrink towards the ends, spine, a nodule."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = size / 2
    img = np.full((size, size), -1000.0, dtype=np.float32)
    img[((xx - c) / (0.44 * size)) ** 2 + ((yy - c) / (0.33 * size)) ** 2 < 1] = 40.0
    t = 1.0 - abs(2.0 * k / max(n - 1, 1) - 1.0)  # 0 at the ends, 1 in the middle
    ax, ay = (0.10 + 0.08 * t) * size, (0.14 + 0.08 * t) * size
    for cx in (c - 0.2 * size, c + 0.2 * size):
        img[((xx - cx) / ax) ** 2 + ((yy - c + 0.02 * size) / ay) ** 2 < 1] = -850.0
    img[(xx - c) ** 2 + (yy - c - 0.22 * size) ** 2 < (0.06 * size) ** 2] = 700.0
    nz = n // 2 + 4
    r = max(0.0, 0.035 * size - abs(k - nz) * 1.5)
    img[(xx - c + 0.22 * size) ** 2 + (yy - c + 0.05 * size) ** 2 < r * r] = 60.0
    return np.round(img + 1024).astype(np.int16)  # stored values; RescaleIntercept -1024


def make_study(*args, **kwargs):
    """Ingest in a worker thread: Playwright's event loop runs in this one, and the ingest's
    on-commit realtime hooks call async_to_sync."""
    return in_thread(_make_study, *args, **kwargs)


def _make_study(
    n=SLICES,
    size=SIZE,
    *,
    transfer_syntax=None,
    patient_id="MRN-V1",
    study_date=None,
    desc="CT",
    step=2.5,
):
    study_uid, series_uid = generate_uid(), generate_uid()
    extra = {"study_date": study_date} if study_date else {}
    datasets = []
    for k in range(n):
        ds = make_dataset(
            study_uid=study_uid,
            series_uid=series_uid,
            rows=size,
            columns=size,
            instance_number=k + 1,
            z=float(-k * step),
            pixels=phantom_slice(k, n, size),
            patient_id=patient_id,
            patient_name="Viewer^Test",
            study_description=f"{desc} CHEST",
            series_description=f"Axial {step}mm",
            **extra,
        )
        ds.PixelSpacing = [1.4, 1.4]
        ds.SliceThickness = step
        if transfer_syntax is not None:
            ds.compress(transfer_syntax)
        result = ingest_instance(to_bytes(ds), name=f"{k}.dcm")
        assert result.ok, result.reason
        datasets.append(ds)
    return study_uid, series_uid, datasets


def open_viewer(login_page, user, study_uid):
    # The predicates below are strings Playwright evaluates; the site's CSP forbids eval.
    page = login_page(user, f"/viewer/{study_uid}/", bypass_csp=True)
    page.wait_for_function(
        "window.readingViewer && window.readingViewer.state().ready", timeout=30000
    )
    wait_for_image(page)
    return page


def state(page):
    return page.evaluate("window.readingViewer.state()")


def wait_for_image(page, viewport="vp-0"):
    page.wait_for_function(
        """(id) => { const v = window.readingViewer.state().viewports.find(x => x.viewportId === id);
                     return v && v.imageId; }""",
        arg=viewport,
    )
    page.wait_for_timeout(300)


def wait_loaded(page, timeout=30000):
    page.wait_for_function(
        "window.readingViewer.state().series.filter(s => s.total).every(s => s.complete)",
        timeout=timeout,
    )


def pixels(page, viewport="vp-0") -> np.ndarray:
    """The viewport as the user sees it (grey levels), from a screenshot of its canvas."""
    png = page.locator(f'.vw-cell[data-viewport-id="{viewport}"] canvas').first.screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32)


def assert_not_blank(img: np.ndarray):
    assert img.std() > 20, f"viewport looks blank (std {img.std():.1f})"
    assert (img > 100).mean() > 0.02 and (img < 30).mean() > 0.02


def viewport_box(page, viewport="vp-0"):
    return page.locator(f'.vw-cell[data-viewport-id="{viewport}"] .vw-element').bounding_box()


def vp_state(page, viewport="vp-0"):
    return next(v for v in state(page)["viewports"] if v["viewportId"] == viewport)


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
        study_uid, first_series, _ = _make_study(n=3, size=64, patient_id="MRN-L1")
        second = generate_uid()
        for k in range(5):
            ds = make_dataset(
                study_uid=study_uid,
                series_uid=second,
                rows=64,
                columns=64,
                instance_number=k + 1,
                z=float(k),
                patient_id="MRN-L1",
                series_description="Coronal",
                pixels=phantom_slice(k, 5, 64),
            )
            ds.SeriesNumber = 2
            assert ingest_instance(to_bytes(ds), name=f"c{k}.dcm").ok
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
