"""``python manage.py import_dicom``: folders, zips, a summary, the exit code."""

import getpass
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reading.audit.models import AuditAction, AuditEvent
from reading.studies import storage
from reading.studies.models import Instance, Study
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_dicom", *map(str, args), stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def write_tree(root: Path) -> list:
    series = make_ct_series(5)
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "1.dcm").write_bytes(to_bytes(series[0]))
    (root / "a" / "b" / "IM0002").write_bytes(to_bytes(series[1]))
    (root / "a" / "b" / ".hidden.dcm").write_bytes(to_bytes(make_dataset()))
    (root / "a" / "DICOMDIR").write_bytes(b"an index")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, ds in enumerate(series[2:]):
            zf.writestr(f"more/{i}.dcm", to_bytes(ds))
    (root / "a" / "more.zip").write_bytes(buffer.getvalue())
    return series


def test_folder_and_zip_import_then_rerun_is_duplicates(tmp_path):
    series = write_tree(tmp_path / "in")
    code, out, err = run(tmp_path / "in")
    assert code == 0, out + err
    assert "5 stored, 0 duplicate, 0 conflict, 0 failed, 2 skipped" in out
    assert Instance.objects.count() == 5
    assert Study.objects.get().number_of_study_related_instances == 5
    stored = Instance.objects.get(sop_instance_uid=series[1].SOPInstanceUID)
    assert storage.read_all(stored.file_path) == to_bytes(series[1])
    event = AuditEvent.objects.get(action=AuditAction.STORE)
    assert event.detail == f"import_dicom:{getpass.getuser()}" and event.user is None

    code, out, _ = run(tmp_path / "in")
    assert code == 0
    assert "0 stored, 5 duplicate" in out


def test_failures_are_listed_and_exit_non_zero(tmp_path):
    good = make_dataset()
    conflicting = make_dataset()
    (tmp_path / "good.dcm").write_bytes(to_bytes(good))
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01 not dicom" * 50)
    run(tmp_path / "good.dcm")
    conflicting.SOPInstanceUID = good.SOPInstanceUID
    (tmp_path / "conflict.dcm").write_bytes(to_bytes(conflicting))
    code, out, err = run(tmp_path / "junk.bin", tmp_path / "conflict.dcm", tmp_path / "missing")
    assert code == 1
    assert "0 stored, 0 duplicate, 1 conflict, 2 failed" in out
    assert f"{tmp_path / 'junk.bin'}: not a DICOM file" in out
    assert f"{tmp_path / 'missing'}: no such file or directory" in out
    assert f"{tmp_path / 'conflict.dcm'}: {good.SOPInstanceUID}" in out
    assert "2 file(s) failed" in err


def test_progress_bar_and_exit_status_from_the_shell(tmp_path):
    """The real command line: tqdm's bar on stderr, exit status 1 on failure.

    Nothing here reaches the database (the only file is not DICOM), so the
    subprocess gets an empty data directory of its own.
    """
    # Its own folder: the data directory beside it gets files of its own (the secret key).
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.txt").write_bytes(b"plain text, no DICOM here" * 10)
    proc = subprocess.run(
        [sys.executable, "manage.py", "import_dicom", str(tmp_path / "in")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "reading.test_settings",
            "READING_TEST_DIR": str(tmp_path / "data"),
            "DATA_DIR": str(tmp_path / "data"),
            "SQLITE_PATH": str(tmp_path / "data" / "unused.sqlite3"),
        },
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1/1" in proc.stderr and "file" in proc.stderr  # the tqdm bar
    assert "0 stored, 0 duplicate, 0 conflict, 1 failed" in proc.stdout
