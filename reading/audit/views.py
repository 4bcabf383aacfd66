import contextlib
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from reading.accounts.access import is_department_admin
from reading.audit.models import AuditAction, AuditEvent


def audit_log(request):
    """Admins browse who saw which patient's data; filter by user, patient, date."""
    if not is_department_admin(request.user):
        raise PermissionDenied("Only department admins can browse the audit log.")
    qs = AuditEvent.objects.all()
    f = {
        k: request.GET.get(k, "").strip()
        for k in ("user", "patient", "action", "date_from", "date_to")
    }
    if f["user"]:
        qs = qs.filter(username__icontains=f["user"])
    if f["patient"]:
        qs = qs.filter(patient_id__icontains=f["patient"]) | qs.filter(
            patient_name__icontains=f["patient"]
        )
    if f["action"]:
        qs = qs.filter(action=f["action"])
    for key, lookup in (("date_from", "at__date__gte"), ("date_to", "at__date__lte")):
        if f[key]:
            with contextlib.suppress(ValueError):
                qs = qs.filter(**{lookup: datetime.strptime(f[key], "%Y-%m-%d").date()})
    page = Paginator(qs.order_by("-at"), 100).get_page(request.GET.get("page"))
    return render(request, "audit/log.html", {"page": page, "f": f, "actions": AuditAction.choices})
