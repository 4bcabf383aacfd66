"""Refusals of the report services, as types (``code`` is what clients branch on)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from reading.reports import text as report_text


class ReportError(Exception):
    """A request the report services refuse; ``code`` is what clients branch on."""

    code = "refused"
    http_status = 409


class ReportLocked(ReportError):
    code = "report_locked"


class NotAllowed(ReportError, PermissionDenied):
    code = "not_allowed"
    http_status = 403


class WrongStatus(ReportError):
    code = "wrong_status"


class UnfilledFields(ReportError):
    code = "unfilled_fields"

    def __init__(self, fields: list[report_text.Field]):
        super().__init__(f"{len(fields)} field(s) still to fill in.")
        self.fields = fields


class Unavailable(ReportError):
    code = "unavailable"
    http_status = 503
