"""Every page and API requires login; DICOMweb also accepts a per-user API token."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse

from reading.accounts.authentication import user_from_token_header

PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/healthz")
API_PREFIXES = ("/api/", "/dicomweb/")


class LoginRequiredEverywhere:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not request.user.is_authenticated:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            token_user = user_from_token_header(header) if header else None
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
