from django.contrib import admin

from reading.accounts.privacy import PatientIdentityHidden
from reading.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(PatientIdentityHidden, admin.ModelAdmin):
    list_display = (
        "at",
        "username",
        "action",
        "patient_id",
        "patient_name",
        "study_instance_uid",
        "ip_address",
    )
    list_filter = ("action", "at")
    search_fields = ("username", "patient_id", "patient_name", "study_instance_uid")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
