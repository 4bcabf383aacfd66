"""Every page and API requires login; the APIs also accept a per-user API token.

- ``LoginRequiredEverywhere``: anonymous requests go to the login page (pages)
  or get 401 (APIs). An API token acts as its user on the API paths only.
- ``IdleTimeout``: a session unused for ``SESSION_IDLE_TIMEOUT`` seconds is
  logged out (HIPAA 164.312(a)(2)(iii) automatic logoff); the pages' script
  (``static/js/idle.js``) counts down the same time from the user's last input.
- ``SecureCookies``: cookies set on a request that came over TLS are Secure.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from reading.accounts.authentication import is_api_path, user_from_token_header
from reading.accounts.signals import sign_out

PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/healthz", "/readyz")
LAST_ACTIVITY_KEY = "last_activity"
# The session is written at most this often to note activity (not on every request).
ACTIVITY_RESOLUTION = 30


def token_user_for(session_user, authorization: str, path: str = "/dicomweb/"):
    """The API token's user when the session has none and ``path`` is an API, else None.

    The rule by which a request acts as a user: its session's user first, then
    the active user behind a usable ``Authorization: Bearer|Token <key>``. Shared
    with the DICOMweb fast paths (``reading.studies.dicomweb.edgeauth``).
    """
    if session_user.is_authenticated or not authorization or not is_api_path(path):
        return None
    return user_from_token_header(authorization)


def idle_seconds(session, now: float | None = None) -> float:
    """Seconds since the session was last used (0 for a session that never noted any)."""
    last = session.get(LAST_ACTIVITY_KEY)
    if not isinstance(last, (int, float)):
        return 0.0
    return max((now or time.time()) - last, 0.0)


def session_timed_out(session) -> bool:
    return idle_seconds(session) > settings.SESSION_IDLE_TIMEOUT


class LoginRequiredEverywhere:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        token_user = token_user_for(request.user, request.META.get("HTTP_AUTHORIZATION", ""), path)
        if token_user is not None:
            request.user = token_user
            # Token clients carry no session cookie, hence no CSRF exposure (APIs only).
            request._dont_enforce_csrf_checks = True
        if request.user.is_authenticated and not request.user.is_active:
            sign_out(request)
        if request.user.is_authenticated or path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if is_api_path(path):
            return JsonResponse({"detail": "Authentication required."}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


class IdleTimeout:
    """Log out sessions idle for longer than ``SESSION_IDLE_TIMEOUT``; note activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and request.user.is_authenticated:
            now = time.time()
            if idle_seconds(session, now) > settings.SESSION_IDLE_TIMEOUT:
                sign_out(request)  # user_logged_out closes the user's sockets too
                if is_api_path(request.path_info):
                    return JsonResponse({"detail": "Signed out after inactivity."}, status=401)
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            last = session.get(LAST_ACTIVITY_KEY)
            # DICOMweb is the viewer's (and other clients') machine traffic, not the user's;
            # login notes the first activity (signals.py).
            if request.path_info.startswith("/dicomweb/"):
                pass
            elif not isinstance(last, (int, float)) or now - last >= ACTIVITY_RESOLUTION:
                session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)


class SecureCookies:
    """Mark every cookie Secure on a request that came over TLS (directly or via a proxy)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response
