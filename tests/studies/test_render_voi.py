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
    from reading.studies.dicomweb.render import grey_uint8

    rng = np.random.default_rng(3)
    ds = with_voi_lut_sequence() if with_lut else make_dataset()
    pixels = rng.integers(0, 256, (64, 64)).astype(np.uint16 if with_lut else np.int16)
    ds.Rows = ds.Columns = 64
    ds.PixelData = pixels.tobytes()
    ds = pydicom.dcmread(io.BytesIO(to_bytes(ds)))
    assert np.array_equal(grey_uint8(ds.pixel_array, ds), radiograph_to_uint8(ds))
