"""The synthetic demo studies: geometry, anatomy, UIDs, and seeding through ingest.

Images are built at a reduced size (``DemoScale.small()`` or a few slices) and
read back with pydicom, the way any client would see them.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    ComputedRadiographyImageStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
)

from reading.studies.demo import DemoScale, brain, chest, demo_studies, seed_demo_studies
from reading.studies.demo.chest import CURRENT_NODULES, PRIOR_NODULES, ChestPhantom
from reading.studies.demo.samples import SAMPLE_FILES, available_samples
from reading.studies.demo.shapes import SliceGrid
from reading.studies.models import Instance, Study

UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def _read(raw: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(raw))


def _by_label(studies, label: str):
    return next(s for s in studies if s.label.startswith(label))


@pytest.fixture(scope="module")
def small():
    """Every small demo study, built once: label -> list of datasets."""
    return {
        study.label: [_read(inst.build()) for inst in study.instances]
        for study in demo_studies(DemoScale.small())
    }


def _ct(small, label="Chest CT (current)"):
    key = next(k for k in small if k.startswith(label))
    return sorted(small[key], key=lambda ds: int(ds.InstanceNumber))


def _value_at(ds: pydicom.Dataset, x: float, y: float) -> float:
    """Median stored value (rescaled when a rescale is given) of the 3x3 pixels at x, y (mm)."""
    x0, y0, _ = (float(v) for v in ds.ImagePositionPatient)
    row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
    col, row = round((x - x0) / col_mm), round((y - y0) / row_mm)
    pixels = ds.pixel_array.astype(float) * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0)
    )
    return float(np.median(pixels[row - 1 : row + 2, col - 1 : col + 2]))


def _z(ds) -> float:
    return float(ds.ImagePositionPatient[2])


# -- CT ---------------------------------------------------------------------------------


def test_ct_geometry_is_consistent(small):
    slices = _ct(small)
    scale = DemoScale.small()
    assert [int(ds.InstanceNumber) for ds in slices] == list(range(1, scale.ct_slices + 1))
    zs = np.array([_z(ds) for ds in slices])
    assert np.allclose(np.diff(zs), -scale.ct_spacing)
    assert zs[0] == pytest.approx(scale.ct_first_z)
    pixel = scale.ct_fov / scale.ct_size
    for ds in slices:
        assert ds.SOPClassUID == CTImageStorage
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.PixelSpacing] == pytest.approx([pixel, pixel], abs=1e-4)
        # The field of view is centred on the patient axis.
        x0, y0 = (float(v) for v in ds.ImagePositionPatient[:2])
        assert x0 == pytest.approx(-pixel * (ds.Columns - 1) / 2, abs=1e-6)
        assert y0 == pytest.approx(-pixel * (ds.Rows - 1) / 2, abs=1e-6)
        assert float(ds.SliceLocation) == pytest.approx(_z(ds))
        assert float(ds.SliceThickness) == pytest.approx(scale.ct_spacing)
        assert (ds.Rows, ds.Columns) == (scale.ct_size, scale.ct_size)
        assert ds.pixel_array.dtype == np.int16
        assert (float(ds.RescaleIntercept), float(ds.RescaleSlope)) == (-1024.0, 1.0)
        assert list(ds.WindowCenter) == [-600, 40]
    assert len({ds.FrameOfReferenceUID for ds in slices}) == 1
    assert len({ds.SeriesInstanceUID for ds in slices}) == 1
    assert len({ds.SOPInstanceUID for ds in slices}) == len(slices)


def test_ct_patient_and_study_tags(small):
    current, prior = _ct(small)[0], _ct(small, "Chest CT (prior")[0]
    assert current.StudyDescription == "CT CHEST W/O CONTRAST"
    assert current.BodyPartExamined == "CHEST"
    assert current.Modality == "CT"
    assert str(current.PatientName) == "Harper^Eleanor^J"
    assert current.PatientSex == "F" and current.PatientBirthDate == "19580412"
    assert current.AccessionNumber and current.ReferringPhysicianName
    assert current.InstitutionName and current.Manufacturer and float(current.KVP) == 120
    # The prior: same patient, about a year earlier, a different study and frame of reference.
    assert prior.PatientID == current.PatientID
    assert prior.StudyInstanceUID != current.StudyInstanceUID
    assert prior.FrameOfReferenceUID != current.FrameOfReferenceUID
    assert int(current.StudyDate) - int(prior.StudyDate) == 10006  # 2025-11-10 -> 2026-11-16


def test_ct_attenuation_at_known_anatomy():
    """HU of lungs, soft tissue, bone and air where the phantom puts them."""
    scale = DemoScale(ct_slices=35, ct_size=128, ct_spacing=5.0, ct_first_z=20.0)
    study = _by_label(demo_studies(scale), "Chest CT (current)")
    wanted = {round(z) for _, _, z in chest.LANDMARKS.values()}
    slices = {}
    for inst in study.instances:
        ds = _read(inst.build())
        if round(_z(ds)) in wanted:
            slices[round(_z(ds))] = ds
    assert set(slices) == wanted

    def hu(name):
        x, y, z = chest.LANDMARKS[name]
        return _value_at(slices[round(z)], x, y)

    assert -930 < hu("right_lung") < -720
    assert -930 < hu("left_lung") < -720
    assert 0 < hu("heart") < 90
    assert 0 < hu("descending_aorta") < 90
    assert 30 < hu("liver") < 100
    assert hu("vertebral_body") > 150
    assert hu("outside_body") < -950
    # Cortical bone (ribs, vertebrae) reaches several hundred HU on every chest slice.
    assert all(ds.pixel_array.max() - 1024 > 500 for z, ds in slices.items() if -130 < z < 100)


def test_nodules_lie_in_the_lungs():
    phantom = ChestPhantom()
    for nodule in CURRENT_NODULES + PRIOR_NODULES:
        x, y, z = nodule.centre
        g = SliceGrid.axial(x0=x - 15, y0=y - 15, cols=31, rows=31, pixel=1.0, z=z)
        without, with_nodule = phantom.hu(g), phantom.hu(g, (nodule,))
        assert without[15, 15] < -700, nodule.label  # lung parenchyma where it sits
        assert with_nodule[15, 15] == pytest.approx(nodule.hu, abs=1), nodule.label
        # All round it, a few mm beyond its edge, the lung is aerated (a vessel may pass).
        r = round(nodule.radius) + 4
        ring = [with_nodule[15 + dy, 15 + dx] for dy in (-r, 0, r) for dx in (-r, 0, r) if dx or dy]
        assert np.median(ring) < -700, nodule.label


def test_largest_nodule_spans_several_slices_and_grew(small):
    nodule = CURRENT_NODULES[0]
    x, y, _ = nodule.centre

    def solid_slices(slices):
        return [round(_z(ds), 2) for ds in slices if _value_at(ds, x, y) > -300]

    current = solid_slices(_ct(small))
    prior = solid_slices(_ct(small, "Chest CT (prior"))
    assert len(current) >= 8  # a 14 mm nodule on 1.25 mm slices
    assert 4 <= len(prior) < len(current)  # 10 mm a year earlier
    assert all(abs(z - nodule.centre[2]) <= nodule.radius for z in current)
    # Next to it (2 cm lateral) the lung is aerated on every slice.
    assert all(_value_at(ds, x - 20, y) < -700 for ds in _ct(small))


def test_new_nodule_is_absent_on_the_prior():
    nodule = next(n for n in CURRENT_NODULES if n.label.startswith("right lower"))
    assert all(not n.label.startswith("right lower") for n in PRIOR_NODULES)
    x, y, z = nodule.centre
    scale = DemoScale(ct_slices=1, ct_size=256, ct_first_z=z)
    studies = demo_studies(scale)
    current = _read(_by_label(studies, "Chest CT (current)").instances[0].build())
    prior = _read(_by_label(studies, "Chest CT (prior").instances[0].build())
    assert _value_at(current, x, y) > -300
    assert _value_at(prior, x, y) < -700


# -- MR and radiograph ----------------------------------------------------------------------


def test_brain_mr_attributes_and_contrast(small):
    slices = sorted(small["Brain MR (axial T2)"], key=lambda ds: int(ds.InstanceNumber))
    scale = DemoScale.small()
    assert len(slices) == scale.mr_slices
    zs = np.array([_z(ds) for ds in slices])
    assert np.allclose(np.diff(zs), scale.mr_step)  # feet to head
    for ds in slices:
        assert ds.SOPClassUID == MRImageStorage and ds.Modality == "MR"
        assert (ds.Rows, ds.Columns) == (scale.mr_size, scale.mr_size)
        assert ds.ScanningSequence == "SE" and ds.MRAcquisitionType == "2D"
        assert float(ds.EchoTime) > 80 and float(ds.RepetitionTime) > 2000  # T2 weighted
        assert float(ds.MagneticFieldStrength) == 1.5
        assert float(ds.SpacingBetweenSlices) == scale.mr_step
        assert ds.BodyPartExamined == "HEAD" and ds.StudyDescription == "MR BRAIN W/O CONTRAST"
        assert ds.pixel_array.min() >= 0 and ds.pixel_array.max() < 4096
    assert len({ds.FrameOfReferenceUID for ds in slices}) == 1
    at = {round(_z(ds)): ds for ds in slices}

    def signal(name):
        x, y, z = brain.LANDMARKS[name]
        return _value_at(at[round(z)], x, y)

    csf, white, air = signal("lateral_ventricle"), signal("white_matter"), signal("outside_head")
    assert csf > 2 * white  # T2: CSF bright, white matter darker
    assert 400 < white < 900
    assert air < 120


def test_chest_radiograph_attributes_and_content(small):
    (ds,) = small["Chest radiograph PA"]
    assert ds.SOPClassUID == ComputedRadiographyImageStorage and ds.Modality == "CR"
    assert ds.ViewPosition == "PA" and list(ds.PatientOrientation) == ["L", "F"]
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsStored == 12
    assert float(ds.WindowWidth) > 0 and ds.BodyPartExamined == "CHEST"
    assert [float(v) for v in ds.ImagerPixelSpacing] == [float(v) for v in ds.PixelSpacing]
    ct = _ct(small)[0]
    assert ds.PatientID == ct.PatientID and ds.StudyInstanceUID != ct.StudyInstanceUID
    image = ds.pixel_array.astype(float)
    pixel = float(ds.PixelSpacing[0])

    def at(x, z):  # columns run to the patient's left, rows to the feet from z = +205
        return image[round((205 - z) / pixel), round((x + ds.Columns * pixel / 2) / pixel)]

    outside, lung, mediastinum = at(-150, 190), at(-75, 20), at(0, 20)
    assert outside < 400 < lung < mediastinum  # air dark, lungs grey, spine and heart bright


# -- UIDs, samples, seeding ------------------------------------------------------------------


def test_uids_are_valid_unique_and_deterministic():
    first = [i.sop_instance_uid for s in demo_studies(DemoScale.small()) for i in s.instances]
    again = [i.sop_instance_uid for s in demo_studies(DemoScale.small()) for i in s.instances]
    full = [i.sop_instance_uid for s in demo_studies() for i in s.instances]
    assert first == again
    assert len(set(first)) == len(first)
    assert all(UID_RE.match(uid) and len(uid) <= 64 for uid in first + full)
    assert not set(first) & set(full)  # a small seed never collides with the real demo
    assert len(full) == 200 + 200 + 1 + 26 + len(available_samples())


def test_pydicom_samples_keep_their_syntax_and_pixels(small):
    samples = available_samples()
    assert [s.name for s in samples] == [name for name, _ in SAMPLE_FILES]
    copies = small["pydicom sample files"]
    syntaxes = set()
    for sample, copy in zip(samples, copies, strict=True):
        original = pydicom.dcmread(sample.path)
        assert copy.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
        assert copy.PixelData == original.PixelData
        assert copy.pixel_array.shape == original.pixel_array.shape  # decodable as filed
        assert copy.PatientID == "RR100999"
        syntaxes.add(copy.file_meta.TransferSyntaxUID)
    assert len(syntaxes) >= 8
    assert len({c.StudyInstanceUID for c in copies}) == 1
    assert len({c.SeriesInstanceUID for c in copies}) == len(copies)


@pytest.mark.django_db
def test_seed_stores_every_study_through_ingest_then_is_a_no_op():
    out = io.StringIO()
    results = seed_demo_studies(out, scale=DemoScale.small())
    expected = sum(len(s.instances) for s in demo_studies(DemoScale.small()))
    assert [r.stored for r in results] == [r.instances for r in results]
    assert all(not r.failures for r in results)
    assert Instance.objects.count() == expected
    assert Study.objects.count() == 5
    descriptions = set(Study.objects.values_list("study_description", flat=True))
    assert descriptions == {
        "CT CHEST W/O CONTRAST",
        "XR CHEST PA",
        "MR BRAIN W/O CONTRAST",
        "DICOM SAMPLE IMAGES (TRANSFER SYNTAXES)",
    }
    samples = Study.objects.get(study_description__startswith="DICOM SAMPLE")
    assert {"CT", "MR", "NM", "OT", "US"} <= set(samples.modalities)
    ct = Study.objects.get(accession_number="A26111601")
    assert ct.number_of_study_related_instances == DemoScale.small().ct_slices
    assert ct.patient.patient_name == "Harper^Eleanor^J"
    for r in results:
        assert f"{r.label}: {r.instances} stored in" in out.getvalue()

    again = io.StringIO()
    results = seed_demo_studies(again, scale=DemoScale.small())
    assert [r.stored for r in results] == [0] * 5
    assert [r.present for r in results] == [r.instances for r in results]
    assert again.getvalue().count("already present") == 5
    assert Instance.objects.count() == expected
