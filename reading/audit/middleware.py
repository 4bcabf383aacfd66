"""Audit every read of patient data, and keep patient data out of caches.

``AuditReads`` writes one record (de-duplicated per user, study, action and
route for a minute by ``record_access``) for each successful GET of a route in
``AUDITED_ROUTES`` and of the Django admin's pages of models holding patient
data. Routes whose views audit themselves (DICOMweb, the viewer, the study page,
exports) are in ``SELF_AUDITED``, and routes without patient data in
``NO_PATIENT_DATA``: ``tests/audit/test_coverage.py`` fails for a route in none
of them, so a new route cannot forget its audit.

``NoStore`` sends ``Cache-Control: no-store`` on every authenticated answer
that is not a static file: pages, APIs and DICOMweb all carry patient data, and
a shared workstation's browser cache must not keep it.
"""

from __future__ import annotations

from django.utils.cache import patch_cache_control

from reading.audit.models import AuditAction
from reading.audit.services import record_access

# url name -> (action, detail)
AUDITED_ROUTES = {
    "worklist:home": (AuditAction.VIEW, "worklist-page"),
    "worklist_api:list": (AuditAction.SEARCH, "worklist"),
    "worklist_api:row": (AuditAction.VIEW, "worklist-row"),
    "annotations:study-annotations": (AuditAction.VIEW, "annotations"),
    "annotations:detail": (AuditAction.VIEW, "annotation"),
    "reading_sessions:list": (AuditAction.VIEW, "sessions"),
    "reading_sessions:detail": (AuditAction.VIEW, "session"),
    "reading_sessions:events": (AuditAction.VIEW, "session-events"),
    "reading_sessions:events-slash": (AuditAction.VIEW, "session-events"),
    "reading_sessions:chat": (AuditAction.VIEW, "chat"),
    "reading_sessions:study-chat": (AuditAction.VIEW, "chat"),
    "reports:study-report": (AuditAction.REPORT, "report-read"),
    "reports:detail": (AuditAction.REPORT, "report-read"),
    "reports:versions": (AuditAction.REPORT, "report-versions"),
    "reports:diff": (AuditAction.REPORT, "report-diff"),
    "reports:addenda": (AuditAction.REPORT, "report-addenda"),
    "reports:critical": (AuditAction.REPORT, "report-critical"),
    "reports:communications": (AuditAction.REPORT, "report-critical"),
    "reports:impression": (AuditAction.REPORT, "report-impression"),
    "report_pages:page": (AuditAction.REPORT, "report-page"),
    "ai:jobs": (AuditAction.VIEW, "ai-jobs"),
    "ai:job": (AuditAction.VIEW, "ai-job"),
    "ai:findings": (AuditAction.VIEW, "ai-findings"),
    "dictation:utterances": (AuditAction.VIEW, "dictation"),
    "dictation:utterance": (AuditAction.VIEW, "dictation"),
    "dictation:audio": (AuditAction.VIEW, "dictation-audio"),
}
SELF_AUDITED_PREFIXES = ("dicomweb:",)
SELF_AUDITED = {
    "viewer:study",
    "studies:detail",
    "reports:pdf",
    "reports:fhir",
    "reports:sr",
    "annotations:export-sr",
    "ai:export-sr",
}
NO_PATIENT_DATA = {
    "login",
    "logout",
    "accounts:token",
    "accounts:activity",
    "audit:log",  # the audit trail itself (admins); reading it is not reading a study
    "healthz",
    "readyz",
    "studies:upload",
    "studies:upload_api",
    "worklist:open",  # a redirect to the viewer, which audits
    "accounts_manage:users",
    "accounts_manage:user_action",
    "accounts_manage:user_tokens",
    "accounts_manage:token_revoke",
    "worklist:manage_worklists",
    "worklist:manage_worklist",
    "worklist:manage_assign",
    "worklist_api:claim",
    "worklist_api:release",
    "worklist_api:status",
    "worklist_api:priority",
    "worklist_api:break",
    "worklist_api:reassign",
    "worklist_api:assign",
    "worklist_api:saved",
    "worklist_api:saved_detail",
    "worklist_api:worklists",
    "worklist_api:readers",
    "reading_sessions:join",
    "reading_sessions:api-join",
    "reading_sessions:invite",
    "reading_sessions:end",
    "reports:sign",
    "reports:impression-decision",
    "reports:templates",
    "reports:macros",
    "reports:macro",
    "reports:manage_templates",
    "reports:manage_template",
    "annotations:review",
    "ai:cancel",
    "ai:review",
    "ai:estimate",  # seconds and token counts; no patient data
}
# Apps whose models hold patient data: their Django admin pages are audited.
PATIENT_DATA_APPS = (
    "studies",
    "worklist",
    "annotations",
    "reading_sessions",
    "reports",
    "dictation",
    "ai",
    "audit",
)


def route_name(match) -> str:
    if match is None:
        return ""
    if match.view_name.endswith(":None") and "events" in match.route:
        return match.view_name[: -len("None")] + "events-slash"
    return match.view_name or ""


def _admin_detail(match) -> str | None:
    """``admin:<app>_<model>_<view>`` for a model of a patient-data app, else None."""
    if match.namespace != "admin" or not match.url_name:
        return None
    for app in PATIENT_DATA_APPS:
        if match.url_name.startswith(app + "_"):
            object_id = match.kwargs.get("object_id", "")
            return f"admin:{match.url_name}:{object_id}"[:200]
    return None


def _study_for(kwargs: dict):
    """The study a route's arguments point at, when they point at one."""
    from reading.studies.models import Study

    if kwargs.get("study_uid"):
        return (
            Study.objects.select_related("patient")
            .filter(study_instance_uid=kwargs["study_uid"])
            .first()
        )
    lookups = (
        ("session_id", "reading.reading_sessions.models", "ReadingSession"),
        ("annotation_id", "reading.annotations.models", "Annotation"),
        ("report_id", "reading.reports.models", "Report"),
        ("job_id", "reading.ai.models", "AIJob"),
    )
    for key, module, name in lookups:
        if kwargs.get(key):
            from importlib import import_module

            model = getattr(import_module(module), name)
            try:
                row = model.objects.select_related("study__patient").filter(pk=kwargs[key]).first()
            except Exception:  # noqa: BLE001 - a malformed id (the view answered anyway)
                return None
            return row.study if row is not None else None
    return None


class AuditReads:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD") or not 200 <= response.status_code < 300:
            return response
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        match = getattr(request, "resolver_match", None)
        if match is None:
            return response
        name = route_name(match)
        admin_detail = _admin_detail(match)
        if admin_detail is not None:
            record_access(user, AuditAction.VIEW, request=request, detail=admin_detail)
        elif name in AUDITED_ROUTES:
            action, detail = AUDITED_ROUTES[name]
            study = _study_for(match.kwargs)
            record_access(user, action, study=study, request=request, detail=detail)
        return response


class NoStore:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/static/"):
            patch_cache_control(response, no_store=True, private=True)
        return response
