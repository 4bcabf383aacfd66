from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "reading.audit"
    label = "audit"
    verbose_name = "Audit trail"
