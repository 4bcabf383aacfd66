"""Test settings: the embedded default with Huey run inline.

Huey's immediate mode only switches on by itself with DEBUG, so it is set here.
``DATABASE_URL``/``REDIS_URL`` still switch the scale-out path on when exported.
"""

import os
import tempfile
from pathlib import Path

from reading.settings import *  # noqa: F403
from reading.settings import HUEY

# A server subprocess started by the browser tests inherits READING_TEST_DIR and so
# shares this run's files and database.
_TMP = Path(os.environ.get("READING_TEST_DIR") or tempfile.mkdtemp(prefix="reading-test-"))
os.environ["READING_TEST_DIR"] = str(_TMP)
DATA_DIR = _TMP
STORAGE_DIR = _TMP / "storage"
HUEY = {**HUEY, "immediate": True}
if "filename" in HUEY:
    HUEY["filename"] = str(_TMP / "huey.sqlite3")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not :memory:, so a Daphne server in another process sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(_TMP / "test.sqlite3")}  # noqa: F405
