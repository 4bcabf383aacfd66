"""CORS for DICOMweb (Fetch standard, "CORS protocol"): off unless origins are configured.

A viewer served from another origin (OHIF on its own host) calls DICOMweb with
an ``Authorization: Bearer`` token. Browsers send a preflight ``OPTIONS``
without credentials first; it is answered here, ahead of the login middleware.
Credentials (cookies) are never allowed cross-origin: no
``Access-Control-Allow-Credentials``, so a session cookie cannot be ridden by
another site; a token must be sent explicitly.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

PREFIX = "/dicomweb/"
METHODS = "GET, HEAD, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Accept, Content-Type, Cache-Control"
EXPOSED_HEADERS = "Content-Type, Content-Length, Content-Location, Location, Warning"
MAX_AGE = "600"


def allowed_origin(origin: str | None) -> str | None:
    """The value of Access-Control-Allow-Origin for ``origin``, or None (no CORS)."""
    origins = settings.DICOMWEB_CORS_ORIGINS
    if not origin or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


class DicomwebCors:
    """Preflights answered without credentials; CORS headers on every DICOMweb answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(PREFIX) or not settings.DICOMWEB_CORS_ORIGINS:
            return self.get_response(request)
        origin = allowed_origin(request.headers.get("Origin"))
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in (
            request.headers
        )
        if preflight:
            response = HttpResponse(status=204 if origin else 403)
            if origin:
                response["Access-Control-Allow-Methods"] = METHODS
                response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response["Access-Control-Max-Age"] = MAX_AGE
        else:
            response = self.get_response(request)
        if origin:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        patch_vary_headers(response, ["Origin"])
        return response
