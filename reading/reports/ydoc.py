"""The report's text as a Yjs document (CRDT), kept on the server with pycrdt.

One ``Y.Text`` named ``"text"`` per report. The durable truth is the database:
``Report.ydoc_state`` (a compacted snapshot) plus the ``ReportUpdate`` rows after it,
so a closed tab or a restarted server loses nothing. Every process holding a socket
keeps a ``LiveDoc`` (its copy of the document) and catches it up from the database
under the report's row lock before each write, so the plain text it materialises into
``Report.text`` always includes every other process's edits.

Writes happen here, in a transaction, and are broadcast to ``report.<id>`` only after
commit (the consumers forward them). Other apps change a report's text only through
``edit_text`` / ``replace_text``, never by writing ``Report.text`` once a document
exists.
"""

from __future__ import annotations

import difflib
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from pycrdt import Doc, Text

from reading.realtime import send_on_commit
from reading.reports.models import Report, ReportStatus, ReportUpdate

TEXT = "text"
# Fold the update log into ``ydoc_state`` once it is this long: a newcomer then loads
# one snapshot and a short tail instead of every keystroke since the report began.
COMPACT_AFTER = 200
LOCKED_STATUSES = frozenset({ReportStatus.FINAL, ReportStatus.ADDENDED})
EMPTY_UPDATE = b"\x00\x00"


class EditRefused(Exception):
    """This user may not change this report's text now; ``reason`` says why
    (``final``/``addended``: signed and immutable; ``not_allowed``: e.g. a resident
    on a preliminary)."""

    def __init__(self, reason: str):
        super().__init__(f"The report's text cannot be changed ({reason}).")
        self.reason = reason


def refusal_reason(report: Report) -> str:
    return report.status if report.status in LOCKED_STATUSES else "not_allowed"


def group_for_report(report_id) -> str:
    return f"report.{report_id}"


@dataclass
class LiveDoc:
    """A process's copy of one report's document, and how far it has read the log."""

    report_id: object
    doc: Doc = field(default_factory=Doc)
    seen_id: int = 0  # the last ReportUpdate applied
    state: bytes = b""  # the ydoc_state last applied

    @property
    def ytext(self) -> Text:
        return self.doc.get(TEXT, type=Text)

    def text(self) -> str:
        return str(self.ytext)

    def apply(self, update: bytes) -> None:
        if update and update != EMPTY_UPDATE:
            self.doc.apply_update(update)

    def reset(self) -> None:
        self.doc, self.seen_id, self.state = Doc(), 0, b""

    def catch_up(self, report: Report) -> None:
        """Apply what the database holds and this copy has not seen (idempotent: a
        Yjs update applied twice changes nothing)."""
        state = bytes(report.ydoc_state or b"")
        if state and state != self.state:
            self.apply(state)
            self.state = state
        rows = ReportUpdate.objects.filter(report_id=report.pk, id__gt=self.seen_id)
        for update_id, data in rows.order_by("id").values_list("id", "data"):
            self.apply(bytes(data))
            self.seen_id = update_id


def utf8_offset(text: str, index: int) -> int:
    """pycrdt's ``Text`` counts UTF-8 bytes (Yjs in the browser counts UTF-16 units):
    the offset of character ``index`` of ``text`` for pycrdt. ``«`` and ``»`` are two
    bytes each, so a character index would land inside them."""
    return len(text[:index].encode("utf-8"))


def _locked(report_id) -> Report:
    return Report.objects.select_for_update().get(pk=report_id)


def _initialise(report: Report) -> None:
    """First use: the document starts as ``Report.text`` (the rendered template).

    Under the row lock and stored at once, so every process starts from the same
    items; two processes each inserting the text would double it.
    """
    if report.ydoc_state or ReportUpdate.objects.filter(report_id=report.pk).exists():
        return
    seed = Doc()
    ytext = seed.get(TEXT, type=Text)
    if report.text:
        ytext += report.text
    state = seed.get_update()
    Report.objects.filter(pk=report.pk).update(ydoc_state=state)
    report.ydoc_state = state


def open_document(report_id) -> LiveDoc:
    """Load a report's document (creating it from ``Report.text`` on first use)."""
    live = LiveDoc(report_id)
    with transaction.atomic():
        report = _locked(report_id)
        _initialise(report)
        live.catch_up(report)
    return live


def refresh(live: LiveDoc) -> None:
    """Catch ``live`` up with the database without writing (e.g. before a sync reply)."""
    report = Report.objects.only("id", "ydoc_state").get(pk=live.report_id)
    live.catch_up(report)


def _services():
    # Imported late: the services import this module (edit_text, broadcast_status).
    try:
        from reading.reports import services
    except ImportError:  # the sign-off services are not there yet
        return None
    return services


def may_edit(user, report: Report) -> bool:
    """Whether ``user`` may change the text now (status and role: the services say)."""
    if report.status in LOCKED_STATUSES:
        return False
    services = _services()
    if user is None or services is None or not hasattr(services, "can_edit"):
        return True
    return services.can_edit(user, report)


def _save_text(report: Report, text: str, user) -> None:
    """Materialise the plain text through the reports service (the one writer)."""
    if report.text == text:
        return
    services = _services()
    if services is not None and hasattr(services, "save_text") and user is not None:
        services.save_text(report, text, user)
    else:
        Report.objects.filter(pk=report.pk).update(text=text)
    report.text = text


def _record(live: LiveDoc, report: Report, update: bytes, user, origin: str | None) -> str:
    """Store ``update`` (already applied to ``live``), materialise, compact, broadcast."""
    row = ReportUpdate.objects.create(report_id=report.pk, data=update, user=user)
    live.seen_id = row.pk
    text = live.text()
    _save_text(report, text, user)
    if ReportUpdate.objects.filter(report_id=report.pk).count() >= COMPACT_AFTER:
        compact(live, report)
    send_on_commit(
        group_for_report(report.pk),
        # Text, not bytes: the message may travel through the JSON outbox (realtime.py).
        {"type": "report.update", "update": b64encode(update).decode(), "origin": origin or ""},
    )
    return text


def apply_client_update(live: LiveDoc, update: bytes, user, origin: str | None = None) -> str:
    """Apply a Yjs update sent by an editor; returns the materialised text.

    Raises ``EditRefused`` when the report is final or this user may not edit it:
    the update is then neither applied, stored nor broadcast.
    """
    with transaction.atomic():
        report = _locked(live.report_id)
        if not may_edit(user, report):
            raise EditRefused(refusal_reason(report))
        live.catch_up(report)
        live.apply(update)
        try:
            return _record(live, report, update, user, origin)
        except Exception as exc:
            # The copy now holds an update the database does not: start it afresh.
            live.reset()
            code = getattr(exc, "code", None)  # the services' ReportError types
            if code is None:
                raise
            if code in ("report_locked", "not_allowed"):
                code = refusal_reason(report)
            raise EditRefused(code) from exc


def edit_text(report_id, edit: Callable[[Text], None], user=None) -> str:
    """Change the text on the server (accepting a suggestion, applying a macro...).

    ``user`` None means the server itself (no role check, never after final).
    ``edit`` receives the ``Y.Text`` and changes it; the change reaches every open
    editor as an ordinary Yjs update. Returns the new text.
    """
    with transaction.atomic():
        report = _locked(report_id)
        if not may_edit(user, report):
            raise EditRefused(refusal_reason(report))
        live = LiveDoc(report_id)
        _initialise(report)
        live.catch_up(report)
        before = live.doc.get_state()
        edit(live.ytext)
        update = live.doc.get_update(before)
        if update == EMPTY_UPDATE:
            return live.text()
        return _record(live, report, update, user, None)


def replace_text(report_id, new_text: str, user=None) -> str:
    """Make the text equal ``new_text`` with the smallest edits (others' cursors and
    concurrent typing outside the changed runs survive)."""

    def edit(ytext: Text) -> None:
        old = str(ytext)
        matcher = difflib.SequenceMatcher(a=old, b=new_text, autojunk=False)
        # Back to front, so earlier offsets stay valid.
        for op, a0, a1, b0, b1 in reversed(matcher.get_opcodes()):
            if op == "equal":
                continue
            start, end = utf8_offset(old, a0), utf8_offset(old, a1)
            if end > start:
                del ytext[start:end]
            if b1 > b0:
                ytext.insert(start, new_text[b0:b1])

    return edit_text(report_id, edit, user)


def document_text(report_id) -> str:
    """The text as the document holds it (equals ``Report.text`` after any write)."""
    live = LiveDoc(report_id)
    report = Report.objects.get(pk=report_id)
    if not report.ydoc_state and not report.updates.exists():
        return report.text
    live.catch_up(report)
    return live.text()


def compact(live: LiveDoc, report: Report) -> None:
    """Fold the update log into ``ydoc_state``. Call under the row lock with ``live``
    caught up: the snapshot then holds every stored update, which can go."""
    state = live.doc.get_update()
    Report.objects.filter(pk=report.pk).update(ydoc_state=state)
    ReportUpdate.objects.filter(report_id=report.pk, id__lte=live.seen_id).delete()
    report.ydoc_state = state
    live.state = state


def broadcast_status(report_id, status: str) -> None:
    """Tell open editors the report's status changed (after commit); final or
    addended makes them read-only. The sign-off service calls this."""
    send_on_commit(group_for_report(report_id), {"type": "report.status", "status": status})
