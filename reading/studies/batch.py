"""Batches of files for ingest: uploaded files, folders on disk, zip archives.

``reading.studies.sources`` turns each file (or zip member) into a
``BatchItem``; everything a batch holds ends up in ``ingest_instances``, up to
``BATCH_ITEMS`` files (or ``BATCH_BYTES`` bytes) at a time; a bad file fails
alone while the rest of the batch is stored.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import OperationalError

from reading.studies.dicomio import OUT_OF_RESOURCES
from reading.studies.services import (
    IngestResult,
    IngestStatus,
    coalesced_arrivals,
    ingest_instance,
    ingest_instances,
)
from reading.studies.sources import (
    BatchItem,
    MemberTooLarge,
    is_skipped_name,
    is_unsafe_name,
    iter_file,
    iter_paths,
    iter_upload,
    iter_zip,
    looks_like_zip,
    walk_paths,
)

__all__ = [
    "BATCH_BYTES",
    "BATCH_ITEMS",
    "BatchItem",
    "BatchSummary",
    "MemberTooLarge",
    "ingest_batch",
    "ingest_item",
    "ingest_items",
    "is_skipped_name",
    "is_unsafe_name",
    "iter_file",
    "iter_paths",
    "iter_upload",
    "iter_zip",
    "looks_like_zip",
    "record_store_events",
    "walk_paths",
]

log = logging.getLogger(__name__)

# Files stored together (one transaction, their fsyncs overlapped): at most this many,
# or this many bytes held in memory.
BATCH_ITEMS = 50
BATCH_BYTES = 128 * 1024 * 1024


@dataclass
class BatchSummary:
    """What happened to a batch: every result, counts per status, skipped names."""

    results: list[IngestResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, result: IngestResult) -> None:
        self.results.append(result)

    def extend(self, other: BatchSummary) -> None:
        self.results.extend(other.results)
        self.skipped.extend(other.skipped)

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(r.status for r in self.results)
        counts = {
            status: counter.get(status, 0)
            for status in (
                IngestStatus.STORED,
                IngestStatus.DUPLICATE,
                IngestStatus.CONFLICT,
                IngestStatus.FAILED,
            )
        }
        counts["skipped"] = len(self.skipped)
        return counts

    @property
    def failures(self) -> list[IngestResult]:
        return [r for r in self.results if r.status == IngestStatus.FAILED]

    @property
    def conflicts(self) -> list[IngestResult]:
        return [r for r in self.results if r.status == IngestStatus.CONFLICT]

    def study_uids(self) -> list[str]:
        """Studies that received a new instance, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.results:
            if r.status == IngestStatus.STORED and r.study_instance_uid:
                seen.setdefault(r.study_instance_uid)
        return list(seen)

    def as_dict(self) -> dict:
        return {
            "counts": self.counts,
            "results": [r.as_dict() for r in self.results],
            "skipped": self.skipped,
        }


def ingest_item(item: BatchItem) -> IngestResult:
    """Ingest one item; an unexpected error fails this item only."""
    if item.refusal is not None:
        return item.refusal
    if item.error:
        return IngestResult(status=IngestStatus.FAILED, reason=item.error, name=item.name)
    try:
        return ingest_instance(item.data or b"", name=item.name)
    except Exception as exc:
        log.exception("ingest of %s failed", item.name)
        return IngestResult(
            status=IngestStatus.FAILED,
            reason=f"internal error while storing: {type(exc).__name__}",
            name=item.name,
        )


def ingest_items(
    items: Iterable[BatchItem],
    *,
    on_result: Callable[[IngestResult], None] | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Ingest every item, up to ``BATCH_ITEMS`` items or ``BATCH_BYTES`` bytes at a time
    through ``ingest_instances``; skipped names are listed, not attempted."""
    summary = BatchSummary()
    with coalesced_arrivals():
        _ingest_into(summary, items, on_result, on_skip)
    return summary


def _ingest_into(summary, items, on_result, on_skip) -> None:
    batch: list[BatchItem] = []
    held = 0

    def flush() -> None:
        for result in ingest_batch(batch):
            summary.add(result)
            if on_result:
                on_result(result)
        batch.clear()

    for item in items:
        if item.data is None and not item.refused:
            summary.skipped.append(item.name)
            if on_skip:
                on_skip(item.name)
            continue
        batch.append(item)
        held += len(item.data or b"")
        if len(batch) >= BATCH_ITEMS or held >= BATCH_BYTES:
            flush()
            held = 0
    flush()


def ingest_batch(items: list[BatchItem]) -> list[IngestResult]:
    """``ingest_item`` for each item, the readable ones stored together.

    A database that cannot take the batch (locked, unreachable) fails every item with
    Out of Resources, which tells a sender to try again later; any other unexpected
    error sends them one at a time, so that it fails its own item only.
    """
    readable = [item for item in items if not item.refused]
    try:
        stored = ingest_instances([(item.name, item.data or b"") for item in readable])
    except OperationalError as exc:
        log.warning("the database refused a batch of %d: %s", len(readable), exc)
        stored = [
            IngestResult(
                status=IngestStatus.FAILED,
                name=item.name,
                reason=f"storage error: {exc}",
                failure_status=OUT_OF_RESOURCES,
            )
            for item in readable
        ]
    except Exception:
        log.exception("ingest of a batch of %d failed; retrying one at a time", len(readable))
        stored = [ingest_item(item) for item in readable]
    results = iter(stored)
    return [ingest_item(item) if item.refused else next(results) for item in items]


def record_store_events(
    summary: BatchSummary, *, user=None, request=None, detail: str = ""
) -> None:
    """One STORE audit record per study that received new instances."""
    from reading.audit.models import AuditAction
    from reading.audit.services import record_access
    from reading.studies.models import Study

    uids = summary.study_uids()
    if not uids:
        return
    for study in Study.objects.select_related("patient").filter(study_instance_uid__in=uids):
        record_access(user, AuditAction.STORE, study=study, request=request, detail=detail)
