"""Department administration of people: create, set role, reset password, deactivate.

Deactivating (or taking the clinical role away) ends the user's access at once:
their Session rows are deleted, their claims released and every WebSocket they
hold is closed through the ``user.<id>`` group (see docs/realtime.md).
"""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from reading.accounts import services as accounts
from reading.accounts.access import is_department_admin
from reading.accounts.models import CLINICAL_ROLES, Role, User
from reading.audit.models import AuditAction
from reading.audit.services import record_access
from reading.worklist import events, services


def _require_admin(actor) -> None:
    if not is_department_admin(actor):
        raise PermissionDenied("Only department admins manage users.")


def _audit(actor, detail: str) -> None:
    # Compact details (no spaces): the audit service uses them in a cache key.
    record_access(actor, AuditAction.ADMIN, detail=detail)


def _validate_password(password: str, user: User | None = None) -> None:
    from django.contrib.auth.password_validation import validate_password

    validate_password(password, user)


def create_user(actor, username: str, password: str, role: str, display_name: str = "") -> User:
    _require_admin(actor)
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(f"The username {username!r} is taken.")
    _validate_password(password)
    with transaction.atomic():
        user = accounts.create_user(username, password, role=role, display_name=display_name)
        _audit(actor, f"user-created:{username};role={role}")
    return user


def end_sessions(user: User) -> int:
    """Delete the user's Session rows (database sessions) and close their sockets."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    events.disconnect_user_on_commit(user.pk)
    return ended


def set_role(actor, user: User, role: str) -> User:
    _require_admin(actor)
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")
    if user.pk == actor.pk and role != Role.ADMIN and not actor.is_superuser:
        raise ValidationError("You cannot take your own admin role away.")
    was_clinical = user.role in CLINICAL_ROLES
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(role=role)
        user.role = role
        if was_clinical and role not in CLINICAL_ROLES:
            services.release_claims_of(user.pk)
            # Their open worklists and viewers carry patient data: close them.
            events.disconnect_user_on_commit(user.pk)
        _audit(actor, f"user-role:{user.username};role={role}")
    return user


def reset_password(actor, user: User, password: str) -> None:
    _require_admin(actor)
    _validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(actor, f"user-password-reset:{user.username}")


def deactivate_user(actor, user: User) -> int:
    """Deactivate and log out everywhere. Returns the number of sessions ended."""
    _require_admin(actor)
    if user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        services.release_claims_of(user.pk)
        ended = end_sessions(user)
        _audit(actor, f"user-deactivated:{user.username}")
    return ended


def reactivate_user(actor, user: User) -> None:
    _require_admin(actor)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        _audit(actor, f"user-reactivated:{user.username}")
