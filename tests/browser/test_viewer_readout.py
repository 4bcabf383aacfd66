"""The viewer telling the reader what it can and cannot do, end to end (issue 12): an
undecodable image, the measurements list, overlays in 2x2, keys for the worklist.
"""

from __future__ import annotations

import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, generate_uid

from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    assert_not_blank,
    ingest,
    markers,
    open_page,
    open_viewer,
    phantom_series,
    pixels,
    state,
    viewport_box,
    vp_state,
    wait_for_image,
    wait_loaded,
)
from tests.dicom_factory import make_dataset

pytestmark = pytest.mark.browser


def test_undecodable_image_says_so_and_the_rest_works(login_page, attending, shot):
    def seed():
        datasets = phantom_series(5, patient_id="MRN-J1")
        for k, ds in enumerate(datasets):
            ds.compress(JPEG2000Lossless)
            if k == 2:  # the one shown first: a codestream cut off after its header
                ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(61)) + b"\x00"])
            ingest(ds, f"{k}.dcm")
        return datasets[0].StudyInstanceUID, datasets[0].SeriesInstanceUID

    study_uid, series_uid = in_thread(seed)
    page = open_page(login_page, attending, f"/viewer/{study_uid}/")
    page.wait_for_function(
        "window.readingViewer && window.readingViewer.state().ready", timeout=30000
    )
    wait_loaded(page)
    error = page.locator('.vw-cell[data-viewport-id="vp-0"] [data-overlay-error]')
    error.wait_for(state="visible", timeout=10000)
    assert "Image 3/5 could not be displayed" in error.inner_text()
    assert markers(page) == {"top": "", "bottom": "", "left": "", "right": ""}
    item = page.locator(f'.vw-series-item[data-series-uid="{series_uid}"]')
    assert "1 image could not be decoded" in item.inner_text()
    series = state(page)["series"][0]
    assert series["failed"] == 1 and series["loaded"] == 4
    shot(page, "viewer-undecodable")
    # The next image shows, with its markers, and the error is gone.
    page.locator('.vw-cell[data-viewport-id="vp-0"]').click()
    page.keyboard.press("ArrowDown")
    page.wait_for_function("window.readingViewer.state().viewports[0].slice === 3")
    page.wait_for_timeout(300)
    assert error.is_hidden()
    assert markers(page)["left"] == "R"
    assert_not_blank(pixels(page))
    assert page.errors == []


def test_measurement_list_tells_them_apart_and_asks_before_deleting(login_page, attending, shot):
    from reading.annotations.models import Annotation

    def seed():
        datasets = phantom_series(4, first_number=11, patient_id="MRN-A1")
        for k, ds in enumerate(datasets):
            ds.SeriesNumber = 3
            ingest(ds, f"{k}.dcm")
        return datasets[0].StudyInstanceUID

    study_uid = in_thread(seed)
    page = open_viewer(login_page, attending, study_uid)
    box = viewport_box(page)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.keyboard.press("l")
    page.mouse.move(cx - 80, cy)
    page.mouse.down()
    page.mouse.move(cx + 80, cy, steps=8)
    page.mouse.up()
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 1")
    saved = Annotation.objects.get()
    row = page.locator(".vw-annotation").first
    text = row.inner_text()
    index = vp_state(page)["slice"]
    assert "Length" in text and " mm" in text
    assert f"S3 Im {index + 11}" in text
    assert str(attending) in text or attending.username in text

    # A rectangle of a few screen pixels on this magnified image (under half an image pixel
    # each way) measures nothing and is not saved.
    page.keyboard.press("r")
    page.mouse.move(cx + 30, cy + 30)
    page.mouse.down()
    page.mouse.move(cx + 32, cy + 32, steps=2)
    page.mouse.up()
    page.wait_for_timeout(1200)
    kept = list(Annotation.objects.filter(deleted_at__isnull=True).values_list("tool", "geometry"))
    assert len(kept) == 1, kept
    assert len(state(page)["annotations"]["records"]) == 1
    assert state(page)["annotations"]["shown"] == 1  # the empty one is gone from the image too

    # Delete asks first; "Keep" keeps it.
    row.locator('[data-action="delete-annotation"]').click()
    assert "Delete?" in row.inner_text()
    row.locator('[data-action="keep-annotation"]').click()
    page.wait_for_timeout(300)
    assert Annotation.objects.filter(deleted_at__isnull=True).count() == 1
    shot(page, "viewer-measurement-list")
    row.locator('[data-action="delete-annotation"]').click()
    row.locator('[data-action="confirm-delete"]').click()
    page.wait_for_function("window.readingViewer.state().annotations.records.length === 0")
    page.wait_for_timeout(300)
    saved.refresh_from_db()
    assert saved.deleted_at is not None

    # Read-only: the list shows measurements but offers no delete.
    Annotation.objects.filter(pk=saved.pk).update(deleted_at=None)
    page.goto(page.url + "?readonly=1")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    page.locator(".vw-annotation").first.wait_for()
    assert page.locator('[data-action="delete-annotation"]').count() == 0
    assert page.errors == []


def _boxes_overlap(a, b) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_2x2_overlays_do_not_collide_and_empty_cells_are_blank(login_page, attending, shot):
    def seed():
        study_uid = generate_uid()
        for number in (1, 2):
            datasets = phantom_series(
                3,
                study_uid=study_uid,
                patient_id="MRN-LAYOUT-0000001",
                patient_name="Longname-Doublebarrel^Anastasia Maximiliana",
                study_description="CT CHEST ABDOMEN PELVIS WITH CONTRAST PORTAL VENOUS",
                series_description=f"Axial soft tissue 1.25 mm reconstruction kernel B{number}",
            )
            for k, ds in enumerate(datasets):
                ds.SeriesNumber = number
                ingest(ds, f"{number}-{k}.dcm")
        return study_uid

    study_uid = in_thread(seed)
    page = open_viewer(login_page, attending, study_uid)
    page.keyboard.press("x")  # no prior: nothing happens
    page.click('[data-action="layout-2x2"]')
    page.wait_for_function("window.readingViewer.state().viewports.length === 4")
    wait_for_image(page, "vp-1")
    page.wait_for_timeout(500)
    shot(page, "viewer-2x2-overlays")
    for empty in ("vp-2", "vp-3"):
        text = page.locator(f'.vw-cell[data-viewport-id="{empty}"] .vw-overlay').inner_text()
        assert text.strip() == "", f"{empty} shows {text!r}"
    for vp in ("vp-0", "vp-1"):
        cell = f'.vw-cell[data-viewport-id="{vp}"]'
        assert page.locator(f"{cell} [data-orient='left']").inner_text() == "R"
        parts = page.locator(f"{cell} .vw-corner, {cell} .vw-orient")
        boxes = [
            parts.nth(i).bounding_box()
            for i in range(parts.count())
            if parts.nth(i).is_visible() and parts.nth(i).inner_text().strip()
        ]
        assert len(boxes) >= 7  # four corners but an empty status, four markers
        cell_box = page.locator(cell).bounding_box()
        for i, a in enumerate(boxes):
            assert (
                a["x"] >= cell_box["x"] - 1
                and a["x"] + a["width"] <= cell_box["x"] + cell_box["width"] + 1
            )
            for b in boxes[i + 1 :]:
                assert not _boxes_overlap(a, b), f"{vp}: overlay parts overlap {a} {b}"
    assert page.errors == []


def test_keys_move_through_the_worklist_and_release(login_page, attending, live_url):
    from reading.worklist.claims import claim_study
    from reading.worklist.models import ReadingItem

    def seed():
        uids = []
        for k in range(3):
            ds = make_dataset(rows=16, columns=16, patient_id=f"MRN-W{k}", accession=f"WK{k}")
            ingest(ds, f"w{k}.dcm")
            uids.append(ds.StudyInstanceUID)
        return uids

    in_thread(seed)
    page = open_page(login_page, attending, "/")
    rows = page.request.get(f"{live_url}/api/worklist/?page_size=200").json()["results"]
    order = [r["study_instance_uid"] for r in rows]
    assert len(order) >= 3
    first, second = order[0], order[1]
    from reading.studies.models import Study

    in_thread(lambda: claim_study(attending, Study.objects.get(study_instance_uid=first)))
    page = open_viewer(login_page, attending, first)
    page.keyboard.press("]")
    page.wait_for_url(f"**/viewer/{second}/")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    assert ReadingItem.objects.get(study__study_instance_uid=second).claimed_by == attending
    page.keyboard.press("[")
    page.wait_for_url(f"**/viewer/{first}/")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    # U releases the study and goes back to the worklist.
    page.keyboard.press("u")
    page.wait_for_url(f"{live_url}/")
    assert ReadingItem.objects.get(study__study_instance_uid=first).claimed_by is None
    page.goto(f"{live_url}/viewer/{second}/")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    page.keyboard.press("q")
    page.wait_for_url(f"{live_url}/")
    assert ReadingItem.objects.get(study__study_instance_uid=second).claimed_by == attending
    assert page.errors == []
