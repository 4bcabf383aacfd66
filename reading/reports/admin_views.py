"""Department admins' page for report templates and department macros (``/manage/``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from reading.accounts.access import is_department_admin
from reading.reports import assist, services
from reading.reports.forms import TemplateForm
from reading.reports.models import Macro, ReportTemplate


@require_http_methods(["GET", "POST"])
def manage_templates(request, template_id: int | None = None):
    if not is_department_admin(request.user):
        raise PermissionDenied("Only department admins manage report templates.")
    instance = get_object_or_404(ReportTemplate, pk=template_id) if template_id else None
    form = TemplateForm(request.POST or None, instance=instance)
    if request.method == "POST":
        try:
            if request.POST.get("macro_name"):
                assist.save_macro(
                    request.user,
                    request.POST["macro_name"],
                    request.POST.get("macro_text", ""),
                    department=True,
                )
                messages.success(request, "Saved the macro.")
                return redirect("reports:manage_templates")
            if request.POST.get("delete_macro"):
                macro = get_object_or_404(Macro, pk=request.POST["delete_macro"], owner=None)
                assist.delete_macro(request.user, macro)
                return redirect("reports:manage_templates")
            if form.is_valid():
                data = dict(form.cleaned_data)
                saved = services.save_template(request.user, form.instance, **data)
                messages.success(request, f"Saved {saved.name}.")
                return redirect("reports:manage_templates")
        except services.ReportError as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "reports/manage_templates.html",
        {
            "form": form,
            "editing": instance,
            "templates": ReportTemplate.objects.all(),
            "macros": Macro.objects.filter(owner=None),
        },
    )
