"""The served process's own settings, applied once when the ASGI application is built.

Three things that no request can do for itself, each measured with
``bench/dicomweb.py`` (docs/benchmarks.md, "DICOMweb"):

- **Freed memory stays in the process** (``keep_freed_memory``). glibc gives a
  block over 128 KiB back to the kernel when it is freed, and trims the heap
  once 128 KiB are free at its top; the next request asks for the same sizes
  again (a frame read, a rendered image's pixels, a body chunk) and faults each
  page in anew. On a virtual machine a fault costs more than the work itself:
  an uncached ``/rendered`` image took 2.8 ms at the median instead of 1.9 ms.
  Blocks up to 32 MiB now come from the heap and 256 MiB may stay free there,
  so a process holds on to the memory its busiest moment needed.
- **The embedded SQLite database stays open** (``hold_sqlite_open``). Django
  closes each request's connection, and SQLite checkpoints its write-ahead log
  into the database and deletes it whenever the last connection closes: about
  1.3 ms of syncing on every request that left no other connection open.
- **Long-lived objects are frozen out of the collector's reach**
  (``freeze_startup_objects``), once every view is imported: a full collection
  otherwise walked them all and held a request for 70-100 ms several times a
  minute under load.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sqlite3
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's upper bound for it on 64-bit systems
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; False where there is no
    glibc (another C library: nothing is changed)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def hold_sqlite_open() -> sqlite3.Connection | None:
    """An idle connection to the embedded database, attached to its write-ahead log, so that
    closing a request's connection is never closing the last one; None on PostgreSQL."""
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"] != "django.db.backends.sqlite3" or not Path(database["NAME"]).is_file():
        return None  # PostgreSQL, or no database yet (nothing to create here)
    holder = sqlite3.connect(database["NAME"], check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("SELECT count(*) FROM sqlite_master").fetchall()
    return holder


def freeze_startup_objects() -> None:
    """Import what requests import lazily, then freeze every object alive (``gc.freeze``)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module (rendering's too)
    gc.collect()
    gc.freeze()
