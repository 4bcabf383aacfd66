"""The viewer's clinical correctness end to end (issue 12): orientation markers of
projection images, the prior that X opens and how it scrolls, presets by modality, an
undecodable image, the measurements list, overlays in 2x2, and keys for the worklist.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from pydicom.uid import MRImageStorage, generate_uid

from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    ingest,
    markers,
    open_viewer,
    phantom_series,
    state,
    vp_state,
    wait_for_image,
    wait_loaded,
)
from tests.dicom_factory import make_dataset

pytestmark = pytest.mark.browser

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation


def radiograph(study_uid, series_uid, *, orientation, number=1, date_=None, patient_id="MRN-X1"):
    """A projection radiograph: no Image Position/Orientation (Patient), maybe a Patient
    Orientation (0020,0020)."""
    yy, xx = np.mgrid[0:64, 0:64]
    ds = make_dataset(
        study_uid=study_uid,
        series_uid=series_uid,
        modality="DX",
        sop_class_uid=DX_STORAGE,
        rows=64,
        columns=64,
        patient_id=patient_id,
        series_description=f"PA {number}",
        study_description="XR CHEST PA",
        pixels=((xx * 40 + yy * 7) % 1500).astype(np.int16),
        **({"study_date": date_} if date_ else {}),
    )
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "SliceLocation"):
        delattr(ds, keyword)
    ds.SeriesNumber = number
    if orientation:
        ds.PatientOrientation = list(orientation)
    return ds


def test_radiograph_markers_come_from_patient_orientation(login_page, attending, shot):
    def seed():
        study_uid = generate_uid()
        pa, unknown = generate_uid(), generate_uid()
        ingest(radiograph(study_uid, pa, orientation=("L", "F")), "pa.dcm")
        ingest(radiograph(study_uid, unknown, orientation=None, number=2), "none.dcm")
        return study_uid, pa, unknown

    study_uid, pa, unknown = in_thread(seed)
    page = open_viewer(login_page, attending, study_uid)
    assert vp_state(page)["series"] == pa
    # PA chest, L\F: rows run to the patient's left, columns to the feet.
    assert markers(page) == {"top": "H", "bottom": "F", "left": "R", "right": "L"}
    shot(page, "viewer-dx-markers")
    page.keyboard.press("h")
    page.wait_for_timeout(300)
    assert markers(page) == {"top": "H", "bottom": "F", "left": "L", "right": "R"}
    page.keyboard.press("h")
    page.keyboard.press("o")  # 90 degrees clockwise: the patient's right comes to the top
    page.wait_for_timeout(300)
    m = markers(page)
    assert {m["top"], m["bottom"]} == {"R", "L"} and {m["left"], m["right"]} == {"H", "F"}
    assert m["top"] == "R" and m["right"] == "H"
    # An image that says nothing about its orientation gets no markers at all.
    page.locator(f'.vw-series-item[data-series-uid="{unknown}"]').click()
    page.wait_for_function(
        "(uid) => window.readingViewer.state().viewports[0].series === uid", arg=unknown
    )
    wait_for_image(page)
    assert markers(page) == {"top": "", "bottom": "", "left": "", "right": ""}
    assert page.errors == []


def ct_series(*, patient_id, study_date, z0, step, n, frame_of_reference, desc):
    datasets = phantom_series(
        n,
        z0=z0,
        step=step,
        patient_id=patient_id,
        study_date=study_date,
        study_description=f"{desc} CHEST",
        series_description="Axial",
    )
    for k, ds in enumerate(datasets):
        ds.FrameOfReferenceUID = frame_of_reference
        ds.SliceThickness = step
        ingest(ds, f"{k}.dcm")
    return datasets[0].StudyInstanceUID, datasets[0].SeriesInstanceUID


def test_x_opens_the_relevant_prior_and_scrolls_by_position(login_page, attending, shot):
    def seed():
        current = ct_series(
            patient_id="MRN-P9",
            study_date=date(2026, 11, 20),
            z0=0.0,
            step=2.5,
            n=40,
            frame_of_reference=generate_uid(),
            desc="CT",
        )
        # A newer radiograph of the same patient: not what a CT is compared with.
        xr_study = generate_uid()
        ingest(
            radiograph(
                xr_study,
                generate_uid(),
                orientation=("L", "F"),
                date_=date(2026, 6, 1),
                patient_id="MRN-P9",
            ),
            "xr.dcm",
        )
        # The prior CT: another frame of reference, table positions 100 mm higher.
        prior = ct_series(
            patient_id="MRN-P9",
            study_date=date(2025, 11, 3),
            z0=100.0,
            step=5.0,
            n=20,
            frame_of_reference=generate_uid(),
            desc="PRIOR CT",
        )
        return current, prior, xr_study

    (current_uid, current_series), (prior_uid, prior_series), xr_study = in_thread(seed)
    page = open_viewer(login_page, attending, current_uid)
    buttons = page.locator(".vw-prior")
    assert buttons.count() == 2
    assert buttons.first.get_attribute("data-study-uid") == prior_uid  # most relevant first
    assert "(X" in buttons.first.get_attribute("title")
    page.keyboard.press("x")
    wait_for_image(page, "vp-1")
    st = state(page)
    assert [v["series"] for v in st["viewports"]] == [current_series, prior_series]
    wait_loaded(page)

    # Different frames of reference: the scans' superior ends line up (offset +100 mm):
    # current image 20 (z -50) is at the level of prior z 50, its image 10.
    page.evaluate("window.readingViewer.applyViewport({viewportId: 'vp-0', slice: 20})")
    page.wait_for_function("window.readingViewer.state().viewports[1].slice === 10")
    overlay = page.locator('.vw-cell[data-viewport-id="vp-1"] .vw-overlay').inner_text()
    assert "Sync offset +100.0 mm" in overlay
    shot(page, "viewer-prior-relevant")

    # Re-register: sync off, bring the prior to image 12, sync on at these levels.
    page.locator('.vw-cell[data-viewport-id="vp-0"]').click()
    page.keyboard.press("y")
    page.evaluate("window.readingViewer.applyViewport({viewportId: 'vp-1', slice: 12})")
    page.wait_for_timeout(400)
    assert vp_state(page)["slice"] == 20  # the current stays where it was
    page.keyboard.press("y")
    page.wait_for_timeout(200)
    assert (
        "Sync offset +90.0 mm"
        in page.locator('.vw-cell[data-viewport-id="vp-1"] .vw-overlay').inner_text()
    )
    page.locator('.vw-cell[data-viewport-id="vp-0"]').click()
    for expected in (21, 22):
        page.keyboard.press("ArrowDown")
        page.wait_for_function(
            "(n) => window.readingViewer.state().viewports[0].slice === n", arg=expected
        )
    # current z -55 + 90 = prior z 35: prior image 13.
    page.wait_for_function("window.readingViewer.state().viewports[1].slice === 13")

    # X again: the next prior (the radiograph) replaces it.
    page.keyboard.press("x")
    page.wait_for_function(
        "(uid) => window.readingViewer.state().viewports[1].series !== uid", arg=prior_series
    )
    wait_for_image(page, "vp-1")
    series = {s["uid"]: s for s in state(page)["series"]}
    assert series[vp_state(page, "vp-1")["series"]]["studyUid"] == xr_study
    assert page.errors == []


def test_presets_follow_the_modality(login_page, attending, shot):
    def seed():
        study_uid, mr, ct = generate_uid(), generate_uid(), generate_uid()
        yy, xx = np.mgrid[0:64, 0:64]
        for k in range(3):
            ds = make_dataset(
                study_uid=study_uid,
                series_uid=mr,
                modality="MR",
                sop_class_uid=MRImageStorage,
                rows=64,
                columns=64,
                instance_number=k + 1,
                z=float(k),
                patient_id="MRN-M1",
                series_description="T2 axial",
                pixels=((xx + yy) * 8 + k).astype(np.int16),
            )
            del ds.RescaleIntercept, ds.RescaleSlope
            ds.WindowCenter, ds.WindowWidth = 500, 1000
            ingest(ds, f"mr{k}.dcm")
        for k, ds in enumerate(
            phantom_series(3, study_uid=study_uid, series_uid=ct, step=-1, patient_id="MRN-M1")
        ):
            ds.SeriesNumber = 2
            ingest(ds, f"ct{k}.dcm")
        return study_uid, mr, ct

    study_uid, mr, ct = in_thread(seed)
    page = open_viewer(login_page, attending, study_uid)
    assert vp_state(page)["series"] == mr
    overlay = page.locator('.vw-cell[data-viewport-id="vp-0"] .vw-overlay')
    # The MR opens in its own window, named as such; no CT presets are offered.
    voi = vp_state(page)["voi"]
    assert voi["lower"] == pytest.approx(0, abs=1) and voi["upper"] == pytest.approx(1000, abs=1)
    assert "W 1000 L 500 Default" in overlay.inner_text()
    assert page.locator('[data-action="preset-lung"]').count() == 0
    assert "on" in page.locator('[data-action="preset-default"]').get_attribute("class")
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert vp_state(page)["voi"] == voi  # not whitened by a lung window
    assert "No window preset 1 for MR" in page.locator(".vw-status").inner_text()
    shot(page, "viewer-mr-presets")

    page.locator(f'.vw-series-item[data-series-uid="{ct}"]').click()
    page.wait_for_function(
        "(uid) => window.readingViewer.state().viewports[0].series === uid", arg=ct
    )
    wait_for_image(page)
    assert page.locator('[data-action="preset-lung"]').count() == 1
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert "W 1500 L -600 Lung" in overlay.inner_text()
    assert "on" in page.locator('[data-action="preset-lung"]').get_attribute("class")
    assert "on" not in (page.locator('[data-action="preset-default"]').get_attribute("class") or "")
    assert page.errors == []
