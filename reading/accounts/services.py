from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from reading.accounts.access import is_department_admin
from reading.accounts.authentication import digest_key
from reading.accounts.models import ApiToken, Role, User


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


def revoke_api_token(actor: User, token: ApiToken) -> None:
    """Revoke ``token``: its own user or a department admin may."""
    if token.user_id != actor.pk and not is_department_admin(actor):
        raise PermissionDenied("Only the token's user or an admin can revoke it.")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


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
