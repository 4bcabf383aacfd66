"""Files on disk and uploaded files as batch items: one reading of a file for both."""

import io
import zipfile

from reading.studies.sources import BatchItem, iter_file, iter_upload


def test_file_and_upload_give_the_same_items(tmp_path, settings):
    settings.DICOM_MAX_INSTANCE_BYTES = 1000
    small = b"\0" * 128 + b"DICM" + b"x" * 100
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("in/a.dcm", small)
        zf.writestr("in/big.dcm", b"y" * 2000)
        zf.writestr("in/.DS_Store", b"z")
    cases = {"small.dcm": small, "big.dcm": b"y" * 2000, "pack.zip": buffer.getvalue()}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        from_disk = list(iter_file(path, name))
        uploaded = list(iter_upload(io.BytesIO(data), name, size=len(data)))
        assert from_disk == uploaded, name
    assert list(iter_file(tmp_path / "small.dcm", "small.dcm")) == [
        BatchItem("small.dcm", data=small)
    ]
    assert list(iter_file(tmp_path / "big.dcm", "big.dcm")) == [
        BatchItem("big.dcm", error="too large: 2000 bytes, the limit is 1000")
    ]
    items = list(iter_file(tmp_path / "pack.zip", "pack.zip"))
    assert items == [
        BatchItem("pack.zip/in/a.dcm", data=small),
        BatchItem("pack.zip/in/big.dcm", error="too large: more than 1000 bytes"),
        BatchItem("pack.zip/in/.DS_Store"),
    ]


def test_unreadable_and_missing_files_fail_alone(tmp_path):
    (tmp_path / "folder").mkdir()
    assert list(iter_file(tmp_path / "folder", "folder")) == [
        BatchItem("folder", error="cannot read: Is a directory")
    ]
    assert list(iter_file(tmp_path / "gone.dcm", "gone.dcm")) == [
        BatchItem("gone.dcm", error="no such file or directory")
    ]
    (tmp_path / ".hidden.dcm").write_bytes(b"x")
    assert list(iter_file(tmp_path / ".hidden.dcm", "h")) == [BatchItem("h")]
