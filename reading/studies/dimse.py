"""DICOM listener on pynetdicom: C-STORE SCP (PS3.4 Annex B), Query/Retrieve SCP
(PS3.4 Annex C, in ``qr.py``) and Verification (C-ECHO, PS3.4 Annex A).

A scanner or PACS pushes instances; each one goes through ``ingest_instance``
exactly as received (the Part 10 file is rebuilt around the peer's encoded
dataset, so the transfer syntax it was sent in is kept). A workstation or
another PACS queries (C-FIND) and pulls (C-MOVE to a configured destination,
C-GET on its own association).

Which peers may talk to it: ``DICOM_ALLOWED_PEERS`` ("AE" or "AE@host"). When
set, associations from other calling AE titles are rejected (PS3.8 7.1.1.9,
"calling AE title not recognized") and an AE calling from another host than
its entry names is refused every operation (0x0124, Refused: Not authorized).
When empty (the embedded default) any peer may store and query: Q/R answers a
node, not a user, so a deployment must list its peers. Every association,
accepted or rejected, is logged and audited.

pynetdicom serves every association in its own thread, and Django's database
connections are per thread: an association keeps its connection from one store
to the next, closes it when it ends, and a connection broken meanwhile is
dropped before the next store. A C-STORE is answered once its instance is on
disk and its rows are committed; the worklist hears of a new study at once and
of further instances at most once a second and when the association ends
(``ArrivalThrottle``), not once per slice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification

from reading.studies import qr
from reading.studies.batch import BatchSummary, record_store_events
from reading.studies.dicomio import CANNOT_UNDERSTAND, dataset_to_part10
from reading.studies.services import (
    ArrivalThrottle,
    ingest_instance,
)

log = logging.getLogger(__name__)

# Storage statuses (PS3.4 B.2.3) and general statuses (PS3.7 C).
STATUS_SUCCESS = 0x0000
STATUS_PROCESSING_FAILURE = 0x0110
STATUS_NOT_AUTHORIZED = 0x0124  # Refused: Not authorized (PS3.7 C.4.2.1.6)


@dataclass(frozen=True)
class PeerPolicy:
    """``DICOM_ALLOWED_PEERS`` as (AE title, host or None) pairs; empty allows anyone."""

    peers: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def from_settings(cls) -> PeerPolicy:
        peers = []
        for entry in settings.DICOM_ALLOWED_PEERS:
            ae_title, _, host = entry.partition("@")
            if ae_title.strip():
                peers.append((ae_title.strip(), host.strip() or None))
        return cls(tuple(peers))

    @property
    def ae_titles(self) -> list[str]:
        return sorted({ae for ae, _ in self.peers})

    def allows(self, ae_title: str, address: str) -> bool:
        if not self.peers:
            return True
        ae_title = ae_title.strip()
        return any(ae == ae_title and host in (None, address) for ae, host in self.peers)


def make_ae(ae_title: str, policy: PeerPolicy | None = None) -> AE:
    """An AE for every storage SOP class in every transfer syntax, Q/R and C-ECHO.

    The storage contexts also accept the SCP role a C-GET requestor proposes
    for them (PS3.7 D.3.3.4), so that sub-operations go back on its association.
    """
    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(
            context.abstract_syntax, ALL_TRANSFER_SYNTAXES, scu_role=False, scp_role=True
        )
    for sop_class in (*qr.QR_FIND, *qr.QR_MOVE, *qr.QR_GET):
        ae.add_supported_context(sop_class)
    ae.add_supported_context(Verification)
    if policy is not None and policy.peers:
        ae.require_calling_aet = policy.ae_titles
    # Modalities send large multi-frame objects; no maximum PDU length on our side.
    ae.maximum_pdu_size = 0
    return ae


def _status(code: int, comment: str = "") -> Dataset:
    status = Dataset()
    status.Status = code
    if comment:
        # ErrorComment is LO: at most 64 characters (PS3.7 C.4.2.1.6).
        status.ErrorComment = comment[:64]
    return status


class StoreSCP:
    """The C-STORE and association handlers; one instance serves a listener."""

    def __init__(self, ae_title: str = "", policy: PeerPolicy | None = None) -> None:
        self._lock = threading.Lock()
        self._summaries: dict[int, BatchSummary] = {}
        self._arrivals: dict[int, ArrivalThrottle] = {}
        self.received = 0
        self.ae_title = ae_title
        self.policy = policy or PeerPolicy()

    def handlers(self) -> list:
        return [
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_C_ECHO, self.handle_echo),
            (evt.EVT_C_FIND, self.handle_find),
            (evt.EVT_C_MOVE, self.handle_move),
            (evt.EVT_C_GET, self.handle_get),
            (evt.EVT_ACCEPTED, self.handle_accepted),
            (evt.EVT_REJECTED, self.handle_rejected),
            (evt.EVT_RELEASED, self.handle_end),
            (evt.EVT_ABORTED, self.handle_end),
            # A dropped TCP connection ends an association without either event above;
            # this one fires in the association's network thread.
            (evt.EVT_CONN_CLOSE, self.handle_end),
        ]

    def handle_echo(self, event) -> int:
        return STATUS_SUCCESS

    def _allowed(self, event) -> bool:
        requestor = event.assoc.requestor
        return self.policy.allows(requestor.ae_title, requestor.address)

    def handle_find(self, event):
        if not self._allowed(event):
            yield _status(STATUS_NOT_AUTHORIZED, "this AE may not query from this host"), None
            return
        yield from qr.handle_find(event, self.ae_title)

    def handle_move(self, event):
        if not self._allowed(event):
            yield None, None  # nothing is sent to a peer that may not ask
            return
        yield from qr.handle_move(event)

    def handle_get(self, event):
        if not self._allowed(event):
            yield 1
            yield _status(STATUS_NOT_AUTHORIZED, "this AE may not retrieve from this host"), None
            return
        yield from qr.handle_get(event)

    def handle_accepted(self, event) -> None:
        self._audit_association(event, "accepted")

    def handle_rejected(self, event) -> None:
        self._audit_association(event, "rejected")
        connections.close_all()

    def _audit_association(self, event, outcome: str) -> None:
        """One audit record per association (IHE ATNA spirit), accepted or rejected."""
        from reading.audit.models import AuditAction
        from reading.audit.services import record_access

        requestor = event.assoc.requestor
        detail = f"dicom-association {outcome}: {requestor.ae_title.strip()}@{requestor.address}"
        log.info("%s -> %s", detail, self.ae_title)
        try:
            close_old_connections()
            record_access(None, AuditAction.ADMIN, detail=detail)
        except Exception:
            log.exception("audit of a DICOM association failed")

    def _summary(self, assoc) -> BatchSummary:
        with self._lock:
            return self._summaries.setdefault(id(assoc), BatchSummary())

    def _throttle(self, assoc) -> ArrivalThrottle:
        with self._lock:
            return self._arrivals.setdefault(id(assoc), ArrivalThrottle())

    def handle_store(self, event) -> Dataset | int:
        _drop_broken_connections()
        requestor = event.assoc.requestor
        name = f"{requestor.ae_title}@{requestor.address}"
        if not self._allowed(event):
            log.warning("C-STORE from %s refused: not an allowed peer", name)
            return _status(STATUS_NOT_AUTHORIZED, "this AE may not store from this host")
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
                return _status(CANNOT_UNDERSTAND, f"cannot decode dataset: {exc}")
        try:
            with self._throttle(event.assoc).collecting():
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
        return _status(result.dicom_status, result.reason)

    def handle_end(self, event) -> None:
        """Association over: audit what it stored (once), close this thread's DB connections."""
        with self._lock:
            summary = self._summaries.pop(id(event.assoc), None)
            arrivals = self._arrivals.pop(id(event.assoc), None)
        try:
            if arrivals is not None:
                arrivals.flush()
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


def _drop_broken_connections() -> None:
    """Close this thread's database connections that broke (``close_old_connections``
    without the ``CONN_MAX_AGE`` ageing, which would reconnect for every store)."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
            conn.close()
        elif conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()


def start_listener(
    ae_title: str, port: int, host: str | None = None, *, block: bool = True
) -> tuple[AE, StoreSCP, object]:
    """Serve C-STORE, Q/R and C-ECHO on ``host:port`` (``DICOM_HOST`` by default).

    With ``block=False`` returns the server.
    """
    policy = PeerPolicy.from_settings()
    ae = make_ae(ae_title, policy)
    scp = StoreSCP(ae_title, policy)
    address = (host or settings.DICOM_HOST, port)
    server = ae.start_server(address, block=block, evt_handlers=scp.handlers())
    return ae, scp, server
