"""Getting through the work: MPR measurements kept, an exported SR listed at once, the
study page's way into the viewer, upload results by study."""

from __future__ import annotations

import pytest

from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    make_study,
    open_viewer,
    state,
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


def _length_exported_as_sr(study_uid, user):
    from reading.annotations.services import create_annotation, export_annotation_sr
    from reading.studies.models import Instance, Study

    study = Study.objects.get(study_instance_uid=study_uid)
    source = Instance.objects.filter(series__study=study).order_by("instance_number")[2]
    annotation = create_annotation(
        study=study,
        author=user,
        data={
            "sop_instance_uid": source.sop_instance_uid,
            "tool": "length",
            "geometry": {"points": [[30.0, 60.0], [90.0, 60.0]]},
            "label": "SR length",
        },
    )
    result = export_annotation_sr(annotation, actor=user)
    assert result.ok, result.reason
    sr = Instance.objects.select_related("series").get(sop_instance_uid=result.sop_instance_uid)
    return annotation.pk, sr.series.series_instance_uid


def test_sr_series_is_listed_as_a_report_not_an_image(login_page, attending, shot):
    """An SR series has no thumbnail (its route answers 404): the list shows "SR" instead
    of a broken image, it never goes into a viewport, and a click marks its measurement."""
    study_uid, ct_series, _ = make_study(n=6, size=128)
    annotation_id, sr_series = in_thread(_length_exported_as_sr, study_uid, attending)
    page = open_viewer(login_page, attending, study_uid)
    wait_loaded(page)
    sr_item = page.locator(f'.vw-series-item[data-series-uid="{sr_series}"]')
    ct_item = page.locator(f'.vw-series-item[data-series-uid="{ct_series}"]')
    assert sr_item.locator("img").count() == 0
    assert sr_item.locator(".glyph").inner_text() == "SR"
    assert sr_item.get_attribute("draggable") is None
    assert ct_item.get_attribute("draggable") == "true"
    # Every thumbnail left in the list decoded (a 404 leaves naturalWidth at 0).
    page.wait_for_function(
        """() => [...document.querySelectorAll('.vw-series img')]
                 .every((img) => img.complete)"""
    )
    widths = page.evaluate(
        "() => [...document.querySelectorAll('.vw-series img')].map((img) => img.naturalWidth)"
    )
    assert len(widths) == 1 and widths[0] > 0, widths
    shot(page, "viewer-sr-series-label")

    sr_item.click()
    page.wait_for_function(
        "document.querySelector('.vw-status').textContent.includes('measurement')"
    )
    assert "1 measurement" in page.locator(".vw-status").inner_text()
    marked = page.locator(".vw-annotation.in-report")
    assert marked.count() == 1
    assert marked.get_attribute("data-annotation-id") == str(annotation_id)
    assert [v.get("series") for v in state(page)["viewports"]] == [ct_series]
    # A layout with room to spare fills it with images only, never the SR.
    page.click('[data-action="layout-1x2"]')
    page.wait_for_function("window.readingViewer.state().viewports.length === 2")
    page.wait_for_timeout(500)
    assert sr_series not in [v.get("series") for v in state(page)["viewports"]]
    # Nor does a remote view (a followed session) put it in a viewport.
    page.evaluate(
        "(uid) => window.readingViewer.applyViewport({ viewportId: 'vp-0', series: uid })",
        sr_series,
    )
    assert state(page)["viewports"][0]["series"] == ct_series
    shot(page, "viewer-sr-series-clicked")
    assert page.errors == []
