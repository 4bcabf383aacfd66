"""Getting through the work: MPR measurements kept, an exported SR listed at once, the
study page's way into the viewer, upload results by study."""

from __future__ import annotations

import pytest

from tests.browser.test_viewer import (  # noqa: F401 - viewer_bundle builds the bundle
    make_study,
    open_viewer,
    state,
    viewer_bundle,
    wait_loaded,
)
from tests.dicom_factory import make_ct_series, to_bytes

pytestmark = pytest.mark.browser


def drag(page, viewport, a, b):
    box = page.locator(f'.vw-cell[data-viewport-id="{viewport}"] .vw-element').bounding_box()
    x0, y0 = box["x"] + box["width"] * a[0], box["y"] + box["height"] * a[1]
    x1, y1 = box["x"] + box["width"] * b[0], box["y"] + box["height"] * b[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()


def test_length_on_a_sagittal_mpr_is_saved_and_redrawn(login_page, attending, shot):
    from reading.annotations.models import Annotation

    study_uid, series_uid, datasets = make_study(n=40, size=128)
    page = open_viewer(login_page, attending, study_uid)
    wait_loaded(page)
    page.keyboard.press("m")
    page.wait_for_function("window.readingViewer.state().viewports.length === 3")
    page.wait_for_timeout(1000)
    page.keyboard.press("l")
    # Head to foot along the sagittal plane: no source image lies in it.
    drag(page, "mpr-sagittal", (0.3, 0.3), (0.3, 0.7))  # off the crosshair lines
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    shot(page, "viewer-mpr-sagittal-length")
    saved = Annotation.objects.get()
    assert saved.tool == "length" and saved.series_instance_uid == series_uid
    assert saved.sop_instance_uid in {ds.SOPInstanceUID for ds in datasets}
    world = saved.geometry["world"]
    normal = saved.geometry["plane"]["normal"]
    assert abs(abs(normal[0]) - 1) < 1e-3  # drawn in a sagittal plane (normal along x)
    assert abs(world[0][0] - world[1][0]) < 0.5  # both ends in that plane
    span = abs(world[0][2] - world[1][2])
    assert span > 20  # head to foot: across many 2.5 mm slices
    assert saved.measurements["length"]["value"] == pytest.approx(span, rel=0.05)

    # Reopened: the record is drawn again on the sagittal plane, and nothing new is saved.
    page.reload()
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    assert len(state(page)["annotations"]["records"]) == 1
    wait_loaded(page)
    page.keyboard.press("m")
    page.wait_for_function("window.readingViewer.state().viewports.length === 3")
    page.wait_for_timeout(1500)
    svg = page.locator('.vw-cell[data-viewport-id="mpr-sagittal"] svg').first.text_content()
    assert f"{round(saved.measurements['length']['value'])}" in svg
    page.wait_for_timeout(800)
    assert Annotation.objects.count() == 1
    assert page.errors == []


def test_exported_sr_series_is_listed_without_reload(login_page, attending):
    from reading.annotations.models import Annotation

    study_uid, _, _ = make_study(n=6, size=128)
    page = open_viewer(login_page, attending, study_uid)
    assert page.locator(".vw-series .vw-series-item").count() == 1
    page.keyboard.press("l")
    drag(page, "vp-0", (0.35, 0.5), (0.65, 0.5))
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    saved = Annotation.objects.get()
    page.locator(
        f'.vw-annotation[data-annotation-id="{saved.id}"] [data-action="export-sr"]'
    ).click()
    page.wait_for_function("document.querySelectorAll('.vw-series .vw-series-item').length === 2")
    items = page.locator(".vw-series .vw-series-item").all_inner_texts()
    assert any("SR" in text for text in items)
    assert page.errors == []


def test_study_page_opens_the_viewer(login_page, attending):
    study_uid, _, _ = make_study(n=3, size=64)
    page = login_page(attending, f"/studies/{study_uid}/", bypass_csp=True)
    page.click("#open-viewer")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    assert page.url.endswith(f"/viewer/{study_uid}/")


def test_upload_results_are_grouped_by_study(login_page, attending, shot):
    first = make_ct_series(3, patient_id="GRP1", patient_name="Group^One")
    second = make_ct_series(2, patient_id="GRP2", patient_name="Group^Two")
    files = [
        {"name": f"{i}.dcm", "mimeType": "application/dicom", "buffer": to_bytes(ds)}
        for i, ds in enumerate(first + second)
    ]
    page = login_page(attending, "/upload/")
    page.set_input_files("#file-input", files)
    page.wait_for_selector("#upload-form[data-state=done]")
    page.wait_for_function("document.querySelectorAll('.upload-study').length === 2")
    shot(page, "upload-grouped")
    for datasets in (first, second):
        uid = str(datasets[0].StudyInstanceUID)
        entry = page.locator(f'.upload-study[data-study-uid="{uid}"]')
        assert f"{len(datasets)} stored" in entry.inner_text()
        assert entry.locator("a.open-viewer").get_attribute("href") == f"/viewer/{uid}/"
    page.locator(".upload-study a.open-viewer").first.click()
    page.wait_for_url("**/viewer/**")
    assert page.errors == []
