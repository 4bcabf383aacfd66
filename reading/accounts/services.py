"""Writes about people: API tokens, users, and the department admin's user changes.

A department admin's deactivation (or taking the clinical role away) ends the
user's access at once: their Session rows are deleted, every WebSocket they hold
is closed through the ``user.<id>`` group (docs/realtime.md), and ``access_lost``
tells the other apps (the worklist releases the user's claims).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from reading.accounts.access import is_department_admin
from reading.accounts.authentication import digest_key
from reading.accounts.models import CLINICAL_ROLES, ApiToken, Role, User
from reading.accounts.signals import access_lost, close_user_sockets_on_commit
from reading.audit.models import AuditAction
from reading.audit.services import record_access


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: ``key`` is the only copy of the secret (shown once)."""

    key: str
    token: ApiToken


def create_api_token(user: User, *, name: str = "", days: int | None = None) -> IssuedToken:
    """A new API token for ``user``, valid for ``days`` (``API_TOKEN_DAYS`` by default)."""
    days = settings.API_TOKEN_DAYS if days is None else days
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        digest=digest_key(key),
        prefix=key[:8],
        name=name[:100],
        expires_at=timezone.now() + timedelta(days=days),
    )
    return IssuedToken(key=key, token=token)


def revoke_api_token(actor: User, token: ApiToken) -> bool:
    """Revoke ``token``: its own user or a department admin may; an admin's revocation of
    someone else's token is audited. ``False`` when it was revoked already."""
    if token.user_id != actor.pk and not is_department_admin(actor):
        raise PermissionDenied("Only the token's user or an admin can revoke it.")
    now = timezone.now()
    with transaction.atomic():
        revoked = bool(
            ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        )
        if revoked:
            token.revoked_at = now
            if token.user_id != actor.pk:
                _audit(actor, f"token-revoked:{token.user.username};token={token.pk}")
    return revoked


@transaction.atomic
def rotate_api_token(user: User) -> IssuedToken:
    """Revoke every usable token of ``user`` and make a new one."""
    ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return create_api_token(user)


def create_user(
    username: str,
    password: str,
    *,
    role: str = Role.NONE,
    display_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


# --- the department admin's changes (``/manage/``) ----------------------------


def _require_admin(actor: User) -> None:
    if not is_department_admin(actor):
        raise PermissionDenied("Only department admins manage users.")


def _audit(actor: User, detail: str) -> None:
    # Compact details (no spaces): the audit service uses them in a cache key.
    record_access(actor, AuditAction.ADMIN, detail=detail)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError(f"Unknown role {role!r}.")


def add_user(actor: User, username: str, password: str, role: str, display_name: str = "") -> User:
    """A department admin adds a user (made by ``create_user``), audited."""
    _require_admin(actor)
    _check_role(role)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(f"The username {username!r} is taken.")
    validate_password(password)
    with transaction.atomic():
        user = create_user(username, password, role=role, display_name=display_name)
        _audit(actor, f"user-created:{username};role={role}")
    return user


def end_sessions(user: User) -> int:
    """Delete the user's Session rows (database sessions) and close their sockets."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    close_user_sockets_on_commit(user.pk)
    return ended


def set_role(actor: User, user: User, role: str) -> User:
    """Change ``user``'s role; losing the clinical role closes their sockets at once."""
    _require_admin(actor)
    _check_role(role)
    if user.pk == actor.pk and role != Role.ADMIN and not actor.is_superuser:
        raise ValidationError("You cannot take your own admin role away.")
    was_clinical = user.role in CLINICAL_ROLES
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(role=role)
        user.role = role
        if was_clinical and role not in CLINICAL_ROLES:
            access_lost.send(sender=User, user_id=user.pk)
            # Their open worklists and viewers carry patient data: close them.
            close_user_sockets_on_commit(user.pk)
        _audit(actor, f"user-role:{user.username};role={role}")
    return user


def reset_password(actor: User, user: User, password: str) -> None:
    _require_admin(actor)
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _audit(actor, f"user-password-reset:{user.username}")


def deactivate_user(actor: User, user: User) -> int:
    """Deactivate and log out everywhere. Returns the number of sessions ended."""
    _require_admin(actor)
    if user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        access_lost.send(sender=User, user_id=user.pk)
        ended = end_sessions(user)
        _audit(actor, f"user-deactivated:{user.username}")
    return ended


def reactivate_user(actor: User, user: User) -> None:
    _require_admin(actor)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
        _audit(actor, f"user-reactivated:{user.username}")
