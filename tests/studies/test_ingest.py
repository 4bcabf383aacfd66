import io
import struct
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from reading.studies import storage
from reading.studies.models import Instance, Series, Study
from reading.studies.services import IngestStatus, ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db


def test_ingest_stores_bytes_exactly_and_indexes_attributes():
    ds = make_dataset(rows=16, columns=20, z=12.5)
    raw = to_bytes(ds)
    result = ingest_instance(raw, name="a.dcm")
    assert result.status == IngestStatus.STORED, result.reason
    inst = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert storage.read_all(inst.file_path) == raw
    assert (inst.rows, inst.columns, inst.number_of_frames) == (16, 20, 1)
    assert inst.image_position_patient == [-100.0, -100.0, 12.5]
    assert inst.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    # The recorded pixel offset points at the pixel bytes.
    assert (
        storage.read_range(inst.file_path, inst.pixel_data_offset, inst.pixel_data_length)
        == ds.PixelData
    )
    study = Study.objects.get()
    assert study.patient.patient_id == "MRN0001"
    assert study.modalities_in_study == "CT"
    assert study.number_of_study_related_instances == 1
    assert "7FE00010" in inst.metadata and "BulkDataURI" in inst.metadata["7FE00010"]


def test_identical_resend_is_noop_and_different_content_is_conflict():
    ds = make_dataset()
    raw = to_bytes(ds)
    assert ingest_instance(raw).status == IngestStatus.STORED
    assert ingest_instance(raw).status == IngestStatus.DUPLICATE
    ds.PatientName = "Changed^Name"
    conflict = ingest_instance(to_bytes(ds))
    assert conflict.status == IngestStatus.CONFLICT
    inst = Instance.objects.get()
    assert storage.read_all(inst.file_path) == raw  # original kept
    assert Study.objects.get().number_of_study_related_instances == 1


def test_series_counts_and_modalities():
    for ds in make_ct_series(4):
        assert ingest_instance(to_bytes(ds)).ok
    study = Study.objects.get()
    assert study.number_of_study_related_series == 1
    assert study.number_of_study_related_instances == 4
    assert Series.objects.get().number_of_series_related_instances == 4


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"hello world" * 20, "not a DICOM file"),
        (b"", "not a DICOM file"),
    ],
)
def test_garbage_is_rejected_with_reason(raw, reason):
    result = ingest_instance(raw)
    assert result.status == IngestStatus.FAILED
    assert reason in result.reason
    assert not Instance.objects.exists()


def test_truncated_file_is_rejected_and_nothing_stored():
    raw = to_bytes(make_dataset(rows=64, columns=64))
    result = ingest_instance(raw[: len(raw) - 1000])
    assert result.status == IngestStatus.FAILED
    assert "truncated" in result.reason or "malformed" in result.reason
    assert not Instance.objects.exists()
    assert not [p for p in storage.storage_root().rglob("*") if p.is_file()]


def test_missing_uid_is_rejected():
    ds = make_dataset()
    del ds.SeriesInstanceUID
    result = ingest_instance(to_bytes(ds))
    assert result.status == IngestStatus.FAILED
    assert "SeriesInstanceUID" in result.reason


def test_too_large_is_rejected(settings):
    settings.DICOM_MAX_INSTANCE_BYTES = 1000
    result = ingest_instance(to_bytes(make_dataset()))
    assert result.status == IngestStatus.FAILED and "too large" in result.reason


def test_deeply_nested_sequence_is_rejected():
    """A hostile file: 5000 nested undefined-length sequences (pydicom recurses per level)."""
    seq_open = struct.pack("<HH", 0x0040, 0xA730) + b"SQ\0\0" + b"\xff\xff\xff\xff"
    item_open = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_close = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    seq_close = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    depth = 5000
    raw = (
        to_bytes(make_dataset()) + (seq_open + item_open) * depth + (item_close + seq_close) * depth
    )
    result = ingest_instance(raw)
    assert result.status == IngestStatus.FAILED
    assert "nested" in result.reason
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "CT_small.dcm",
        "MR_small_RLE.dcm",
        "JPEG2000.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "SC_rgb_rle_2frame.dcm",
        "MR_small_bigendian.dcm",
    ],
)
def test_pydicom_samples_in_several_transfer_syntaxes(name):
    path = get_testdata_file(name)
    raw = Path(path).read_bytes()
    result = ingest_instance(raw, name=name)
    assert result.status == IngestStatus.STORED, result.reason
    inst = Instance.objects.get(sop_instance_uid=result.sop_instance_uid)
    ds = pydicom.dcmread(path)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        frame = inst.frame_offsets[0]
        data = b"".join(storage.read_range(inst.file_path, off, ln) for off, ln in frame)
        assert len(data) > 0
        assert data[:2] in (b"\xff\xd8", b"\xff\x4f", b"\x00\x00", b"\x10\x00") or len(data) > 8
    else:
        assert (
            storage.read_range(inst.file_path, inst.pixel_data_offset, inst.pixel_data_length)
            == ds.PixelData
        )


def test_zip_is_not_dicom():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.txt", "x" * 200)
    assert ingest_instance(buffer.getvalue()).status == IngestStatus.FAILED


def test_file_without_preamble_is_stored_as_valid_part10():
    raw = to_bytes(make_dataset())
    assert raw[128:132] == b"DICM"
    result = ingest_instance(raw[128:])
    assert result.status == IngestStatus.STORED, result.reason
    inst = Instance.objects.get()
    stored = storage.read_all(inst.file_path)
    assert stored == raw  # zeroed preamble + the bytes as sent
    assert pydicom.dcmread(io.BytesIO(stored)).SOPInstanceUID == inst.sop_instance_uid
    assert ingest_instance(raw[128:]).status == IngestStatus.DUPLICATE
