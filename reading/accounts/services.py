from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from reading.accounts.models import Role, User


def get_or_create_api_token(user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def rotate_api_token(user: User) -> Token:
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


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
