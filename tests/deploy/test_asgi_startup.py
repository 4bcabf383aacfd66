"""The served application's start: what it imports and freezes before the first request."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
import reading.asgi
frozen = gc.get_freeze_count()
print(frozen, gc.get_count()[0], 'reading.studies.dicomweb.render' in sys.modules,
      'reading.reports.api' in sys.modules)
"""


def test_startup_objects_are_frozen_out_of_the_collectors_reach(tmp_path):
    """Long-lived objects are frozen once the views are imported, so a full collection
    walks only what requests leave behind (reading/serving.py)."""
    env = {
        "DJANGO_SETTINGS_MODULE": "reading.settings",
        "PATH": "/usr/bin:/bin",
        "DATA_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    frozen, young, render, views = int(out[0]), int(out[1]), out[2], out[3]
    assert frozen > 50_000, frozen  # Django, Channels, pydicom, the apps' modules
    assert young < 1_000, young
    assert render == "True" and views == "True"


HOLD = """
import os, sqlite3, sys
path = os.path.join(os.environ["DATA_DIR"], "reading.sqlite3")
setup = sqlite3.connect(path)
setup.execute("PRAGMA journal_mode=WAL")
setup.execute("CREATE TABLE t (v TEXT)")
setup.close()
import reading.asgi
request = sqlite3.connect(path)  # a request's connection: write, then close
request.execute("INSERT INTO t VALUES ('x')")
request.commit()
request.close()
print(reading.asgi.sqlite_holder is not None, os.path.exists(path + "-wal"))
"""


def test_the_embedded_database_stays_open_so_a_request_closing_is_not_the_last(tmp_path):
    """SQLite checkpoints and deletes its log when the last connection closes, which
    every request paid for with nothing else open (reading/serving.py hold_sqlite_open)."""
    env = {"DJANGO_SETTINGS_MODULE": "reading.settings", "PATH": "/usr/bin:/bin"}
    env["DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", HOLD], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "True"]  # held, and the log was left for SQLite's own checkpoints


FAULTS = """
import resource, sys
from reading import serving
if sys.argv[1] == "kept":
    assert serving.keep_freed_memory()
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for size in (16 << 20, 16 << 20, 16 << 20, 24 << 20, 24 << 20):  # zero-filled: pages touched
    block = bytearray(size)
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def test_freed_blocks_are_reused_without_faulting_them_in_again():
    """By default glibc hands large freed blocks back to the kernel (or trims them off the
    heap) and the next block of that size faults its pages in anew; with the served
    process's thresholds the pages are reused (reading/serving.py keep_freed_memory)."""

    def faults(mode: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", FAULTS, mode], cwd=ROOT, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        return int(run.stdout)

    page_blocks = (16 << 20) // 4096  # pages of one 16 MiB block
    assert faults("default") > 3 * page_blocks  # 16 MiB faulted in again and again
    assert faults("kept") < 1.6 * page_blocks  # the largest block's pages, once
