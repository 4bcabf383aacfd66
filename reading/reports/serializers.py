"""REST shapes of reports. ``report_payload`` is also the ``report.status`` event payload."""

from __future__ import annotations

from rest_framework import serializers

from reading.accounts.access import is_clinical
from reading.reports import text as report_text
from reading.reports.models import (
    CommunicationMethod,
    CriticalResult,
    ImpressionSuggestion,
    Macro,
    Report,
    ReportStatus,
    ReportTemplate,
    ReportVersion,
    Severity,
)

RS = ReportStatus


def person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.username, "name": str(user)}


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def template_payload(template: ReportTemplate | None, suggested: bool | None = None) -> dict | None:
    if template is None:
        return None
    rendered = report_text.render_template(template.sections)
    out = {
        "id": template.pk,
        "slug": template.slug,
        "name": template.name,
        "modalities": template.modalities,
        "body_parts": template.body_parts,
        "sections": template.sections,
        "fields": [
            {k: v for k, v in f.as_dict().items() if k not in ("start", "end")}
            for f in report_text.fields(rendered)
        ],
    }
    if suggested is not None:
        out["suggested"] = suggested
    return out


def version_payload(version: ReportVersion, with_text: bool = True) -> dict:
    out = {
        "number": version.number,
        "reason": version.reason,
        "status": version.status,
        "created_by": person(version.created_by),
        "created_at": _iso(version.created_at),
    }
    if with_text:
        out["text"] = version.text
    return out


def critical_payload(critical: CriticalResult | None) -> dict | None:
    if critical is None:
        return None
    return {
        "flagged": True,
        "open": critical.acknowledged_at is None,
        "finding": critical.finding,
        "severity": critical.severity,
        "flagged_by": person(critical.flagged_by),
        "flagged_at": _iso(critical.flagged_at),
        "acknowledged_at": _iso(critical.acknowledged_at),
        "communications": [
            {
                "recipient": c.recipient,
                "method": c.method,
                "communicated_at": _iso(c.communicated_at),
                "acknowledged": c.acknowledged,
                "notes": c.notes,
                "recorded_by": person(c.recorded_by),
            }
            for c in critical.communications.select_related("recorded_by")
        ],
    }


def suggestion_payload(s: ImpressionSuggestion) -> dict:
    return {
        "id": s.pk,
        "report_id": str(s.report_id),
        "status": s.status,
        "text": s.text,
        "final_text": s.final_text,
        "provenance": s.provenance,
        "requested_by": person(s.requested_by),
        "decided_by": person(s.decided_by),
        "created_at": _iso(s.created_at),
        "decided_at": _iso(s.decided_at),
    }


def actions_for(user, report: Report) -> list[str]:
    from reading.reports.services import LOCKED, can_edit

    clinical = is_clinical(user)
    if not clinical:
        return []
    out = []
    if can_edit(user, report):
        out += ["edit", "save_version"]
    if report.status == RS.DRAFT:
        out.append("sign_preliminary")
    if report.status in (RS.DRAFT, RS.PRELIMINARY) and user.is_attending:
        out.append("sign_final")
    if report.status in LOCKED and report.parent_id is None:
        out.append("add_addendum")
    out += ["flag_critical", "record_communication"]
    if "edit" in out:
        out.append("draft_impression")
    return out


def report_payload(report: Report, user=None) -> dict:
    """The report object of docs/reports.md; ``actions`` only when ``user`` is given."""
    from reading.reports.assist import refresh_suggestion

    original = report.parent if report.parent_id else report
    critical = CriticalResult.objects.filter(report=original).select_related("flagged_by").first()
    versions = report.versions.select_related("created_by").order_by("-number")
    latest = versions.first()
    sr = None
    if report.sr_sop_instance_uid:
        sr = {
            "sop_instance_uid": report.sr_sop_instance_uid,
            "series_instance_uid": report.sr_series_instance_uid,
        }
    final = None
    if report.final_signed_by_id:
        final = {
            "user": person(report.final_signed_by),
            "at": _iso(report.final_signed_at),
            "attestation": report.attestation,
        }
    prelim = None
    if report.preliminary_signed_by_id:
        prelim = {
            "user": person(report.preliminary_signed_by),
            "at": _iso(report.preliminary_signed_at),
        }
    suggestions = [
        refresh_suggestion(s)
        for s in report.suggestions.select_related("requested_by", "decided_by")
    ]
    base = f"/api/reports/{report.pk}"
    out = {
        "id": str(report.pk),
        "study_instance_uid": report.study.study_instance_uid,
        "parent_id": str(report.parent_id) if report.parent_id else None,
        "is_addendum": report.parent_id is not None,
        "status": report.status,
        "status_label": RS(report.status).label,
        "text": report.text,
        "display_text": report_text.display_text(report.text),
        "sections": report_text.sections(report.text),
        "template": template_payload(report.template),
        "created_by": person(report.created_by),
        "created_at": _iso(report.created_at),
        "updated_at": _iso(report.updated_at),
        "signers": {
            "preliminary": prelim,
            "attending": person(report.attending),
            "final": final,
        },
        "versions": {
            "count": versions.count(),
            "latest": version_payload(latest, with_text=False) if latest else None,
        },
        "addenda": [
            {
                "id": str(a.pk),
                "status": a.status,
                "created_at": _iso(a.created_at),
                "created_by": person(a.created_by),
                "final_signed_at": _iso(a.final_signed_at),
            }
            for a in original.addenda.select_related("created_by").order_by("created_at")
        ],
        "critical": critical_payload(critical),
        "impression_suggestions": [suggestion_payload(s) for s in suggestions],
        "sr": sr,
        "links": {"pdf": f"{base}/pdf", "fhir": f"{base}/fhir", "page": f"/reports/{report.pk}/"},
    }
    if user is not None:
        out["actions"] = actions_for(user, report)
    return out


def macro_payload(macro: Macro) -> dict:
    return {
        "id": macro.pk,
        "name": macro.name,
        "text": macro.text,
        "scope": "department" if macro.owner_id is None else "personal",
    }


# -- incoming ------------------------------------------------------------------------


class CreateReportSerializer(serializers.Serializer):
    template = serializers.SlugField(required=False, allow_blank=True)


class SignSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["preliminary", "final"])
    attending = serializers.IntegerField(required=False, allow_null=True)
    allow_unfilled = serializers.BooleanField(required=False, default=False)
    next_query = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class VersionSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=["save"], required=False, default="save")


class CriticalSerializer(serializers.Serializer):
    finding = serializers.CharField(max_length=4000)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.CRITICAL)


class CommunicationSerializer(serializers.Serializer):
    recipient = serializers.CharField(max_length=200)
    method = serializers.ChoiceField(choices=CommunicationMethod.choices)
    communicated_at = serializers.DateTimeField(required=False, allow_null=True)
    acknowledged = serializers.BooleanField(required=False, default=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=500)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accepted", "edited", "rejected"])
    text = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class MacroSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    text = serializers.CharField(max_length=4000)
    scope = serializers.ChoiceField(choices=["personal", "department"], default="personal")
