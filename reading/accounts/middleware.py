"""Every page and API requires login; DICOMweb also accepts a per-user API token."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from reading.accounts.authentication import user_from_token_header

PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/healthz")
API_PREFIXES = ("/api/", "/dicomweb/")


def token_user_for(session_user, authorization: str):
    """The API token's user when the session has none, else None.

    The rule by which a request acts as a user: its session's user first, then
    the active user behind ``Authorization: Bearer|Token <key>``. Shared with
    the DICOMweb frames fast path (``reading.studies.dicomweb.fastpath``).
    """
    if session_user.is_authenticated or not authorization:
        return None
    return user_from_token_header(authorization)


class LoginRequiredEverywhere:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        token_user = token_user_for(request.user, request.META.get("HTTP_AUTHORIZATION", ""))
        if token_user is not None:
            request.user = token_user
            # Token clients carry no session cookie, hence no CSRF exposure.
            request._dont_enforce_csrf_checks = True
        if request.user.is_authenticated and not request.user.is_active:
            from django.contrib.auth import logout

            logout(request)
        if request.user.is_authenticated or path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        if path.startswith(API_PREFIXES):
            return JsonResponse({"detail": "Authentication required."}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
