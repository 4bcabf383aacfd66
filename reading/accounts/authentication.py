"""Per-user API tokens for external clients (dicomweb-client, OHIF, 3D Slicer).

Accepts ``Authorization: Bearer <key>`` (what DICOMweb clients send) and
``Authorization: Token <key>``, on the DICOMweb and JSON APIs only
(``API_PREFIXES``): a token is not a login, so it opens no HTML page and not the
Django admin. Keys are stored as SHA-256 digests (``ApiToken``): a key is 256
random bits, so a fast digest is enough, and a copy of the database holds no
usable key.
"""

from __future__ import annotations

import functools
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
    """The active user behind a usable token in an Authorization header, or None.

    Read afresh on every request (a revoked or expired token, a deactivated
    user, a changed role count at once), in one statement: the user's row
    joined to the usable token (``_TOKEN_USER_SQL``). The ORM would compile the
    same query anew for each request, which costs more than running it.
    """
    from django.db import connection

    from reading.accounts.models import User

    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme not in SCHEMES or not key or len(key) > 200:
        return None
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    rows = list(
        User.objects.raw(
            _token_user_sql(connection.vendor),
            [adapt(now - LAST_USED_RESOLUTION), digest_key(key), adapt(now)],
        )
    )
    if not rows or not rows[0].is_active:
        return None
    user = rows[0]
    if user.token_stale:
        from reading.accounts.models import ApiToken

        ApiToken.objects.filter(pk=user.token_pk).update(last_used_at=now)
    del user.token_pk, user.token_stale
    return user


@functools.lru_cache(maxsize=4)
def _token_user_sql(vendor: str) -> str:
    """SELECT the user of the usable token (parameters: now - resolution, digest, now)."""
    from django.db import connection

    from reading.accounts.models import ApiToken, User

    qn = connection.ops.quote_name
    token, user = ApiToken._meta, User._meta
    columns = ", ".join(f"u.{qn(f.column)}" for f in user.concrete_fields)
    t = {
        name: f"t.{qn(token.get_field(name).column)}"
        for name in ("id", "user", "digest", "revoked_at", "expires_at", "last_used_at")
    }
    return (
        f"SELECT {columns}, {t['id']} AS token_pk, "
        f"({t['last_used_at']} IS NULL OR {t['last_used_at']} < %s) AS token_stale "
        f"FROM {qn(token.db_table)} t "
        f"INNER JOIN {qn(user.db_table)} u ON u.{qn(user.pk.column)} = {t['user']} "
        f"WHERE {t['digest']} = %s AND {t['revoked_at']} IS NULL AND {t['expires_at']} > %s"
    )


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
