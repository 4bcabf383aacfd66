from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from reading.accounts import services
from reading.accounts.models import ApiToken


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
