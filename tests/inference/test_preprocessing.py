"""DICOM to model images: slice selection and order, windowing, padding, box mapping."""

from __future__ import annotations

import io
import random

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import ComputedRadiographyImageStorage, MRImageStorage

from inference.preprocessing import (
    MAX_SLICES,
    box_to_source,
    pad_to_square,
    prepare_ct,
    prepare_mr,
    prepare_radiograph,
    prepare_series,
    radiograph_to_uint8,
    select_evenly,
    slice_position,
    source_to_box,
    window_ct,
)
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes


def reread(ds: Dataset) -> Dataset:
    return dcmread(io.BytesIO(to_bytes(ds)))


def radiograph(rows=40, columns=60, values=None, **attrs) -> Dataset:
    if values is None:
        values = np.tile(np.arange(columns, dtype=np.int16) * 10, (rows, 1))
    ds = make_dataset(
        modality="CR",
        sop_class_uid=ComputedRadiographyImageStorage,
        rows=rows,
        columns=columns,
        pixels=values,
    )
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    del ds.WindowCenter, ds.WindowWidth
    for key, value in attrs.items():
        setattr(ds, key, value)
    return reread(ds)


def test_ct_up_to_85_slices_evenly_in_patient_order():
    series = make_ct_series(200)
    for i, ds in enumerate(series):
        ds.ImagePositionPatient = [-100.0, -100.0, 300.0 - 1.25 * i]  # stored head first
    shuffled = [reread(ds) for ds in series]
    random.Random(4).shuffle(shuffled)
    prepared = prepare_ct(shuffled)
    assert len(prepared.images) == MAX_SLICES
    assert prepared.total_slices == 200
    assert prepared.positions == sorted(prepared.positions)  # inferior to superior
    assert prepared.positions[0] == pytest.approx(300.0 - 1.25 * 199)
    assert prepared.positions[-1] == pytest.approx(300.0)
    gaps = np.diff(prepared.positions)
    assert gaps.max() - gaps.min() <= 1.25 + 1e-6  # even, up to one rounding step
    uids = [image.source.sop_instance_uid for image in prepared.images]
    assert len(set(uids)) == MAX_SLICES
    by_uid = {ds.SOPInstanceUID: ds for ds in shuffled}
    assert [slice_position(by_uid[u]) for u in uids] == prepared.positions


def test_small_ct_keeps_every_slice_and_uses_the_slice_normal():
    series = [reread(ds) for ds in make_ct_series(7)]
    # Sagittal: row (0,1,0) x column (0,0,-1) is -x, so x decides the order, not z.
    for i, ds in enumerate(series):
        ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.ImagePositionPatient = [float(i), 0.0, float(i)]
    prepared = prepare_ct(series)
    assert prepared.selected == list(range(7))
    assert [im.source.sop_instance_uid for im in prepared.images] == [
        ds.SOPInstanceUID for ds in reversed(series)
    ]
    assert select_evenly(200, 85)[:3] == [0, 2, 5] and select_evenly(200, 85)[-1] == 199


def test_ct_windows_packed_into_rgb():
    hu = np.array([[-1024, -135, 0, 40], [80, 215, 1024, 3000]], dtype=np.float64)
    rgb = window_ct(hu)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 4, 3)
    assert rgb[..., 0].tolist() == [[0, 111, 128, 132], [137, 154, 255, 255]]  # wide
    assert rgb[..., 1].tolist() == [[0, 0, 98, 128], [157, 255, 255, 255]]  # soft tissue
    assert rgb[..., 2].tolist() == [[0, 0, 0, 128], [255, 255, 255, 255]]  # brain


def test_ct_slice_values_from_stored_pixels_through_the_rescale():
    stored = np.full((32, 32), 1024 + 40, dtype=np.int16)  # 40 HU after intercept -1024
    ds = reread(make_dataset(pixels=stored))
    image = prepare_ct([ds]).images[0]
    assert image.pixels[0, 0].tolist() == [132, 128, 128]


def test_radiograph_window_center_width():
    ds = radiograph(WindowCenter=300, WindowWidth=200)  # 200..400 -> 0..255
    grey = radiograph_to_uint8(ds)
    row = grey[0]
    assert row[0] == 0 and row[20] == 0  # value 200
    assert row[30] == pytest.approx(128, abs=1)  # value 300: the centre
    assert row[40] == 255 and row[59] == 255


def test_radiograph_voi_lut_sequence_wins_over_window():
    ds = radiograph(WindowCenter=300, WindowWidth=200)
    item = Dataset()
    item.LUTDescriptor = [4, 0, 8]  # 4 entries from value 0, 8-bit output
    item.add_new("LUTData", "US", [0, 50, 100, 255])
    ds.VOILUTSequence = [item]
    ds = reread(ds)
    grey = radiograph_to_uint8(ds)
    assert grey[0, :4].tolist() == [0, 255, 255, 255]  # values 0,10,20,30 -> entries 0,3,3,3
    values = np.zeros((40, 60), np.int16)
    values[:, 1] = 1
    values[:, 2] = 2
    ds2 = radiograph(values=values)
    ds2.VOILUTSequence = [item]
    grey2 = radiograph_to_uint8(reread(ds2))
    assert grey2[0, :3].tolist() == [0, 50, 100]


def test_monochrome1_is_inverted():
    plain = radiograph_to_uint8(radiograph(WindowCenter=300, WindowWidth=200))
    inverted = radiograph_to_uint8(
        radiograph(WindowCenter=300, WindowWidth=200, PhotometricInterpretation="MONOCHROME1")
    )
    assert (inverted.astype(int) + plain.astype(int) == 255).all()


def test_radiograph_without_voi_uses_the_data_range():
    grey = radiograph_to_uint8(radiograph())
    assert grey.min() == 0 and grey.max() == 255


def test_padding_to_square_and_box_round_trip():
    ds = radiograph(rows=40, columns=60, WindowCenter=300, WindowWidth=200)
    image = prepare_radiograph(ds)
    assert image.pixels.shape == (60, 60, 3) and image.pad_top == 10 and image.pad_left == 0
    assert (image.pixels[:10] == 0).all() and (image.pixels[50:] == 0).all()
    box = source_to_box(12, 5, 30, 25, image)  # x0, y0, x1, y1 in source pixels
    assert box == pytest.approx([250.0, 200.0, 583.333, 500.0], abs=1e-3)
    back = box_to_source([round(v) for v in box], image, "nodule")
    assert back.sop_instance_uid == ds.SOPInstanceUID and back.frame == 1
    assert (back.x0, back.y0, back.x1, back.y1) == pytest.approx((12, 5, 30, 25), abs=0.06)
    assert back.label == "nodule"


def test_large_image_is_reduced_then_padded_and_boxes_still_map():
    ds = radiograph(rows=1200, columns=1800, values=np.zeros((1200, 1800), np.int16))
    image = prepare_radiograph(ds, max_side=896)
    assert image.side == 896 and image.scale == pytest.approx(896 / 1800)
    box = box_to_source(source_to_box(900, 100, 1500, 1100, image), image)
    assert (box.x0, box.y0, box.x1, box.y1) == pytest.approx((900, 100, 1500, 1100), abs=1e-6)
    # Boxes in the padding are clipped to the image.
    edge = box_to_source([0, 0, 1000, 1000], image)
    assert (edge.x0, edge.y0, edge.x1, edge.y1) == pytest.approx((0, 0, 1800, 1200))


def test_box_maps_to_the_exact_slice_of_a_volume():
    prepared = prepare_ct([reread(ds) for ds in make_ct_series(3)])
    image = prepared.images[2]
    box = box_to_source([0, 500, 500, 1000], image)
    assert box.sop_instance_uid == image.source.sop_instance_uid
    assert (box.x0, box.y0, box.x1, box.y1) == pytest.approx((16, 0, 32, 16))


def test_mr_normalised_over_the_series():
    series = []
    for i, level in enumerate((100, 1000)):
        ds = make_dataset(
            modality="MR",
            sop_class_uid=MRImageStorage,
            instance_number=i + 1,
            z=float(i),
            pixels=np.full((32, 32), level, np.int16),
        )
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        series.append(reread(ds))
    prepared = prepare_mr(series)
    assert prepared.modality == "MR"
    dark, bright = (im.pixels[0, 0, 0] for im in prepared.images)
    assert dark < 20 and bright > 235  # one range for both slices, not one per slice
    assert prepare_series(series).modality == "MR"


def test_progress_reports_slices():
    seen = []
    prepare_series([reread(ds) for ds in make_ct_series(4)], on_progress=lambda *a: seen.append(a))
    assert seen == [("slices", n, 4) for n in range(1, 5)]


def test_pad_to_square_of_a_tall_image_pads_left_and_right():
    image = pad_to_square(np.full((10, 4), 200, np.uint8), source=None)
    assert image.pixels.shape == (10, 10, 3) and image.pad_left == 3 and image.pad_top == 0
    assert (image.pixels[:, 3:7] == 200).all() and (image.pixels[:, :3] == 0).all()


def test_multiframe_radiograph_frame_is_selected_and_referenced():
    frames = np.stack([np.full((20, 30), 100 * (k + 1), np.int16) for k in range(3)])
    ds = make_dataset(modality="DX", rows=20, columns=30, pixels=frames[0])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.WindowCenter, ds.WindowWidth = 200, 200  # 100..300
    ds = reread(ds)
    images = [prepare_radiograph(ds, frame=k) for k in (1, 2, 3)]
    assert [im.source.frame for im in images] == [1, 2, 3]
    assert [int(im.pixels[15, 15, 0]) for im in images] == [0, 128, 255]
    box = box_to_source([0, 0, 1000, 1000], images[1])
    assert box.frame == 2 and (box.x1, box.y1) == pytest.approx((30, 20))
    with pytest.raises(ValueError):
        prepare_radiograph(ds, frame=4)
