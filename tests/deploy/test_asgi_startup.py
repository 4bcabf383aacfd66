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
    walks only what requests leave behind (reading/asgi.py)."""
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
