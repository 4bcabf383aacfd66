"""The database locked for a moment during ingest, and ``check_storage``.

A lock held by another connection makes the ingest's write fail: the client gets
a clear failure (STOW-RS: the instance failed with Out of Resources, A700, and a
reason), no row is half written, no file is left behind; once the lock is gone the
same request stores it. ``check_storage`` finds orphan files, rows without files
and stale temporary files, and repairs what can be repaired.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection, connections

from reading.studies import storage
from reading.studies.models import Instance, Series, Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes
from tests.studies.dicomweb_helpers import stow

pytestmark = pytest.mark.django_db(transaction=True)

FAILED_SOP_SEQUENCE = "00081198"
FAILURE_REASON = "00081197"
OUT_OF_RESOURCES = 0xA700


@contextlib.contextmanager
def database_locked():
    """Another connection holds the instance table's write lock; ours waits 0.3 s only."""
    held, release = threading.Event(), threading.Event()

    def hold():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                if other.vendor == "sqlite":
                    cursor.execute("BEGIN EXCLUSIVE")
                else:
                    cursor.execute("BEGIN")
                    cursor.execute("LOCK TABLE studies_instance IN ACCESS EXCLUSIVE MODE")
                held.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            other.close()

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA busy_timeout = 300")
        else:
            cursor.execute("SET lock_timeout = '300ms'")
    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()
        connection.close()  # a fresh connection gets the normal timeouts back


def _check(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_storage", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_stow_while_the_database_is_locked_fails_cleanly_then_succeeds(attending_client):
    raw = to_bytes(make_ct_series(1)[0])
    with database_locked():
        response = stow(attending_client, [raw])
    assert response.status_code in (200, 409), response.content
    failed = response.json()[FAILED_SOP_SEQUENCE]["Value"][0]
    assert failed[FAILURE_REASON]["Value"] == [OUT_OF_RESOURCES]
    assert Instance.objects.count() == 0 and Series.objects.count() == 0
    files = [p for p in storage.storage_root().rglob("*") if p.is_file()]
    assert files == [], "no file without its row"

    response = stow(attending_client, [raw])
    assert response.status_code == 200, response.content
    assert Instance.objects.count() == 1
    assert _check("--hashes")[0] == 0


def test_ingest_raises_a_database_error_and_leaves_nothing_behind():
    from django.db import OperationalError

    raw = to_bytes(make_ct_series(1)[0])
    with database_locked(), pytest.raises(OperationalError):
        ingest_instance(raw)
    assert not Instance.objects.exists() and not Study.objects.exists()
    assert not any(p.is_file() for p in storage.storage_root().rglob("*"))
    assert ingest_instance(raw).ok


def test_a_locked_database_refuses_a_batch_with_out_of_resources(attending_client):
    """Every ingest path's batch (here STOW-RS and an upload's batch) answers a database
    that cannot take it with Out of Resources for each instance, stores nothing, and
    takes the same files once the database is free (reading/studies/batch.py)."""
    import json

    from reading.studies.batch import BatchItem, ingest_items

    raws = [to_bytes(ds) for ds in make_ct_series(2)]
    with database_locked():
        response = stow(attending_client, raws)
        uploaded = ingest_items([BatchItem("a.dcm", raws[0]), BatchItem("b.dcm", raws[1])])
    assert response.status_code == 409, response.content
    failed = json.loads(response.content)[FAILED_SOP_SEQUENCE]["Value"]
    assert [item[FAILURE_REASON]["Value"] for item in failed] == [[OUT_OF_RESOURCES]] * 2
    assert [r.failure_status for r in uploaded.results] == [OUT_OF_RESOURCES] * 2
    assert all(r.reason.startswith("storage error") for r in uploaded.results)
    assert not Instance.objects.exists()
    assert not any(p.is_file() for p in storage.storage_root().rglob("*"))
    assert stow(attending_client, raws).status_code == 200


def test_check_storage_reports_and_repairs(outsider):
    datasets = make_ct_series(3)
    kept, lost, crashed = (to_bytes(ds) for ds in datasets)
    assert ingest_instance(kept).ok and ingest_instance(lost).ok
    root = storage.storage_root()
    # The file of a row is gone (a volume not mounted, a hand-made deletion).
    lost_row = Instance.objects.get(sop_instance_uid=datasets[1].SOPInstanceUID)
    storage.remove(lost_row.file_path)
    # A process died after writing its file and before committing its row.
    ds = datasets[2]
    orphan = storage.instance_relpath(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, "0" * 16
    )
    storage.write_atomic(orphan, crashed)
    # Junk that is no DICOM, and a temporary file of a write cut short an hour ago.
    storage.write_atomic("junk/readme.txt", b"not dicom")
    temp = root / "junk" / ".incoming-abc.part"
    temp.write_bytes(b"half")
    os.utime(temp, (time.time() - 7200, time.time() - 7200))

    code, out = _check()
    assert code == 1
    assert f"missing: {ds_uid(datasets[1])} {lost_row.file_path}" in out
    assert f"orphan file: {orphan}" in out and "orphan file: junk/readme.txt" in out
    assert "stale temporary file: junk/.incoming-abc.part" in out
    assert outsider.username not in out

    code, out = _check("--repair")
    assert code == 1, "the missing file cannot be repaired by itself"
    adopted = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert storage.read_all(adopted.file_path) == crashed
    assert not (root / orphan).exists() or adopted.file_path == orphan
    assert (root / ".orphans" / "junk" / "readme.txt").read_bytes() == b"not dicom"
    assert not temp.exists()
    assert Study.objects.get().number_of_study_related_instances == 3

    code, out = _check("--drop-missing")
    assert code == 0, out
    assert "storage and database agree" in out
    assert not Instance.objects.filter(pk=lost_row.pk).exists()
    assert Study.objects.get().number_of_study_related_instances == 2
    assert Series.objects.get().number_of_series_related_instances == 2


def test_check_storage_finds_a_damaged_file():
    raw = to_bytes(make_ct_series(1)[0])
    assert ingest_instance(raw).ok
    row = Instance.objects.get()
    path = storage.absolute(row.file_path)
    path.write_bytes(raw[:-4] + b"XXXX")  # same size, other content
    assert _check()[0] == 0  # sizes agree
    code, out = _check("--hashes")
    assert code == 1 and f"damaged: {row.sop_instance_uid}" in out


def ds_uid(ds) -> str:
    return str(ds.SOPInstanceUID)
