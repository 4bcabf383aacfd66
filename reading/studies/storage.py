"""Instance files on disk, written atomically and durably: temp file, fsync, rename,
then an fsync of the directory so that the rename itself survives a power cut.

``write_many`` writes a batch (a STOW-RS request's instances) with their
``fsync``s running together in a small thread pool (``os.fsync`` releases the
GIL, and the file system commits its journal once for several of them) and one
``fsync`` per directory; every file is durable when it returns.
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings


def storage_root() -> Path:
    return Path(settings.STORAGE_DIR)


def instance_relpath(study_uid: str, series_uid: str, sop_uid: str, sha256: str) -> str:
    # The content hash in the name means a conflicting copy never replaces the original.
    return f"{study_uid}/{series_uid}/{sop_uid}.{sha256[:16]}.dcm"


def absolute(relpath: str) -> Path:
    return storage_root() / relpath


SYNC_THREADS = 8
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _sync_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="fsync")
        return _pool


def _make_dirs(folder: Path, synced: set[Path]) -> None:
    """``mkdir -p``; the parent of each folder it creates needs an fsync too."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        synced.add(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(relpath: str, data: bytes, folders: set[Path]) -> tuple[str, Path]:
    target = absolute(relpath)
    _make_dirs(target.parent, folders)
    folders.add(target.parent)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp, target


def _sync_file(tmp: str) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_many(files: list[tuple[str, bytes]]) -> list[OSError | None]:
    """Write ``(relpath, data)`` files durably; per file, None or the error that stopped
    it (nothing of that file is left on disk)."""
    errors: list[OSError | None] = [None] * len(files)
    temps: dict[int, tuple[str, Path]] = {}
    folders: set[Path] = set()
    done: list[int] = []
    try:
        for i, (relpath, data) in enumerate(files):
            try:
                temps[i] = _write_temp(relpath, data, folders)
            except OSError as exc:
                errors[i] = exc
        syncs = {}
        if len(temps) > 1:
            pool = _sync_pool()
            syncs = {i: pool.submit(_sync_file, tmp) for i, (tmp, _) in temps.items()}
        for i, (tmp, target) in temps.items():
            try:
                if i in syncs:
                    syncs[i].result()
                else:
                    _sync_file(tmp)
                os.replace(tmp, target)
                done.append(i)
            except OSError as exc:
                errors[i] = exc
                Path(tmp).unlink(missing_ok=True)
        for folder in folders:
            try:
                _fsync_dir(folder)
            except OSError as exc:
                for i in [i for i in done if temps[i][1].parent == folder]:
                    errors[i] = exc
                    temps[i][1].unlink(missing_ok=True)
    except BaseException:
        for i, (tmp, target) in temps.items():
            (target if i in done else Path(tmp)).unlink(missing_ok=True)
        raise
    return errors


def write_atomic(relpath: str, data: bytes) -> Path:
    """One file, durably (``write_many`` of one)."""
    (error,) = write_many([(relpath, data)])
    if error is not None:
        raise error
    return absolute(relpath)


def remove(relpath: str) -> None:
    absolute(relpath).unlink(missing_ok=True)


def read_range(relpath: str, offset: int, length: int) -> bytes:
    with open(absolute(relpath), "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def read_all(relpath: str) -> bytes:
    return absolute(relpath).read_bytes()
