from django.contrib.auth import views as auth_views
from django.db import transaction
from django.shortcuts import get_object_or_404, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from reading.accounts import services
from reading.accounts.models import ApiToken


@method_decorator(transaction.atomic, name="post")
class LogoutView(auth_views.LogoutView):
    """Django's logout as one transaction, as ``signals.sign_out`` (the sockets close once
    the session row is gone)."""


@require_http_methods(["GET", "POST"])
def api_token(request):
    """The user's API tokens for external DICOMweb clients: make (shown once), revoke."""
    issued = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token = get_object_or_404(ApiToken, pk=request.POST.get("token"), user=request.user)
            services.revoke_api_token(request.user, token)
        else:
            issued = services.create_api_token(request.user, name=request.POST.get("name", ""))
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "accounts/token.html", {"issued": issued, "tokens": tokens})


@require_http_methods(["POST"])
def activity(request):
    """The page saw the user's input: the session stays open (IdleTimeout notes it)."""
    from django.conf import settings
    from django.http import JsonResponse

    return JsonResponse({"idle_timeout": settings.SESSION_IDLE_TIMEOUT})


def bad_request(request, exception=None):
    """400 with a reason people can act on (``handler400``); too many files above all."""
    from django.conf import settings
    from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
    from django.http import JsonResponse

    from reading.accounts.authentication import is_api_path

    if isinstance(exception, TooManyFilesSent):
        detail = (
            f"Too many files in one upload: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}. "
            "Upload them in smaller batches, as a zip archive, or with the import command."
        )
    elif isinstance(exception, TooManyFieldsSent):
        detail = "Too many form fields in one request."
    else:
        detail = "Bad request."
    if is_api_path(request.path_info) or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"detail": detail}, status=400)
    return render(request, "400.html", {"detail": detail}, status=400)


# Why a role is turned away, said to the person (the exception's text, when a check gave
# one, comes first); keyed by role so a department admin learns what their role is for.
_ROLE_HINTS = {
    "admin": (
        "Department admins manage users, worklists, priorities and the audit log; "
        "patient images and reports are for attendings and residents."
    ),
}


def permission_denied(request, exception=None):
    """403 as a page that says why (``handler403``), or ``{"detail"}`` for the API."""
    from django.http import JsonResponse

    from reading.accounts.authentication import is_api_path

    reason = str(exception) if exception is not None and str(exception) else ""
    detail = reason or "Your account does not give access to this page."
    if is_api_path(request.path_info) or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"detail": detail}, status=403)
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    context = {"detail": detail, "hint": _ROLE_HINTS.get(role, ""), "role": role}
    return render(request, "403.html", context, status=403)
