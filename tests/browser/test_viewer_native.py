"""Frames in a native little endian transfer syntax are made into images on the main
thread (frontend/src/native-frames.js), not in the dicom-image-loader's worker. The pixel
values the viewer holds must be the DICOM's own Modality LUT output (PS3.3 C.11.1:
stored value x Rescale Slope + Rescale Intercept, stored values sign-extended from Bits
Stored), and the image the same as the loader's ``createImage`` makes (``?decode=worker``),
field by field and as drawn.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import generate_uid

from tests.browser.offloop import in_thread
from tests.browser.viewer_helpers import (
    ingest,
    open_page,
    pixels,
    state,
    wait_loaded,
)
from tests.dicom_factory import make_dataset

pytestmark = pytest.mark.browser

SIZE = 64
SLICES = 3


def _ramp(k: int) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return (xx * 37 + yy * 11 + k * 5).astype(np.int64)


def _signed_ct(k):
    """Signed 16-bit stored values, negative ones included (padding below air)."""
    stored = (_ramp(k) % 3000) - 1200  # -1200..1799 -> HU -2224..775
    return stored.astype("<i2").tobytes(), stored * 1 - 1024, {"PixelRepresentation": 1}


def _unsigned_ct(k):
    """Unsigned 12 of 16 bits, Rescale Intercept -1024 (the usual CT)."""
    stored = _ramp(k) % 4096
    attrs = {"PixelRepresentation": 0, "BitsStored": 12, "HighBit": 11}
    return stored.astype("<u2").tobytes(), stored - 1024, attrs


def _signed_12_bit(k):
    """Signed 12 of 16 bits, written without sign extension: the viewer extends from bit 11."""
    stored = (_ramp(k) % 2000) - 1000  # -1000..999
    raw = (stored & 0x0FFF).astype("<u2")  # the high nibble left 0
    attrs = {"PixelRepresentation": 1, "BitsStored": 12, "HighBit": 11, "RescaleSlope": 2}
    return raw.tobytes(), stored * 2 - 1024, attrs


def _mr_no_rescale(k):
    """Unsigned, no Modality LUT, values that fit a byte (the loader keeps them in 8 bits)."""
    stored = _ramp(k) % 200
    attrs = {"PixelRepresentation": 0, "BitsStored": 12, "HighBit": 11, "Modality": "MR"}
    return stored.astype("<u2").tobytes(), stored, attrs


KINDS = {
    "signed CT": _signed_ct,
    "unsigned CT": _unsigned_ct,
    "signed 12-bit": _signed_12_bit,
    "MR, no rescale": _mr_no_rescale,
}


def seed():
    study_uid = generate_uid()
    expected = {}
    for number, (description, make) in enumerate(KINDS.items(), start=1):
        series_uid = generate_uid()
        expected[series_uid] = (description, [])
        for k in range(SLICES):
            ds = make_dataset(
                study_uid=study_uid,
                series_uid=series_uid,
                rows=SIZE,
                columns=SIZE,
                instance_number=k + 1,
                z=float(-k),
                patient_id="MRN-N1",
                series_description=description,
            )
            ds.SeriesNumber = number
            data, values, attrs = make(k)
            for key, value in attrs.items():
                setattr(ds, key, value)
            if ds.Modality == "MR":
                del ds.RescaleIntercept, ds.RescaleSlope
                ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            ds.PixelData = data
            ingest(ds, f"{number}-{k}.dcm")
            expected[series_uid][1].append(values.ravel().tolist())
    return study_uid, expected


READ_IMAGES = """async (uids) => {
  const viewer = window.readingViewer;
  const out = {};
  for (const uid of uids) {
    await viewer.displaySeries(0, viewer.findSeries(uid), 0);
    const viewport = viewer.viewportById('vp-0');
    out[uid] = [];
    for (let i = 0; i < viewport.getImageIds().length; i += 1) {
      await viewport.setImageIdIndex(i);
      const image = viewport.getCornerstoneImage();
      out[uid].push({
        decodedIn: image.decodedIn,
        fields: {
          dataType: image.dataType, minPixelValue: image.minPixelValue,
          maxPixelValue: image.maxPixelValue, slope: image.slope, intercept: image.intercept,
          invert: image.invert, windowCenter: image.windowCenter,
          windowWidth: image.windowWidth, sizeInBytes: image.sizeInBytes,
          rows: image.rows, columns: image.columns, color: image.color,
          numberOfComponents: image.numberOfComponents,
          preScale: JSON.stringify(image.preScale ?? null),
          voxels: image.voxelManager.getScalarDataLength(),
          arrayType: image.getPixelData().constructor.name,
        },
        pixels: Array.from(image.getPixelData()),
      });
    }
  }
  return out;
}"""


def read_images(login_page, user, study_uid, uids, query=""):
    page = open_page(login_page, user, f"/viewer/{study_uid}/{query}")
    page.wait_for_function("window.readingViewer && window.readingViewer.state().ready")
    wait_loaded(page)
    assert all(s["failed"] == 0 for s in state(page)["series"])
    images = page.evaluate(READ_IMAGES, uids)
    # The first series' middle slice as drawn, for the comparison of the two routes.
    page.evaluate(
        "(uid) => window.readingViewer.displaySeries(0, window.readingViewer.findSeries(uid), 1)",
        uids[0],
    )
    page.wait_for_timeout(500)
    return page, images, pixels(page)


def test_native_frames_hold_the_dicom_values_and_match_the_loader(login_page, attending):
    study_uid, expected = in_thread(seed)
    uids = list(expected)
    page, native, drawn = read_images(login_page, attending, study_uid, uids)
    for uid, (description, values) in expected.items():
        got = native[uid]
        assert [image["decodedIn"] for image in got] == ["main"] * SLICES, description
        for k, image in enumerate(got):
            assert image["pixels"] == values[k], f"{description}, slice {k + 1}"
            assert image["fields"]["minPixelValue"] == min(values[k]), description
            assert image["fields"]["maxPixelValue"] == max(values[k]), description
    assert native[uids[0]][0]["fields"]["arrayType"] == "Int16Array"
    assert native[uids[3]][0]["fields"]["arrayType"] == "Uint8Array"
    assert page.errors == []

    page, worker, drawn_by_worker = read_images(
        login_page, attending, study_uid, uids, "?decode=worker"
    )
    for uid, (description, _values) in expected.items():
        assert [image["decodedIn"] for image in worker[uid]] == ["worker"] * SLICES
        for k in range(SLICES):
            assert native[uid][k]["fields"] == worker[uid][k]["fields"], f"{description} {k}"
            assert native[uid][k]["pixels"] == worker[uid][k]["pixels"], f"{description} {k}"
    assert drawn.std() > 5
    assert np.array_equal(drawn, drawn_by_worker)
    assert page.errors == []
