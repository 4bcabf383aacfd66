"""Frames in batches (Series Pixel Data, PS3.18 10.4.1.1.6): the viewer fetches a series a
few instances per request, decodes each frame as it arrives, still says which image could
not be decoded, and falls back to one request per frame when a batch fails. The broken
frame is a JPEG 2000 codestream cut short, decoded after good ones: the codec's reused
decoder would answer it with the previous frame's pixels.
"""

from __future__ import annotations

import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless

from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    assert_not_blank,
    ingest,
    open_page,
    phantom_series,
    pixels,
    state,
    wait_loaded,
)

pytestmark = pytest.mark.browser

SLICES = 30
BROKEN = 27  # far from the slice shown first (the middle): it comes in a batch


def seed(broken: bool = True):
    datasets = phantom_series(SLICES, patient_id="MRN-B1")
    for k, ds in enumerate(datasets):
        if k % 3 == 0 or k == BROKEN:  # mixed transfer syntaxes: each part says its own
            ds.compress(JPEG2000Lossless)
        if broken and k == BROKEN:  # a codestream cut off after its header
            ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(61)) + b"\x00"])
        ingest(ds, f"{k}.dcm")
    return datasets[0].StudyInstanceUID, datasets[0].SeriesInstanceUID


def requests(page) -> dict:
    return page.evaluate(
        """() => {
          const names = performance.getEntriesByType('resource').map((r) => r.name);
          return {pixeldata: names.filter((n) => n.includes('/pixeldata?')).length,
                  frames: names.filter((n) => n.includes('/frames/')).length};
        }"""
    )


def series_item(page, series_uid):
    return page.locator(f'.vw-series-item[data-series-uid="{series_uid}"]')


def assert_one_broken(page, series_uid):
    """Every image of the series loaded but the broken one, which the series list names."""
    series = state(page)["series"][0]
    assert (series["loaded"], series["failed"]) == (SLICES - 1, 1)
    assert "1 image could not be decoded" in series_item(page, series_uid).inner_text()


def test_series_loads_in_batches_and_the_broken_image_says_so(login_page, attending, shot):
    study_uid, series_uid = in_thread(seed)
    page = open_page(login_page, attending, f"/viewer/{study_uid}/")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    wait_loaded(page)
    assert_one_broken(page, series_uid)
    sent = requests(page)
    # The slice in view alone, then the rest a few instances per request.
    assert 2 <= sent["pixeldata"] <= SLICES // 4, sent
    assert sent["frames"] <= 3, sent
    # The broken image, when shown, says so; the one before it shows its pixels.
    page.evaluate(f"window.readingViewer.viewportById('vp-0').setImageIdIndex({BROKEN - 1})")
    page.wait_for_function(f"window.readingViewer.state().viewports[0].slice === {BROKEN - 1}")
    page.wait_for_timeout(300)
    assert_not_blank(pixels(page))
    page.locator('.vw-cell[data-viewport-id="vp-0"]').click()
    page.keyboard.press("ArrowDown")
    error = page.locator('.vw-cell[data-viewport-id="vp-0"] [data-overlay-error]')
    error.wait_for(state="visible", timeout=10000)
    assert f"Image {BROKEN + 1}/{SLICES} could not be displayed" in error.inner_text()
    shot(page, "viewer-batches-broken")
    assert page.errors == []


def test_a_failed_batch_falls_back_to_one_request_per_frame(login_page, attending):
    study_uid, series_uid = in_thread(seed)
    page = open_page(login_page, attending, "/healthz")
    page.route("**/pixeldata?*", lambda route: route.fulfill(status=503, body="busy"))
    page.goto(page.url.replace("/healthz", f"/viewer/{study_uid}/"))
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    wait_loaded(page)
    # The broken frame, fetched alone now, is caught all the same.
    assert_one_broken(page, series_uid)
    sent = requests(page)
    assert sent["frames"] >= SLICES and sent["pixeldata"] >= 1, sent
    assert page.errors == []
