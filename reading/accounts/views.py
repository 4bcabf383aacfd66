from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from reading.accounts import services


@require_http_methods(["GET", "POST"])
def api_token(request):
    """Show (or rotate) the user's API token for external DICOMweb clients."""
    if request.method == "POST":
        token = services.rotate_api_token(request.user)
    else:
        token = services.get_or_create_api_token(request.user)
    return render(request, "accounts/token.html", {"token": token})
