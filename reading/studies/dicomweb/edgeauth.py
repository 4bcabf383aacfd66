"""What Django's middleware decides, for the ASGI applications ahead of it.

The frames fast path (``fastpath.py``) and the reads fast path
(``fastread.py``) answer requests without Django's middleware chain. Both
resolve the request's user by the middleware's own rule
(``credential_user``) and put the headers the middleware would add on their
answers (``middleware_headers``; the tests compare every header of both
paths). ``frames_access`` is the frames fast path's cache miss: the
credential's user and the series' frame locations that user may read.
"""

from __future__ import annotations

import functools
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404, HttpResponse
from django.utils.cache import patch_cache_control

from reading.accounts.middleware import session_timed_out, token_user_for
from reading.studies.access import get_study_for_user
from reading.studies.dicomweb.frames import frame_sources_for_user


def credential_user(session_key: str | None, authorization: str | None):
    """The active user a request with these credentials acts as, or None.

    Django's own rule: ``get_user`` on the session (the session auth hash
    included), then the API token when the session has no user. None too when
    reading the session changed it (Django must answer that request, to save
    the session and send its cookie).
    """
    from django.contrib.auth.models import AnonymousUser

    session_user = AnonymousUser()
    if session_key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        session_user = get_user(SimpleNamespace(session=store))
        if store.modified or session_timed_out(store):
            return None  # Django answers (and logs an idle session out)
    user = token_user_for(session_user, authorization or "") or session_user
    if not user.is_authenticated or not user.is_active:
        return None
    return user


def frames_access(session_key, authorization, study_uid, series_uid, user, load_series: bool):
    """(user, the series' frame sources as that user may see them), or None.

    ``user`` is the user of a live grant; without one the credential is
    resolved first. The sources are scoped by ``studies_for_user``: an instance
    among them is one the user may read. Without ``load_series`` (the location
    is cached) only the user's access to the study is checked, and no sources
    come back. Runs on a worker thread and closes its database connection.
    """
    try:
        if user is None:
            user = credential_user(session_key, authorization)
            if user is None:
                return None
        if not load_series:
            get_study_for_user(user, study_uid)
            return user, {}
        return user, frame_sources_for_user(user, study_uid, series_uid)
    except (PermissionDenied, Http404):
        return None
    finally:
        connection.close()


@functools.lru_cache(maxsize=16)
def _no_store(cache_control: str | None) -> str:
    """The Cache-Control NoStore leaves on an answer whose view set ``cache_control``."""
    response = HttpResponse()
    if cache_control:
        response["Cache-Control"] = cache_control
    patch_cache_control(response, no_store=True, private=True)  # NoStore's rule
    return response["Cache-Control"]


def middleware_headers(secure: bool, cache_control: str | None = None) -> list[tuple[bytes, bytes]]:
    """The headers Django's middleware puts on a successful answer whose view set the
    Cache-Control ``cache_control`` (or none) (the tests compare both)."""
    middleware = settings.MIDDLEWARE
    headers: list[tuple[str, str]] = []
    if "django.contrib.sessions.middleware.SessionMiddleware" in middleware:
        # The login check reads the session, so Django's answer varies on it.
        headers.append(("Vary", "Cookie"))
    if "django.middleware.security.SecurityMiddleware" in middleware:
        if settings.SECURE_HSTS_SECONDS and secure:
            value = f"max-age={settings.SECURE_HSTS_SECONDS}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                value += "; includeSubDomains"
            if settings.SECURE_HSTS_PRELOAD:
                value += "; preload"
            headers.append(("Strict-Transport-Security", value))
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            headers.append(("X-Content-Type-Options", "nosniff"))
        policy = settings.SECURE_REFERRER_POLICY
        if policy:
            if isinstance(policy, str):
                policy = [v.strip() for v in policy.split(",")]
            headers.append(("Referrer-Policy", ",".join(policy)))
        if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
            headers.append(
                ("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY)
            )
    if "reading.audit.middleware.NoStore" in middleware:
        headers.append(("Cache-Control", _no_store(cache_control)))
    if "django.middleware.clickjacking.XFrameOptionsMiddleware" in middleware:
        headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
