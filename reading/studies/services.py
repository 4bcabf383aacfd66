"""Writes to the archive. ``ingest_instances`` is the one path every ingest takes
(STOW-RS, browser upload, import_dicom, the C-STORE listener, demo seeding;
``ingest_instance`` for one file).

A batch is stored in two steps: each file parsed and validated and, when new,
written at once with its ``fsync`` started in a thread pool
(``storage.DurableWrites``: the syncs overlap each other and the parsing of
the next files); then, every file on disk, every row in one transaction (the
study and series looked up once, the instances inserted in bulk, the counters
updated once). An instance
that is refused, or whose file cannot be written, fails alone; the others are
stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from reading.studies import storage
from reading.studies.dicomio import (
    CANNOT_UNDERSTAND,
    DUPLICATE_SOP_INSTANCE,
    OUT_OF_RESOURCES,
    DicomInputError,
    ParsedInstance,
    add_missing_preamble,
    read_instance,
)
from reading.studies.hierarchy import (
    HIERARCHY_MISMATCH,
    PATIENT_MISMATCH,
    Hierarchy,
    HierarchyError,
    PatientMismatch,
    instance_row,
)
from reading.studies.models import Instance, Series, Study
from reading.studies.signals import instance_stored

__all__ = [
    "HIERARCHY_MISMATCH",
    "PATIENT_MISMATCH",
    "ArrivalThrottle",
    "HierarchyError",
    "IngestResult",
    "IngestStatus",
    "PatientMismatch",
    "coalesced_arrivals",
    "ingest_instance",
    "ingest_instances",
]

log = logging.getLogger(__name__)


class IngestStatus:
    STORED = "stored"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass
class IngestResult:
    status: str
    reason: str = ""
    # The DICOM failure status of a refused instance (PS3.4 B.2.3); None when not refused.
    failure_status: int | None = None
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    instance_id: int | None = None
    name: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (IngestStatus.STORED, IngestStatus.DUPLICATE)

    @property
    def dicom_status(self) -> int:
        """The DICOM status of a result that was not stored: C-STORE's status (PS3.4
        B.2.3), which STOW-RS answers as Failure Reason (PS3.18 Table 10.5.3-4). The
        ingest's own type where it refused the instance, never read from the text."""
        if self.status == IngestStatus.CONFLICT:
            return DUPLICATE_SOP_INSTANCE
        if self.failure_status is not None:
            return self.failure_status
        return CANNOT_UNDERSTAND

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
        }


def _existing_result(
    existing: Instance, parsed: ParsedInstance, result: IngestResult
) -> IngestResult:
    if existing.sha256 == parsed.sha256:
        result.status = IngestStatus.DUPLICATE
        result.reason = "identical instance already stored"
    else:
        result.status = IngestStatus.CONFLICT
        result.reason = (
            "conflict: an instance with this SOP Instance UID and different content is "
            "already stored; the stored copy was kept"
        )
    result.instance_id = existing.pk
    return result


_batch = threading.local()


def _arrived(study_id: int, created_study: bool) -> None:
    pending = getattr(_batch, "pending", None)
    if pending is None:
        instance_stored.send(sender=Instance, study_id=study_id, created_study=created_study)
    else:
        pending[study_id] = pending.get(study_id, False) or created_study


@contextmanager
def _collecting(pending: dict[int, bool]) -> Iterator[None]:
    """Within the block, this thread's arrivals go into ``pending`` (unless an outer
    block collects them already)."""
    if getattr(_batch, "pending", None) is not None:
        yield
        return
    _batch.pending = pending
    try:
        yield
    finally:
        _batch.pending = None


def _send(pending: dict[int, bool]) -> None:
    for study_id, created in pending.items():
        instance_stored.send(sender=Instance, study_id=study_id, created_study=created)


@contextmanager
def coalesced_arrivals() -> Iterator[None]:
    """Within the block, ``instance_stored`` goes out once per study, when it ends.

    For batches whose receivers care about the study, not each instance (the
    worklist refreshes its row, the AI rules look at a new study): a STOW-RS
    request or an upload of 200 slices sends one signal instead of 200.
    ``created_study`` is True when any instance of the batch created the study.
    """
    pending: dict[int, bool] = {}
    try:
        with _collecting(pending):
            yield
    finally:
        _send(pending)  # nested: nothing here, the outer block sends


class ArrivalThrottle:
    """``instance_stored`` for a stream of single ingests (a C-STORE association, one
    instance per request): a new study is signalled at once, a known one at most every
    ``interval`` seconds, and whatever is still pending when ``flush`` is called.

    The worklist row of a new study appears with its first instance; its copies
    (instance counts, modalities) follow within ``interval`` and are complete once
    the stream ends, without a worklist refresh for every slice.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._pending: dict[int, bool] = {}
        self._sent: dict[int, float] = {}

    @contextmanager
    def collecting(self) -> Iterator[None]:
        try:
            with _collecting(self._pending):
                yield
        finally:
            now = time.monotonic()
            due = {
                study_id: created
                for study_id, created in self._pending.items()
                if created or now - self._sent.get(study_id, -self.interval) >= self.interval
            }
            for study_id in due:
                del self._pending[study_id]
                self._sent[study_id] = now
            _send(due)

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        _send(pending)


def ingest_instance(raw: bytes, *, name: str = "") -> IngestResult:
    """Validate and store one DICOM Part 10 file, exactly as received (see
    ``ingest_instances``)."""
    return ingest_instances([(name, raw)])[0]


@dataclass
class _Received:
    """A parsed instance on its way in."""

    result: IngestResult
    parsed: ParsedInstance
    raw: bytes
    relpath: str = ""


def _parse(name: str, raw: bytes) -> tuple[IngestResult, _Received | None]:
    result = IngestResult(status=IngestStatus.FAILED, name=name)
    raw = add_missing_preamble(raw)
    try:
        parsed = read_instance(raw, max_bytes=settings.DICOM_MAX_INSTANCE_BYTES)
    except DicomInputError as exc:
        result.reason = str(exc)
        result.failure_status = exc.status
        return result, None
    ds = parsed.dataset
    result.sop_instance_uid = str(ds.SOPInstanceUID)
    result.sop_class_uid = str(ds.SOPClassUID)
    result.study_instance_uid = str(ds.StudyInstanceUID)
    result.series_instance_uid = str(ds.SeriesInstanceUID)
    return result, _Received(result, parsed, raw)


def ingest_instances(items: Iterable[tuple[str, bytes]]) -> list[IngestResult]:
    """Validate and store ``(name, raw)`` DICOM Part 10 files, each exactly as received.

    One result per item, in order. Identical re-sends are no-ops; the same SOP
    Instance UID with different content is a conflict and leaves the stored copy
    alone (a UID twice in one batch: the second copy is judged against the
    first, as if sent after it). Each file and its row both exist or neither
    does, and a file is on disk (``fsync``) before its row is committed. A file
    sent without its 128-byte preamble (some DICOMweb clients do) is stored with
    a zeroed one, so that every stored file is valid Part 10.

    Raises
    ------
    django.db.DatabaseError
        When the database cannot take the rows (e.g. locked past its timeout):
        nothing of the batch is stored, no file is left behind.
    """
    results: list[IngestResult] = []

    def parsed() -> Iterator[_Received]:
        for name, raw in items:
            result, received = _parse(name, raw)
            results.append(result)
            if received is not None:
                yield received

    again = _store(parsed())
    while again:
        again = _store(again)
    return results


def _store(batch: Iterable[_Received]) -> list[_Received]:
    """Store the instances of ``batch``: each file written (its fsync started) as soon as
    it comes, so that the syncs overlap the parsing of the next ones; then one query
    for the instances already stored (their files are dropped unrenamed), and the rows
    of the others in one transaction. Returns the instances whose SOP Instance UID came
    a second time, for another round."""
    again: list[_Received] = []
    seen: set[str] = set()
    new: list[_Received] = []
    writes = storage.DurableWrites()
    try:
        for received in batch:
            result = received.result
            if result.sop_instance_uid in seen:
                again.append(received)
                continue
            seen.add(result.sop_instance_uid)
            received.relpath = storage.instance_relpath(
                result.study_instance_uid,
                result.series_instance_uid,
                result.sop_instance_uid,
                received.parsed.sha256,
            )
            writes.add(received.relpath, received.raw)
            received.raw = b""  # on disk now; not held for the rest of the batch
            new.append(received)
        existing = {
            row.sop_instance_uid: row
            for row in Instance.objects.filter(sop_instance_uid__in=seen).only(
                "pk", "sop_instance_uid", "sha256", "file_path"
            )
        }
        for index, received in enumerate(new):
            row = existing.get(received.result.sop_instance_uid)
            if row is not None:
                writes.drop(index)
                _existing_result(row, received.parsed, received.result)
    except BaseException:
        writes.discard()
        raise
    written = []
    for received, error in zip(new, writes.commit(), strict=True):
        if received.result.status != IngestStatus.FAILED:
            continue  # already stored: a duplicate or a conflict
        if error is None:
            written.append(received)
        else:
            received.result.reason = f"storage error: {error}"
            received.result.failure_status = OUT_OF_RESOURCES
    if written:
        _store_rows(written)
    return again


def _store_rows(batch: list[_Received]) -> None:
    """The rows of files already written; a file whose row is not stored is removed."""
    try:
        _insert_rows(batch)
    except IntegrityError:
        if len(batch) > 1:
            # A concurrent ingest stored one of them meanwhile: one at a time finds which.
            for received in batch:
                _store_rows([received])
            return
        _lost_race(batch[0])
    except BaseException:
        for received in batch:
            storage.remove(received.relpath)
        raise


def _lost_race(received: _Received) -> None:
    """The insert of one instance failed on its unique SOP Instance UID."""
    result = received.result
    existing = Instance.objects.filter(sop_instance_uid=result.sop_instance_uid).first()
    if existing is None:
        storage.remove(received.relpath)
        result.reason = "database integrity error while storing"
        result.failure_status = CANNOT_UNDERSTAND
        return
    if existing.file_path != received.relpath:
        storage.remove(received.relpath)
    _existing_result(existing, received.parsed, result)


def _insert_rows(batch: list[_Received]) -> None:
    # One instance: its refusal rolls the whole transaction back, no savepoint needed.
    hierarchy = Hierarchy(savepoints=len(batch) > 1)
    accepted, refused = [], []
    per_series: Counter[int] = Counter()
    per_study: Counter[int] = Counter()
    with transaction.atomic():
        rows = []
        for received in batch:
            try:
                study, series = hierarchy.resolve(received.parsed.dataset)
            except HierarchyError as exc:
                refused.append((received, exc))
                continue
            accepted.append(received)
            rows.append(instance_row(received.parsed, series, received.relpath))
            per_series[series.pk] += 1
            per_study[study.pk] += 1
        if refused and not hierarchy.savepoints:
            transaction.set_rollback(True)  # its one instance refused: none of its rows stay
        Instance.objects.bulk_create(rows)
        for series_pk, count in per_series.items():
            Series.objects.filter(pk=series_pk).update(
                number_of_series_related_instances=F("number_of_series_related_instances") + count
            )
        for study_pk, count in per_study.items():
            Study.objects.filter(pk=study_pk).update(
                number_of_study_related_instances=F("number_of_study_related_instances") + count
            )
            created = study_pk in hierarchy.created
            transaction.on_commit(lambda pk=study_pk, new=created: _arrived(pk, new))
    for received, row in zip(accepted, rows, strict=True):
        received.result.status = IngestStatus.STORED
        received.result.instance_id = row.pk
    for received, exc in refused:
        storage.remove(received.relpath)
        received.result.reason = str(exc)
        received.result.failure_status = exc.status
