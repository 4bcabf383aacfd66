"""Department admins edit templates and department macros here (``/admin/reports/``)."""

from django.contrib import admin

from reading.reports.models import Macro, ReportTemplate


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "modalities", "body_parts", "is_generic", "is_active"]
    list_filter = ["is_active", "is_generic"]
    search_fields = ["name", "slug", "keywords"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "text"]
