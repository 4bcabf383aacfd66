"""Rendered images and model inputs share one VOI transform (PS3.3 C.11.2)."""

import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from inference.preprocessing import radiograph_to_uint8
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db


def with_voi_lut_sequence() -> Dataset:
    """Stored values 0..255, no window, a VOI LUT that thresholds them at 128."""
    ramp = (np.arange(32 * 32) % 256).reshape(32, 32).astype(np.uint16)
    ds = make_dataset(pixels=ramp)
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    del ds.WindowCenter, ds.WindowWidth
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [256, 0, 8])
    item.add_new("LUTData", "US", [0] * 128 + [255] * 128)
    ds.VOILUTSequence = Sequence([item])
    return ds


def rendered(client, ds, **params) -> np.ndarray:
    url = (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/rendered"
    )
    response = client.get(url, params, headers={"Accept": "image/png"})
    assert response.status_code == 200, response.content
    return np.asarray(Image.open(io.BytesIO(response.content)))


def test_rendered_applies_the_voi_lut_sequence_like_the_model_input(attending_client):
    ds = with_voi_lut_sequence()
    assert ingest_instance(to_bytes(ds)).ok
    image = rendered(attending_client, ds)
    model_input = radiograph_to_uint8(pydicom.dcmread(io.BytesIO(to_bytes(ds))))
    assert np.array_equal(image, model_input)
    assert set(np.unique(image)) == {0, 255}  # the LUT's step, not a linear ramp


def test_window_in_request_still_wins(attending_client):
    ds = with_voi_lut_sequence()
    assert ingest_instance(to_bytes(ds)).ok
    image = rendered(attending_client, ds, window="128,256")
    assert len(np.unique(image)) > 100  # a ramp, not the LUT's step


def test_window_from_the_dataset_agrees_too(attending_client):
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    image = rendered(attending_client, ds)
    assert np.array_equal(image, radiograph_to_uint8(pydicom.dcmread(io.BytesIO(to_bytes(ds)))))


def test_outsider_gets_no_rendered_image(outsider_client):
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    url = (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/rendered"
    )
    assert outsider_client.get(url).status_code == 403


@pytest.mark.parametrize("with_lut", [False, True])
def test_once_per_value_path_equals_the_shared_function(with_lut):
    from reading.studies.dicomweb.rendervoi import grey_uint8

    rng = np.random.default_rng(3)
    ds = with_voi_lut_sequence() if with_lut else make_dataset()
    pixels = rng.integers(0, 256, (64, 64)).astype(np.uint16 if with_lut else np.int16)
    ds.Rows = ds.Columns = 64
    ds.PixelData = pixels.tobytes()
    ds = pydicom.dcmread(io.BytesIO(to_bytes(ds)))
    assert np.array_equal(grey_uint8(ds.pixel_array, ds), radiograph_to_uint8(ds))


VOI_VARIANTS = [
    {},
    {"WindowCenter": 100},
    {"WindowWidth": 300},
    {"RescaleSlope": 2},
    {"RescaleIntercept": -500},
    {"VOILUTFunction": "SIGMOID"},
    {"PhotometricInterpretation": "MONOCHROME1"},
    {"BitsStored": 10, "HighBit": 9},
    {"PixelRepresentation": 0},
]


def test_tables_shared_between_images_follow_every_voi_attribute():
    """``grey_uint8`` keeps one table per set of VOI attributes (the slices of a series
    share one): each variant, rendered after the others, equals the shared function."""
    from reading.studies.dicomweb.rendervoi import grey_uint8

    rng = np.random.default_rng(7)
    for variant in VOI_VARIANTS * 2:
        ds = make_dataset(rows=32, columns=32)
        for keyword, value in variant.items():
            setattr(ds, keyword, value)
        signed = int(ds.PixelRepresentation) == 1
        low, high = (-1024, 1024) if signed else (0, 1024)
        pixels = rng.integers(low, high, (32, 32)).astype(np.int16 if signed else np.uint16)
        ds.PixelData = pixels.tobytes()
        ds = pydicom.dcmread(io.BytesIO(to_bytes(ds)))
        expected = radiograph_to_uint8(ds)
        assert np.array_equal(grey_uint8(ds.pixel_array, ds), expected), variant


# -- frames read straight from the file give the images pydicom's decoding gave ------------


def _ct_12_bit(garbage_high_bits: bool) -> Dataset:
    """A windowed CT: signed 12-bit values in 16 bits, rescaled, optionally with junk above bit 11."""
    rng = np.random.default_rng(11)
    values = rng.integers(-2048, 2048, (48, 40)).astype(np.int16)
    stored = values.view(np.uint16) & 0x0FFF
    if garbage_high_bits:
        stored = stored | (rng.integers(0, 16, values.shape).astype(np.uint16) << 12)
    ds = make_dataset(rows=48, columns=40)
    ds.BitsStored, ds.HighBit = 12, 11
    ds.WindowCenter, ds.WindowWidth = -600, 1500
    ds.PixelData = stored.tobytes()
    return ds


def _unsigned_10_bit_monochrome1() -> Dataset:
    rng = np.random.default_rng(5)
    ds = make_dataset(rows=20, columns=24, modality="DX")
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 10, 9
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.RescaleIntercept = 0
    ds.WindowCenter, ds.WindowWidth = 512, 800
    ds.PixelData = rng.integers(0, 65536, (20, 24)).astype(np.uint16).tobytes()
    return ds


def _multiframe_8_bit() -> Dataset:
    rng = np.random.default_rng(9)
    ds = make_dataset(rows=16, columns=16, modality="XA")
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.RescaleIntercept = 0
    ds.NumberOfFrames = 3
    ds.PixelData = rng.integers(0, 256, (3, 16, 16)).astype(np.uint8).tobytes()
    return ds


CASES = {
    "windowed CT": lambda: _ct_12_bit(False),
    "windowed CT, junk in unused bits": lambda: _ct_12_bit(True),
    "VOI LUT": with_voi_lut_sequence,
    "MONOCHROME1, 10 of 16 bits": _unsigned_10_bit_monochrome1,
    "multi-frame, 8 bits": _multiframe_8_bit,
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("window", [None, (40.0, 400.0, "linear"), (100.0, 300.0, "sigmoid")])
def test_direct_frames_render_like_pydicom(case, window):
    """``render_frame`` with the instance's pixel location (frame bytes read from the file)
    gives exactly the image of the whole-file pydicom decoding it replaced."""
    from reading.studies import storage
    from reading.studies.dicomweb.frames import FrameSource
    from reading.studies.dicomweb.render import render_frame as render
    from reading.studies.dicomweb.renderpixels import native_frame, read_header
    from reading.studies.models import Instance

    ds = CASES[case]()
    assert ingest_instance(to_bytes(ds)).ok
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    path = storage.absolute(instance.file_path)
    source = FrameSource.of(instance, pixels_only=True)
    for index in range(int(ds.get("NumberOfFrames", 1))):
        direct = native_frame(source, read_header(path), index)
        assert direct is not None  # the fast read was taken
        decoded = pydicom.pixels.pixel_array(pydicom.dcmread(path), index=index)
        assert direct.dtype == decoded.dtype and np.array_equal(direct, decoded)
        fast = np.asarray(render(path, index, window, source))
        slow = np.asarray(render(path, index, window))
        assert np.array_equal(fast, slow)


def test_rendered_answer_is_the_same_image(attending_client):
    """Over HTTP: the PNG of a windowed 12-bit CT equals the model input's grey image."""
    ds = _ct_12_bit(True)
    assert ingest_instance(to_bytes(ds)).ok
    image = rendered(attending_client, ds)
    assert np.array_equal(image, radiograph_to_uint8(pydicom.dcmread(io.BytesIO(to_bytes(ds)))))
