"""Services for what helps write a report: macros and the drafted impression.

A drafted impression is an ``ImpressionSuggestion``: asked of MedGemma through the
AI app (``reading.ai.services.request_analysis``, task ``impression``), shown to the
radiologist, and inserted only once they accept or edit it. Its provenance (model,
job, whether the weights are random test weights) is kept with the decision.
"""

from __future__ import annotations

import importlib

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from reading.accounts.access import is_department_admin
from reading.reports import text as report_text
from reading.reports.models import ImpressionSuggestion, Macro, Report, SuggestionStatus
from reading.reports.services import (
    NotAllowed,
    ReportError,
    Unavailable,
    WrongStatus,
    _audit,
    _require_clinical,
    can_edit,
)

SS = SuggestionStatus
MAX_MACRO = 4000

# -- macros --------------------------------------------------------------------------


def macros_for_user(user) -> list[Macro]:
    """Personal macros first; a personal macro hides a department one of the same name."""
    rows = list(Macro.objects.filter(Q(owner=user) | Q(owner__isnull=True)))
    personal = {m.name for m in rows if m.owner_id is not None}
    rows = [m for m in rows if m.owner_id is not None or m.name not in personal]
    return sorted(rows, key=lambda m: (m.owner_id is None, m.name))


def save_macro(user, name: str, text: str, *, department: bool = False) -> Macro:
    """Create or replace a macro; department macros are for department admins."""
    if department and not is_department_admin(user):
        raise NotAllowed("Only department admins edit department macros.")
    if not department and not getattr(user, "is_authenticated", False):
        raise NotAllowed("Log in to keep macros.")
    name = " ".join((name or "").lower().split())[:64]
    if not name or not (text or "").strip():
        raise ReportError("A macro needs a name and a text.")
    if len(text) > MAX_MACRO:
        raise ReportError(f"A macro is at most {MAX_MACRO} characters.")
    owner = None if department else user
    try:
        with transaction.atomic():
            macro, _ = Macro.objects.update_or_create(
                name=name, owner=owner, defaults={"text": text}
            )
    except IntegrityError as exc:  # a concurrent save of the same name
        raise ReportError("A macro of that name was just saved; try again.") from exc
    return macro


def delete_macro(user, macro: Macro) -> None:
    if macro.owner_id is None:
        if not is_department_admin(user):
            raise NotAllowed("Only department admins delete department macros.")
    elif macro.owner_id != user.pk:
        raise NotAllowed("That is someone else's macro.")
    macro.delete()


# -- drafted impression --------------------------------------------------------------


def _ai_services():
    try:
        module = importlib.import_module("reading.ai.services")
    except ImportError:
        return None
    ready = hasattr(module, "request_analysis") and hasattr(module, "AIRequestError")
    return module if ready else None


def request_impression(report: Report, user) -> ImpressionSuggestion:
    """Ask MedGemma (a Huey task of the AI app) to summarise the findings."""
    _require_clinical(user)
    if not can_edit(user, report):
        raise WrongStatus("The report cannot take an impression now.")
    findings = report_text.display_text(report_text.section_text(report.text, "FINDINGS"))
    if not findings.strip():
        raise ReportError("Write the findings first.")
    ai = _ai_services()
    if ai is None:
        raise Unavailable("No AI engine is installed on this server.")
    with transaction.atomic():
        suggestion = ImpressionSuggestion.objects.create(
            report=report, findings=findings, requested_by=user
        )
        try:
            job = ai.request_analysis(
                user, report.study.study_instance_uid, "", "impression", text=findings
            )
        except ai.AIRequestError as exc:  # the AI app's validation refusal
            raise ReportError(str(exc)) from exc
        job_id = getattr(job, "pk", None) or getattr(job, "id", None)
        suggestion.provenance = {"source": "medgemma", "job_id": str(job_id) if job_id else ""}
        suggestion.save(update_fields=["provenance"])
        _audit(user, report, f"impression_requested:{suggestion.pk}")
    return suggestion


def refresh_suggestion(suggestion: ImpressionSuggestion) -> ImpressionSuggestion:
    """Pick up the AI job's answer once it is done (the job is the source of truth)."""
    job_id = (suggestion.provenance or {}).get("job_id")
    if suggestion.status != SS.REQUESTED or not job_id:
        return suggestion
    try:
        from reading.ai.models import AIJob, JobStatus
    except ImportError:
        return suggestion
    job = AIJob.objects.filter(pk=job_id).first()
    if job is None or job.status not in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED):
        return suggestion
    if job.status == JobStatus.DONE:
        result = job.result if isinstance(job.result, dict) else {}
        data = result.get("data")
        text = (data if isinstance(data, str) else "") or job.text or ""
        provenance = {**suggestion.provenance, **_job_provenance(job)}
        return record_impression_suggestion(suggestion.pk, text.strip(), provenance)
    return record_impression_suggestion(
        suggestion.pk, "", {"error": job.error_kind or job.status}, failed=True
    )


def _job_provenance(job) -> dict:
    """Which model said it (random test weights are labelled as such)."""
    return {
        "model": job.model_id,
        "version": job.model_revision,
        "device": job.device,
        "random_weights": bool(job.random_weights),
        "parse_status": (job.result or {}).get("status", "")
        if isinstance(job.result, dict)
        else "",
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def record_impression_suggestion(
    suggestion_id, text: str, provenance: dict, *, failed: bool = False
) -> ImpressionSuggestion:
    """The AI side's answer: store it for the radiologist's decision and tell the session."""
    from reading.reading_sessions import events as ev
    from reading.reading_sessions.eventlog import publish_to_study_sessions
    from reading.reports.serializers import suggestion_payload

    with transaction.atomic():
        suggestion = (
            ImpressionSuggestion.objects.select_for_update()
            .select_related("report")
            .get(pk=suggestion_id)
        )
        if suggestion.status != SS.REQUESTED:
            return suggestion
        suggestion.text = text
        suggestion.status = SS.FAILED if failed or not text else SS.PENDING
        suggestion.provenance = {**(suggestion.provenance or {}), **provenance}
        suggestion.save(update_fields=["text", "status", "provenance"])
        report = suggestion.report
        publish_to_study_sessions(
            report.study_id,
            ev.REPORT_SUGGESTION,
            {"report_id": str(report.pk), "suggestion": suggestion_payload(suggestion)},
        )
    return suggestion


def decide_impression(
    suggestion: ImpressionSuggestion, user, decision: str, text: str = ""
) -> ImpressionSuggestion:
    """Accept, accept with edits, or reject. The client inserts the accepted text."""
    _require_clinical(user)
    if decision not in (SS.ACCEPTED, SS.EDITED, SS.REJECTED):
        raise ReportError(f"Unknown decision {decision!r}.")
    with transaction.atomic():
        suggestion = ImpressionSuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if suggestion.status != SS.PENDING:
            raise WrongStatus("This suggestion was already decided or is not ready.")
        if decision == SS.EDITED and not (text or "").strip():
            raise ReportError("An edited impression needs its text.")
        suggestion.status = decision
        suggestion.final_text = (
            "" if decision == SS.REJECTED else (text if decision == SS.EDITED else suggestion.text)
        )
        suggestion.decided_by = user
        suggestion.decided_at = timezone.now()
        suggestion.save(update_fields=["status", "final_text", "decided_by", "decided_at"])
        report = Report.objects.select_related("study__patient").get(pk=suggestion.report_id)
        _audit(user, report, f"impression_{decision}:{suggestion.pk}")
    return suggestion
