"""Writes to reports: the only code that saves Report, ReportVersion and critical-result
rows or emits report events.

Sign-off: draft -> preliminary (a resident signs and routes it to an attending) ->
final (attendings only, with an attestation) -> addended (when an addendum, itself a
report, is signed final). Final text is immutable. Every sign is a save point
(``ReportVersion``), an audit event, a worklist update and a ``report.status`` event
to the sessions on the study, all after commit.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.reports import text as report_text
from reading.reports.errors import (  # noqa: F401 (re-exported: callers use services.X)
    NotAllowed,
    ReportError,
    ReportLocked,
    Unavailable,
    UnfilledFields,
    WrongStatus,
)
from reading.reports.models import (
    CommunicationMethod,
    CriticalCommunication,
    CriticalResult,
    Report,
    ReportStatus,
    ReportTemplate,
    ReportVersion,
    Severity,
    VersionReason,
)
from reading.reports.report_templates import choose_template, save_template  # noqa: F401
from reading.studies.access import can_read_images, get_study_for_user

log = logging.getLogger(__name__)

RS = ReportStatus
LOCKED = frozenset({RS.FINAL, RS.ADDENDED})
ADDENDUM_TEXT = "ADDENDUM:\n«___»\n"
MAX_TEXT = 100_000


# -- helpers -------------------------------------------------------------------------


def _require_clinical(user) -> None:
    if not can_read_images(user):
        raise NotAllowed("Only attendings and residents write reports.")


def _name(user) -> str:
    return str(user) if user is not None else ""


def _audit(user, report: Report, what: str) -> None:
    record_access(user, AuditAction.REPORT, study=report.study, detail=f"{what}:{report.pk}")


def _locked_row(report: Report) -> Report:
    """Re-read the row under a lock; the caller's object gets the fresh values."""
    row = Report.objects.select_for_update().get(pk=report.pk)
    for field in (
        "status",
        "text",
        "preliminary_signed_by_id",
        "preliminary_signed_at",
        "attending_id",
        "final_signed_by_id",
        "final_signed_at",
        "attestation",
    ):
        setattr(report, field, getattr(row, field))
    return report


def _announce(report: Report, actor) -> None:
    """The sessions on the study, open editors, the worklist (each sends after commit)."""
    from reading.reading_sessions import events as ev
    from reading.reading_sessions.eventlog import publish_to_study_sessions
    from reading.reports import ydoc
    from reading.reports.serializers import report_payload
    from reading.worklist.transitions import set_report_status

    fresh = Report.objects.get(pk=report.pk)
    publish_to_study_sessions(report.study_id, ev.REPORT_STATUS, report_payload(fresh), actor)
    ydoc.broadcast_status(report.pk, fresh.status)
    original = fresh.parent or fresh
    reading = {RS.PRELIMINARY: "preliminary", RS.FINAL: "final", RS.ADDENDED: "addended"}
    if fresh.parent_id is None or fresh.status == RS.FINAL:
        set_report_status(
            report.study, original.status, reading_status=reading.get(original.status)
        )


# -- the report ----------------------------------------------------------------------


def get_or_create_report(
    user, study_uid: str, template_slug: str | None = None
) -> tuple[Report, bool]:
    """The study's report (not addenda), created as a draft from its template if none.

    Returns ``(report, created)``.
    """
    _require_clinical(user)
    study = get_study_for_user(user, study_uid)
    existing = Report.objects.filter(study=study, parent__isnull=True).first()
    if existing is not None:
        return existing, False
    template = None
    if template_slug:
        template = ReportTemplate.objects.filter(slug=template_slug, is_active=True).first()
    template = template or choose_template(study)
    text = report_text.render_template(template.sections) if template else ""
    with transaction.atomic():
        report, created = Report.objects.get_or_create(
            study=study,
            parent=None,
            defaults={"text": text, "template": template, "created_by": user},
        )
        if created:
            _audit(user, report, "create")
            _announce(report, user)
    return report, created


def can_edit(user, report: Report) -> bool:
    """Drafts: attendings and residents. Preliminary: attendings. Final: nobody."""
    if report.status in LOCKED or not can_read_images(user):
        return False
    if report.status == RS.PRELIMINARY:
        return bool(user.is_attending)
    return True


def save_text(report: Report, text: str, user) -> None:
    """Materialise the co-edited text (called by the co-editing consumer on each change)."""
    if report.status in LOCKED:
        raise ReportLocked("The report is signed final; add an addendum instead.")
    if not can_edit(user, report):
        raise NotAllowed("You may not edit this report now.")
    if len(text) > MAX_TEXT:
        raise ReportError(f"The report is longer than {MAX_TEXT} characters.")
    updated = Report.objects.filter(pk=report.pk).exclude(status__in=LOCKED)
    if not updated.update(text=text, updated_at=timezone.now()):
        raise ReportLocked("The report was signed meanwhile.")
    report.text = text


def _next_number(report: Report) -> int:
    top = report.versions.aggregate(n=Max("number"))["n"]
    return (top or 0) + 1


def _add_version(report: Report, user, reason: str) -> ReportVersion:
    return ReportVersion.objects.create(
        report=report,
        number=_next_number(report),
        text=report.text,
        status=report.status,
        reason=reason,
        created_by=user,
    )


def create_version(report: Report, user, reason: str = VersionReason.SAVE) -> ReportVersion:
    """A save point of the current text. An unchanged text returns the latest version."""
    _require_clinical(user)
    with transaction.atomic():
        _locked_row(report)
        latest = report.versions.order_by("-number").first()
        if reason == VersionReason.SAVE and latest is not None and latest.text == report.text:
            return latest
        version = _add_version(report, user, reason)
    return version


def _check_fields(report: Report, allow_unfilled: bool) -> None:
    missing = report_text.unfilled(report.text)
    if missing and not allow_unfilled:
        raise UnfilledFields(missing)


def sign_preliminary(
    report: Report, resident, attending=None, *, allow_unfilled: bool = False
) -> Report:
    """The resident (or an attending) signs a draft preliminary, routed to ``attending``."""
    _require_clinical(resident)
    if attending is not None and not getattr(attending, "is_attending", False):
        raise ReportError("Preliminary reports are routed to an attending.")
    with transaction.atomic():
        _locked_row(report)
        if report.status != RS.DRAFT:
            raise WrongStatus(
                f"A {report.get_status_display().lower()} report cannot be signed preliminary."
            )
        _check_fields(report, allow_unfilled)
        report.status = RS.PRELIMINARY
        report.preliminary_signed_by = resident
        report.preliminary_signed_at = timezone.now()
        report.attending = attending or (resident if resident.is_attending else None)
        report.save(
            update_fields=[
                "status",
                "preliminary_signed_by",
                "preliminary_signed_at",
                "attending",
                "updated_at",
            ]
        )
        _add_version(report, resident, VersionReason.SIGN_PRELIMINARY)
        _audit(resident, report, "sign_preliminary")
        _announce(report, resident)
    return report


def attestation_for(report: Report, attending) -> str:
    if report.preliminary_signed_by_id and report.preliminary_signed_by_id != attending.pk:
        return (
            f"I, {_name(attending)}, have personally reviewed the images and the preliminary "
            f"report of {_name(report.preliminary_signed_by)}, edited it where needed, "
            "and agree with the final report."
        )
    return f"I, {_name(attending)}, have personally reviewed the images and this report."


def sign_final(report: Report, attending, *, allow_unfilled: bool = False) -> Report:
    """An attending signs final: the text becomes immutable; an addendum's original
    becomes addended. The DICOM SR is stored into the study afterwards."""
    if not getattr(attending, "is_attending", False):
        raise NotAllowed("Only attendings sign reports final.")
    with transaction.atomic():
        _locked_row(report)
        if report.status not in (RS.DRAFT, RS.PRELIMINARY):
            raise WrongStatus(
                f"A {report.get_status_display().lower()} report cannot be signed final."
            )
        _check_fields(report, allow_unfilled)
        report.status = RS.FINAL
        report.final_signed_by = attending
        report.final_signed_at = timezone.now()
        report.attending = attending
        report.attestation = attestation_for(report, attending)
        report.save(
            update_fields=[
                "status",
                "final_signed_by",
                "final_signed_at",
                "attending",
                "attestation",
                "updated_at",
            ]
        )
        _add_version(report, attending, VersionReason.SIGN_FINAL)
        if report.parent_id:
            Report.objects.filter(pk=report.parent_id).update(
                status=RS.ADDENDED, updated_at=timezone.now()
            )
        _audit(attending, report, "sign_final")
        _announce(report, attending)
    try:
        from reading.reports.exports import store_report_sr

        store_report_sr(report, actor=attending)
    except Exception:  # the signature stands; the SR can be stored again (POST .../sr/)
        log.exception("storing the SR of report %s failed", report.pk)
    return report


def create_addendum(report: Report, user) -> tuple[Report, bool]:
    """An addendum to a final report (its own report); an unsigned one is reused."""
    _require_clinical(user)
    original = report.parent or report
    if original.status not in LOCKED:
        raise WrongStatus("Only final reports take addenda; edit the report instead.")
    with transaction.atomic():
        Report.objects.select_for_update().get(pk=original.pk)
        open_one = original.addenda.exclude(status__in=LOCKED).first()
        if open_one is not None:
            return open_one, False
        addendum = Report.objects.create(
            study_id=original.study_id, parent=original, text=ADDENDUM_TEXT, created_by=user
        )
        _audit(user, original, f"addendum:{addendum.pk}")
        _announce(addendum, user)
    return addendum, True


# -- critical results ----------------------------------------------------------------


def flag_critical(report: Report, user, finding: str, severity: str = Severity.CRITICAL):
    """Flag the report critical; the loop stays open until a read-back is recorded."""
    _require_clinical(user)
    finding = (finding or "").strip()
    if not finding:
        raise ReportError("Say what the critical finding is.")
    if severity not in Severity.values:
        raise ReportError(f"Unknown severity {severity!r}.")
    original = report.parent or report
    with transaction.atomic():
        critical, _ = CriticalResult.objects.update_or_create(
            report=original,
            defaults={
                "finding": finding[:4000],
                "severity": severity,
                "flagged_by": user,
                "flagged_at": timezone.now(),
                "acknowledged_at": None,
            },
        )
        _audit(user, original, "critical")
        _announce(original, user)
    return critical


def record_communication(
    report: Report,
    user,
    recipient: str,
    method: str,
    when: datetime | None = None,
    *,
    acknowledged: bool = True,
    notes: str = "",
) -> CriticalCommunication:
    """Who was told, how and when; an acknowledged (read back) communication closes the loop."""
    _require_clinical(user)
    original = report.parent or report
    critical = CriticalResult.objects.filter(report=original).first()
    if critical is None:
        raise WrongStatus("The report is not flagged critical.")
    recipient = (recipient or "").strip()
    if not recipient:
        raise ReportError("Say who was told.")
    if method not in CommunicationMethod.values:
        raise ReportError(f"Unknown method {method!r}.")
    when = when or timezone.now()
    if timezone.is_naive(when):
        raise ReportError("The time needs a time zone.")
    with transaction.atomic():
        communication = CriticalCommunication.objects.create(
            critical=critical,
            recipient=recipient[:200],
            method=method,
            communicated_at=when,
            acknowledged=acknowledged,
            notes=(notes or "")[:500],
            recorded_by=user,
        )
        if acknowledged and critical.acknowledged_at is None:
            CriticalResult.objects.filter(pk=critical.pk).update(acknowledged_at=when)
        _audit(user, original, f"critical_communication:{communication.pk}")
        _announce(original, user)
    return communication
