from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    ATTENDING = "attending", "Attending radiologist"
    RESIDENT = "resident", "Resident"
    ADMIN = "admin", "Department admin"
    NONE = "none", "No clinical role"


CLINICAL_ROLES = frozenset({Role.ATTENDING, Role.RESIDENT})


class User(AbstractUser):
    """A Reading Room user. The role decides what they may see and sign."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.NONE, db_index=True)
    display_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_clinical(self) -> bool:
        """Attendings and residents read images; admins and others do not."""
        return self.is_active and self.role in CLINICAL_ROLES

    @property
    def is_attending(self) -> bool:
        return self.is_active and self.role == Role.ATTENDING

    @property
    def is_department_admin(self) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.is_superuser)


class ApiToken(models.Model):
    """A per-user key for the DICOMweb and JSON APIs, never for pages or the admin.

    Only a SHA-256 digest of the key is stored; the key itself is shown once,
    when it is made. A token stops working when it expires, when it is revoked
    (by its user or an admin) and when its user is deactivated.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False, help_text="First characters of the key")
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
