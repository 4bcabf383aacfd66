"""The full-page report view (the bundle's report-page.js renders and co-edits it)."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.reports.access import get_report_for_user
from reading.viewer.views import bundle_built


@ensure_csrf_cookie
def report_page(request, report_id: str):
    report = get_report_for_user(request.user, report_id)
    study = report.study
    record_access(request.user, AuditAction.REPORT, study=study, request=request)
    config = {
        "reportId": str(report.pk),
        "studyUid": study.study_instance_uid,
        "api": "/api",
        "user": {"username": request.user.username, "role": request.user.role},
    }
    return render(
        request,
        "reports/report.html",
        {"report": report, "study": study, "config": config, "bundle_built": bundle_built()},
    )
