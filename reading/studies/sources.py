"""The files of a batch, as items to ingest: uploaded files, files and folders on
disk, zip archives (``reading.studies.batch`` stores them).

Each file becomes a ``BatchItem``: its bytes, a reason why it cannot be
ingested, or neither (a name that is skipped). Zip archives are
expanded member by member, each read in chunks with the limits applied while it
inflates (an instance stops at ``DICOM_MAX_INSTANCE_BYTES``; a nested archive is
spooled to a temporary file), under limits that stop a zip bomb before it is
inflated: at most ``DICOM_MAX_ZIP_MEMBERS`` members, at most
``DICOM_MAX_UPLOAD_BYTES`` uncompressed bytes per archive (nested archives
included), and no member compressed more than ``DICOM_MAX_ZIP_RATIO`` times.
The declared sizes in the central directory can be trusted as upper bounds:
``zipfile`` never returns more bytes than a member declares (and fails its CRC
check when the member holds fewer).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from django.conf import settings

if TYPE_CHECKING:
    from reading.studies.services import IngestResult

MAX_ZIP_DEPTH = 3  # an archive inside an archive inside an archive, no deeper
READ_CHUNK = 1024 * 1024
# Small members may compress far better than the ratio limit (a blank slice
# does) and cannot hurt; the ratio limit applies from this size on.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # local file header, empty archive
SKIPPED_NAMES = {"DICOMDIR", "Thumbs.db", "desktop.ini"}
SKIPPED_DIRS = {"__MACOSX"}


@dataclass
class BatchItem:
    """One file to ingest, or a reason why a file cannot be (``error``, or a ``refusal``
    decided before ingest with its DICOM status and UIDs)."""

    name: str
    data: bytes | None = None
    error: str = ""
    refusal: IngestResult | None = None

    @property
    def refused(self) -> bool:
        return bool(self.error) or self.refusal is not None


class _Budget:
    """Uncompressed bytes one top-level archive may still expand to."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit


def is_skipped_name(name: str) -> bool:
    """Hidden files, macOS resource forks and DICOMDIR indexes are not instances."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts:
        return True
    if any(p in SKIPPED_DIRS for p in parts[:-1]):
        return True
    base = parts[-1]
    return base.startswith(".") or base.upper() in SKIPPED_NAMES or base in SKIPPED_NAMES


def is_unsafe_name(name: str) -> bool:
    """Absolute paths, drive letters and ``..`` components (path traversal)."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return True
    return any(part == ".." for part in normalised.split("/"))


def looks_like_zip(head: bytes) -> bool:
    """A zip by its magic number; a DICOM file says ``DICM`` at byte 128 (PS3.10 7.1)."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return False
    return head[:4] in ZIP_MAGIC


class MemberTooLarge(Exception):
    """A zip member expanded past the limit while it was being read."""


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, instance_limit: int
) -> bytes | BinaryIO:
    """The member's bytes, or a temporary file when it is itself a zip archive.

    Read in chunks with the limits applied as it inflates: an instance stops at
    ``instance_limit`` bytes, a nested archive (spooled to disk) at ``limit``.
    """
    with archive.open(info) as fh:
        head = fh.read(132)
        if looks_like_zip(head):
            spool = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
            total = len(head)
            spool.write(head)
            while chunk := fh.read(READ_CHUNK):
                total += len(chunk)
                if total > limit:
                    spool.close()
                    raise MemberTooLarge("member expands beyond its declared size")
                spool.write(chunk)
            spool.seek(0)
            return spool
        chunks = [head]
        total = len(head)
        while chunk := fh.read(READ_CHUNK):
            total += len(chunk)
            if total > instance_limit:
                raise MemberTooLarge(f"too large: more than {instance_limit} bytes")
            if total > limit:
                raise MemberTooLarge("member expands beyond its declared size")
            chunks.append(chunk)
    return b"".join(chunks)


def iter_zip(
    fileobj: BinaryIO | str | os.PathLike,
    name: str,
    *,
    budget: _Budget | None = None,
    depth: int = 1,
) -> Iterator[BatchItem]:
    """Members of a zip archive as items; nested archives are expanded too.

    A broken or oversized archive yields one error item under its own name;
    a bad member yields an error item under ``archive/member``.
    """
    max_members = settings.DICOM_MAX_ZIP_MEMBERS
    max_ratio = settings.DICOM_MAX_ZIP_RATIO
    max_instance = settings.DICOM_MAX_INSTANCE_BYTES
    if budget is None:
        budget = _Budget(settings.DICOM_MAX_UPLOAD_BYTES)
    if depth > MAX_ZIP_DEPTH:
        yield BatchItem(name, error=f"zip nested deeper than {MAX_ZIP_DEPTH} levels: not expanded")
        return
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        yield BatchItem(name, error=f"not a readable zip archive: {exc}")
        return
    with archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > max_members:
            yield BatchItem(
                name,
                error=(
                    f"zip bomb protection: {len(members)} members, the limit is {max_members}; "
                    "nothing in this archive was stored"
                ),
            )
            return
        declared = sum(i.file_size for i in members)
        if declared > budget.left:
            yield BatchItem(
                name,
                error=(
                    f"zip bomb protection: expands to {declared} bytes, the limit is "
                    f"{budget.limit}; nothing in this archive was stored"
                ),
            )
            return
        for info in members:
            member_name = f"{name}/{info.filename}"
            if is_unsafe_name(info.filename):
                yield BatchItem(
                    member_name, error="unsafe path in archive (path traversal): ignored"
                )
                continue
            if is_skipped_name(info.filename):
                yield BatchItem(member_name)  # data None, no error: skipped
                continue
            if info.flag_bits & 0x1:
                yield BatchItem(member_name, error="encrypted zip member: unsupported")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_CHECK_MIN_BYTES and ratio > max_ratio:
                yield BatchItem(
                    member_name,
                    error=(
                        f"zip bomb protection: compressed {ratio:.0f}:1, the limit is "
                        f"{max_ratio}:1; not expanded"
                    ),
                )
                continue
            if info.file_size > budget.left:
                yield BatchItem(
                    member_name, error="zip bomb protection: archive size limit reached"
                )
                continue
            try:
                data = _read_member(archive, info, min(info.file_size, budget.left), max_instance)
            except MemberTooLarge as exc:
                yield BatchItem(member_name, error=str(exc))
                continue
            except Exception as exc:  # corrupt deflate data, bad CRC, unknown compression...
                yield BatchItem(member_name, error=f"cannot read zip member: {exc}")
                continue
            if isinstance(data, bytes):
                budget.left -= len(data)
                yield BatchItem(member_name, data=data)
                continue
            with data:
                budget.left -= data.seek(0, os.SEEK_END)
                data.seek(0)
                yield from iter_zip(data, member_name, budget=budget, depth=depth + 1)


def iter_upload(fileobj: BinaryIO, name: str, size: int | None = None) -> Iterator[BatchItem]:
    """One uploaded file (a DICOM file or a zip) as items."""
    if is_skipped_name(name):
        yield BatchItem(name)
        return
    yield from _iter_open(fileobj, name, size)


def _iter_open(fileobj: BinaryIO, name: str, size: int | None) -> Iterator[BatchItem]:
    """An open file (DICOM or zip) of ``size`` bytes, when known, as items."""
    head = fileobj.read(132)
    fileobj.seek(0)
    if looks_like_zip(head):
        yield from iter_zip(fileobj, name)
        return
    limit = settings.DICOM_MAX_INSTANCE_BYTES
    if size is not None and size > limit:
        yield BatchItem(name, error=f"too large: {size} bytes, the limit is {limit}")
        return
    data = fileobj.read(limit + 1)
    if len(data) > limit:
        yield BatchItem(name, error=f"too large: more than {limit} bytes")
        return
    yield BatchItem(name, data=data)


def walk_paths(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str]]:
    """Files under ``paths`` (recursively, sorted), with the name to report them by."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(
                    d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")
                )
                for filename in sorted(filenames):
                    yield Path(dirpath) / filename, str(Path(dirpath) / filename)
        else:
            yield path, str(path)


def iter_file(path: Path, name: str) -> Iterator[BatchItem]:
    """One file on disk (DICOM or zip) as items."""
    if is_skipped_name(path.name):
        yield BatchItem(name)
        return
    try:
        with open(path, "rb") as fh:
            yield from _iter_open(fh, name, os.fstat(fh.fileno()).st_size)
    except FileNotFoundError:
        yield BatchItem(name, error="no such file or directory")
    except OSError as exc:
        yield BatchItem(name, error=f"cannot read: {exc.strerror or exc}")


def iter_paths(paths: Iterable[str | os.PathLike]) -> Iterator[BatchItem]:
    """Files, folders and zips on disk as items."""
    for path, name in walk_paths(paths):
        yield from iter_file(path, name)
