"""The one way to fetch a report on behalf of a user: through the study's access rule."""

from __future__ import annotations

import uuid

from django.http import Http404

from reading.reports.models import Report
from reading.studies.access import studies_for_user


def reports_qs():
    return Report.objects.select_related(
        "study__patient",
        "created_by",
        "template",
        "parent",
        "preliminary_signed_by",
        "attending",
        "final_signed_by",
    )


def get_report_for_user(user, report_id) -> Report:
    """The report if ``user`` may read its study; 403 without a clinical role, else 404."""
    allowed = studies_for_user(user)  # raises PermissionDenied for admins and outsiders
    try:
        key = uuid.UUID(str(report_id))
    except ValueError:
        raise Http404("No such report.") from None
    report = reports_qs().filter(pk=key, study__in=allowed).first()
    if report is None:
        raise Http404("No such report.")
    return report
