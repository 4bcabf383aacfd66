"""DICOM C-STORE SCP (PS3.4 Annex B, Storage Service Class) on pynetdicom.

A scanner or PACS pushes instances; each one goes through ``ingest_instance``
exactly as received (the Part 10 file is rebuilt around the peer's encoded
dataset, so the transfer syntax it was sent in is kept). Verification (C-ECHO,
PS3.4 Annex A) answers connectivity checks.

pynetdicom serves every association in its own thread, and Django's database
connections are per thread: each association closes its connections when it
ends, and a connection broken meanwhile is dropped before the next store.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from reading.studies.batch import BatchSummary, record_store_events
from reading.studies.dicomio import dataset_to_part10
from reading.studies.services import IngestResult, IngestStatus, ingest_instance

log = logging.getLogger(__name__)

# Storage statuses (PS3.4 B.2.3) and general statuses (PS3.7 C).
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources
STATUS_CANNOT_UNDERSTAND = 0xC000  # Error: Cannot understand
STATUS_DUPLICATE_SOP_INSTANCE = 0x0111  # same SOP Instance UID, different content
STATUS_PROCESSING_FAILURE = 0x0110


def make_ae(ae_title: str) -> AE:
    """An AE accepting every storage SOP class in every transfer syntax, plus C-ECHO."""
    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    # Modalities send large multi-frame objects; no maximum PDU length on our side.
    ae.maximum_pdu_size = 0
    return ae


def failure_status(result: IngestResult) -> int:
    """The C-STORE status for a result that was not stored."""
    if result.status == IngestStatus.CONFLICT:
        return STATUS_DUPLICATE_SOP_INSTANCE
    if result.failure_status is not None:
        return result.failure_status
    reason = result.reason
    if reason.startswith(("too large", "storage error")):
        return STATUS_OUT_OF_RESOURCES
    return STATUS_CANNOT_UNDERSTAND


def _status(code: int, comment: str = "") -> Dataset:
    status = Dataset()
    status.Status = code
    if comment:
        # ErrorComment is LO: at most 64 characters (PS3.7 C.4.2.1.6).
        status.ErrorComment = comment[:64]
    return status


class StoreSCP:
    """The C-STORE and association handlers; one instance serves a listener."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._summaries: dict[int, BatchSummary] = {}
        self.received = 0

    def handlers(self) -> list:
        return [
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_C_ECHO, self.handle_echo),
            (evt.EVT_RELEASED, self.handle_end),
            (evt.EVT_ABORTED, self.handle_end),
            # A dropped TCP connection ends an association without either event above;
            # this one fires in the association's network thread.
            (evt.EVT_CONN_CLOSE, self.handle_end),
        ]

    def handle_echo(self, event) -> int:
        return STATUS_SUCCESS

    def _summary(self, assoc) -> BatchSummary:
        with self._lock:
            return self._summaries.setdefault(id(assoc), BatchSummary())

    def handle_store(self, event) -> Dataset | int:
        close_old_connections()
        requestor = event.assoc.requestor
        name = f"{requestor.ae_title}@{requestor.address}"
        try:
            raw = event.encoded_dataset()
        except Exception:
            # The encoded bytes are unavailable (e.g. a dataset built locally): re-encode.
            try:
                ds = event.dataset
                ds.file_meta = event.file_meta
                raw = dataset_to_part10(ds)
            except Exception as exc:
                log.warning("C-STORE from %s: cannot decode the dataset: %s", name, exc)
                return _status(STATUS_CANNOT_UNDERSTAND, f"cannot decode dataset: {exc}")
        try:
            result = ingest_instance(raw, name=name)
        except Exception as exc:
            log.exception("C-STORE from %s failed", name)
            return _status(STATUS_PROCESSING_FAILURE, f"processing failure: {type(exc).__name__}")
        with self._lock:
            self.received += 1
        self._summary(event.assoc).add(result)
        if result.ok:
            log.debug("C-STORE from %s: %s %s", name, result.status, result.sop_instance_uid)
            return STATUS_SUCCESS
        log.warning("C-STORE from %s refused (%s): %s", name, result.status, result.reason)
        return _status(failure_status(result), result.reason)

    def handle_end(self, event) -> None:
        """Association over: audit what it stored (once), close this thread's DB connections."""
        with self._lock:
            summary = self._summaries.pop(id(event.assoc), None)
        try:
            if summary is not None:
                requestor = event.assoc.requestor
                log.info(
                    "association from %s@%s ended: %s",
                    requestor.ae_title.strip(),
                    requestor.address,
                    ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n),
                )
                record_store_events(
                    summary, detail=f"c-store:{requestor.ae_title.strip()}@{requestor.address}"
                )
        except Exception:
            log.exception("audit of a C-STORE association failed")
        finally:
            connections.close_all()


def start_listener(
    ae_title: str, port: int, host: str = "0.0.0.0", *, block: bool = True
) -> tuple[AE, StoreSCP, object]:
    """Serve C-STORE/C-ECHO on ``host:port``; with ``block=False`` returns the server."""
    ae = make_ae(ae_title)
    scp = StoreSCP()
    server = ae.start_server((host, port), block=block, evt_handlers=scp.handlers())
    return ae, scp, server
