"""Zip members are read in chunks with the limits applied while they inflate."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from reading.studies.batch import iter_zip
from tests.dicom_factory import make_dataset, to_bytes

MIB = 1024 * 1024


def zip_of(members: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buf.seek(0)
    return buf


def test_oversized_member_stops_at_the_instance_limit(settings):
    """A member declared (and inflating to) 64 MiB, instance limit 4 MiB: memory stays small."""
    settings.DICOM_MAX_INSTANCE_BYTES = 4 * MIB
    settings.DICOM_MAX_ZIP_RATIO = 10_000
    archive = zip_of({"big.dcm": b"\0" * (64 * MIB), "ok.dcm": to_bytes(make_dataset())})
    tracemalloc.start()
    try:
        items = list(iter_zip(archive, "upload.zip"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    big, ok = items
    assert "too large" in big.error and big.data is None
    assert ok.data and not ok.error
    assert peak < 16 * MIB, f"peak {peak / MIB:.0f} MiB"


def test_nested_archive_is_spooled_to_disk_and_expanded(settings):
    inner = zip_of({"a.dcm": to_bytes(make_dataset())}).getvalue()
    items = list(iter_zip(zip_of({"inner.zip": inner}), "outer.zip"))
    assert [i.name for i in items] == ["outer.zip/inner.zip/a.dcm"]
    assert items[0].data and not items[0].error


@pytest.mark.parametrize("limit", [1, 1000])
def test_the_archive_budget_still_applies(settings, limit):
    settings.DICOM_MAX_UPLOAD_BYTES = limit
    items = list(iter_zip(zip_of({"a.dcm": to_bytes(make_dataset())}), "x.zip"))
    assert "zip bomb protection" in items[0].error
