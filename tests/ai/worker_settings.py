"""Settings of a real Huey worker process in the tests: the test settings, queue not inline,
and the calling test's storage directory."""

import os
from pathlib import Path

from reading.test_settings import *  # noqa: F403
from reading.test_settings import HUEY

HUEY = {**HUEY, "immediate": False, "consumer": {"workers": 1, "worker_type": "thread"}}
if os.environ.get("TEST_STORAGE_DIR"):
    STORAGE_DIR = Path(os.environ["TEST_STORAGE_DIR"])
