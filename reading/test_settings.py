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
else:
    # One test database per run: pytest-django drops an existing test_<name> without
    # asking, so two runs on one server (two passes, two people) must not share a name.
    _run = "".join(c for c in _TMP.name.lower() if c.isalnum())[-12:]
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_run}"}  # noqa: F405

if REDIS_URL:  # noqa: F405
    # Runs sharing one Redis keep their own queue and groups (ids repeat across databases).
    _prefix = "".join(c for c in _TMP.name.lower() if c.isalnum())[-12:]
    HUEY["name"] = f"reading-room-{_prefix}"
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"asgi-{_prefix}"  # noqa: F405
