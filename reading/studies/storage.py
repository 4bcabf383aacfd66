"""Instance files on disk, written atomically (temp file + fsync + rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings


def storage_root() -> Path:
    return Path(settings.STORAGE_DIR)


def instance_relpath(study_uid: str, series_uid: str, sop_uid: str, sha256: str) -> str:
    # The content hash in the name means a conflicting copy never replaces the original.
    return f"{study_uid}/{series_uid}/{sop_uid}.{sha256[:16]}.dcm"


def absolute(relpath: str) -> Path:
    return storage_root() / relpath


def write_atomic(relpath: str, data: bytes) -> Path:
    target = absolute(relpath)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove(relpath: str) -> None:
    absolute(relpath).unlink(missing_ok=True)


def read_range(relpath: str, offset: int, length: int) -> bytes:
    with open(absolute(relpath), "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def read_all(relpath: str) -> bytes:
    return absolute(relpath).read_bytes()
