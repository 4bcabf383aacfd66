from django.contrib.auth.models import AbstractUser
from django.db import models


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
