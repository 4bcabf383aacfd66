"""Rendering from the index (reading/studies/dicomweb/renderpixels.py ``indexed_header``):
an image rendered with the attributes of its indexed DICOM JSON is the image rendered with
the file's own attributes, byte for byte, and whatever the index cannot say goes to the file."""

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from reading.studies import storage
from reading.studies.dicomweb import render, renderpixels
from reading.studies.dicomweb.frames import FrameSource
from reading.studies.models import Instance
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db
RNG = np.random.default_rng(7)


def signed_ct(ds):
    return ds  # signed 16-bit, intercept -1024, one window


def unsigned_mr(ds):
    ds.Modality, ds.PixelRepresentation, ds.BitsStored, ds.HighBit = "MR", 0, 12, 11
    del ds.RescaleIntercept, ds.RescaleSlope, ds.WindowCenter, ds.WindowWidth  # percentiles
    ds.PixelData = RNG.integers(0, 4096, (32, 32), dtype=np.uint16).tobytes()
    return ds


def monochrome1_sigmoid(ds):
    ds.Modality, ds.PhotometricInterpretation = "CR", "MONOCHROME1"
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 12, 11
    ds.RescaleSlope, ds.RescaleIntercept = "2.5", "-10.25"
    ds.WindowCenter, ds.WindowWidth = ["2000", "1500"], ["3000.5", "800"]  # the first applies
    ds.VOILUTFunction = "SIGMOID"
    ds.PixelData = RNG.integers(0, 4096, (32, 32), dtype=np.uint16).tobytes()
    return ds


def eight_bit(ds):
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    del ds.RescaleIntercept, ds.RescaleSlope
    ds.WindowCenter, ds.WindowWidth = 100, 120
    ds.PixelData = RNG.integers(0, 256, (32, 32), dtype=np.uint8).tobytes()
    return ds


def stored(ds) -> tuple:
    assert ingest_instance(to_bytes(ds)).ok
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    return (
        storage.absolute(instance.file_path),
        FrameSource.of(instance, pixels_only=True),
        instance,
    )


@pytest.mark.parametrize("shape", [signed_ct, unsigned_mr, monochrome1_sigmoid, eight_bit])
@pytest.mark.parametrize("media_type", ["image/jpeg", "image/png"])
def test_index_renders_what_the_file_renders(shape, media_type):
    path, source, instance = stored(shape(make_dataset()))
    assert renderpixels.indexed_header(instance.metadata) is not None
    for window in (None, (40.0, 400.0, "linear")):
        params = (window, None, 90, media_type)
        from_index = render._render_body(path, 1, source, params, instance.metadata)
        from_file = render._render_body(path, 1, source, params, None)
        assert from_index == from_file, (shape.__name__, window)


def test_what_the_index_cannot_say_is_read_from_the_file():
    ds = make_dataset(pixels=np.arange(1024, dtype=np.int16).reshape(32, 32))
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [1024, 0, 8])
    lut.add_new("LUTData", "US", list(range(255, -1, -1)) * 4)  # unlike the window below
    ds.VOILUTSequence = Sequence([lut])
    ds.RescaleIntercept = 0
    path, source, instance = stored(ds)
    assert renderpixels.indexed_header(instance.metadata) is None
    params = (None, None, 90, "image/png")
    assert render._render_body(path, 1, source, params, instance.metadata) == render._render_body(
        path, 1, None, params
    )


def test_the_rendered_view_uses_the_index(attending_client, monkeypatch):
    ds = make_dataset()
    stored(ds)
    read = []
    real = renderpixels.read_header
    monkeypatch.setattr(renderpixels, "read_header", lambda path: read.append(path) or real(path))
    url = (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/rendered"
    )
    answer = attending_client.get(url, {"quality": "77"}, headers={"Accept": "image/jpeg"})
    assert answer.status_code == 200 and answer.content[:2] == b"\xff\xd8"
    assert read == []  # no file attributes parsed
