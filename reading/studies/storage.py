"""Instance files on disk, written atomically and durably: temp file, fsync, rename,
then an fsync of the directory so that the rename itself survives a power cut.

``DurableWrites`` (and ``write_many``) write a batch (a STOW-RS request's
instances) with their ``fsync``s running together in a small thread pool
(``os.fsync`` releases the GIL, and the file system commits its journal once
for several of them) and one ``fsync`` per directory; every file is durable
when its ``commit`` returns.
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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


@dataclass
class _File:
    target: Path
    tmp: str = ""  # until renamed into place
    sync: Future | None = None
    error: OSError | None = None


class DurableWrites:
    """Files written durably as a group.

    ``add`` writes a file to a temporary name beside its target and starts its
    ``fsync`` in the pool, so that the sync overlaps whatever the caller does
    next (parsing the next instance); ``commit`` waits for them, renames each
    into place and fsyncs each directory once. ``discard`` removes everything
    (the caller failed before its commit).
    """

    def __init__(self) -> None:
        self._files: list[_File] = []
        self._folders: set[Path] = set()

    def add(self, relpath: str, data: bytes) -> None:
        try:
            tmp, target = _write_temp(relpath, data, self._folders)
        except OSError as exc:
            self._files.append(_File(absolute(relpath), error=exc))
            return
        self._files.append(_File(target, tmp, _sync_pool().submit(_sync_file, tmp)))

    def drop(self, index: int) -> None:
        """Give up the ``index``-th file before the commit (its temporary file goes)."""
        file = self._files[index]
        if file.tmp:
            Path(file.tmp).unlink(missing_ok=True)
            file.tmp = ""
        file.error = file.error or FileExistsError("dropped")

    def commit(self) -> list[OSError | None]:
        """Per file in ``add`` order, None (it is on disk) or the error that stopped it
        (nothing of it is left)."""
        try:
            for file in self._files:
                if file.error is not None:
                    continue
                try:
                    file.sync.result()
                    os.replace(file.tmp, file.target)
                    file.tmp = ""
                except OSError as exc:
                    file.error = exc
                    Path(file.tmp).unlink(missing_ok=True)
            for folder in self._folders:
                try:
                    _fsync_dir(folder)
                except OSError as exc:
                    for file in self._files:
                        if file.error is None and file.target.parent == folder:
                            file.error = exc
                            file.target.unlink(missing_ok=True)
        except BaseException:
            self.discard()
            raise
        return [file.error for file in self._files]

    def discard(self) -> None:
        for file in self._files:
            if file.tmp:
                Path(file.tmp).unlink(missing_ok=True)
            elif file.error is None:
                file.target.unlink(missing_ok=True)


def write_many(files: list[tuple[str, bytes]]) -> list[OSError | None]:
    """Write ``(relpath, data)`` files durably, their fsyncs overlapped; per file, None
    or the error that stopped it (nothing of that file is left on disk)."""
    writes = DurableWrites()
    try:
        for relpath, data in files:
            writes.add(relpath, data)
    except BaseException:
        writes.discard()
        raise
    return writes.commit()


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
