"""Report templates: choosing one for a study, and department admins' edits."""

from __future__ import annotations

from django.db import transaction

from reading.accounts.access import is_department_admin
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.reports import text as report_text
from reading.reports.defaults import install_defaults
from reading.reports.errors import NotAllowed, ReportError
from reading.reports.models import Macro, ReportTemplate
from reading.studies.models import Study


def _words(value: str) -> list[str]:
    return [v.strip().upper() for v in value.split(",") if v.strip()]


def choose_template(study: Study) -> ReportTemplate | None:
    """The best template for ``study``: modality, then body part, then description words.

    A template whose modality or body part list is set and does not match is out;
    the generic template is the fallback.
    """
    if not ReportTemplate.objects.exists():
        # A department with no template at all (a fresh database whose data migration
        # rows were flushed, or every template deleted) gets the shipped ones back.
        install_defaults(ReportTemplate, Macro)
    modalities = set(study.modalities)
    body_part = (study.body_part_examined or "").upper()
    description = (study.study_description or "").upper()
    best, best_score = None, 0
    for template in ReportTemplate.objects.filter(is_active=True, is_generic=False):
        score = 0
        wanted = _words(template.modalities)
        if wanted:
            if not modalities & set(wanted):
                continue
            score += 4
        parts = _words(template.body_parts)
        keywords = _words(template.keywords)
        if parts and body_part in parts:
            score += 2
        if any(k in description for k in keywords):
            score += 2
        if (parts or keywords) and score <= 4:
            continue  # the modality alone does not say "chest" or "brain"
        if score > best_score:
            best, best_score = template, score
    if best is not None:
        return best
    return ReportTemplate.objects.filter(is_active=True, is_generic=True).first()


def save_template(user, template: ReportTemplate | None, *, text: str, **fields) -> ReportTemplate:
    """Create or change a template from its text in the report format (headings + fields)."""
    if not is_department_admin(user):
        raise NotAllowed("Only department admins edit report templates.")
    sections = [s for s in report_text.sections(text) if s["heading"]]
    if not sections:
        raise ReportError("A template needs at least one heading such as FINDINGS:.")
    template = template or ReportTemplate()
    for name, value in fields.items():
        setattr(template, name, value)
    template.sections = sections
    with transaction.atomic():
        if template.is_generic:
            ReportTemplate.objects.exclude(pk=template.pk).update(is_generic=False)
        template.save()
        record_access(user, AuditAction.ADMIN, detail=f"report_template:{template.slug}")
    return template
