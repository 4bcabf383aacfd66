from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    VIEW = "view", "Viewed study"
    SEARCH = "search", "Searched (QIDO-RS)"
    RETRIEVE = "retrieve", "Retrieved instances (WADO-RS)"
    METADATA = "metadata", "Retrieved metadata"
    RENDER = "render", "Retrieved rendered images"
    STORE = "store", "Stored instances"
    REPORT = "report", "Report access"
    ANNOTATE = "annotate", "Annotated"
    EXPORT = "export", "Exported"
    ADMIN = "admin", "Administrative action"


class AuditEvent(models.Model):
    """Who touched which patient's data, how, when and from where (IHE ATNA spirit)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices, db_index=True)
    study_instance_uid = models.CharField(max_length=64, blank=True, db_index=True)
    patient_id = models.CharField(max_length=64, blank=True, db_index=True)
    patient_name = models.CharField(max_length=324, blank=True)
    path = models.CharField(max_length=512, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    detail = models.CharField(max_length=512, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.study_instance_uid}"
        )
