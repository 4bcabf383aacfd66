"""Per-user API tokens for external clients (dicomweb-client, OHIF, 3D Slicer).

Accepts ``Authorization: Bearer <key>`` (what DICOMweb clients send) and
``Authorization: Token <key>``, on the DICOMweb and JSON APIs only
(``API_PREFIXES``): a token is not a login, so it opens no HTML page and not the
Django admin. Keys are stored as SHA-256 digests (``ApiToken``): a key is 256
random bits, so a fast digest is enough, and a copy of the database holds no
usable key.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

API_PREFIXES = ("/api/", "/dicomweb/")
SCHEMES = ("Bearer", "Token")
LAST_USED_RESOLUTION = timedelta(minutes=5)  # at most one write per token per 5 minutes


def digest_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def user_from_token_header(header: str):
    """The active user behind a usable token in an Authorization header, or None."""
    from reading.accounts.models import ApiToken

    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme not in SCHEMES or not key or len(key) > 200:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest_key(key), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class BearerTokenAuthentication(BaseAuthentication):
    """DRF authentication by API token, on API paths only."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.partition(" ")[0] not in SCHEMES or not is_api_path(request.path_info):
            return None
        user = user_from_token_header(header)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return (user, None)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
