"""What every DICOMweb view shares: error answers, the service root, audit."""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.urls import reverse

from reading.audit.services import record_access
from reading.studies.dicomweb.media import DICOM_JSON, NotAcceptable, UnsupportedMediaType

log = logging.getLogger(__name__)


def dicomweb_view(methods: tuple[str, ...] = ("GET",)):
    """Answer errors the way DICOMweb clients expect: a status and a short JSON reason.

    Access functions raise PermissionDenied (403) and Http404 (404); the parsing
    helpers raise BadRequest (400), NotAcceptable (406), UnsupportedMediaType (415).
    """

    def decorator(view):
        allowed = (*methods, "HEAD") if "GET" in methods else methods

        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in allowed:
                response = error(405, f"{request.method} is not supported here")
                response["Allow"] = ", ".join(allowed)
                return response
            if request.method == "HEAD":
                # The GET's status and headers without its body (RFC 9110 9.3.2).
                request.method = "GET"
                return headers_only(wrapper(request, *args, **kwargs))
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return error(403, str(exc) or "Forbidden.")
            except Http404 as exc:
                return error(404, str(exc) or "Not found.")
            except BadRequest as exc:
                return error(400, str(exc))
            except NotAcceptable as exc:
                return error(406, str(exc))
            except UnsupportedMediaType as exc:
                return error(415, str(exc))

        return wrapper

    return decorator


def headers_only(response: HttpResponse) -> HttpResponse:
    """``response`` with an empty body; Content-Length kept when it was known."""
    if response.streaming:
        # The body generator is never started, so it holds no open file.
        head = HttpResponse(status=response.status_code)
        for name, value in response.items():
            head[name] = value
        return head
    length = len(response.content)
    response.content = b""
    response["Content-Length"] = str(length)
    return response


def error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def dicom_json_response(payload, status: int = 200, **headers) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    response = HttpResponse(body, status=status, content_type=DICOM_JSON)
    for name, value in headers.items():
        if value:
            response[name.replace("_", "-")] = value
    return response


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def service_root(request) -> str:
    """Absolute URL of the DICOMweb root, e.g. ``http://host:8000/dicomweb``.

    ``DICOMWEB_ROOT_URL`` wins when set. Some clients (dicomweb-client) send
    ``Host`` without the port; for a loopback host, which no public proxy
    forwards, the port the server listens on is put back.
    """
    if settings.DICOMWEB_ROOT_URL:
        return settings.DICOMWEB_ROOT_URL
    path = reverse("dicomweb:studies")[: -len("/studies")]
    host = request.get_host()
    port = str(request.META.get("SERVER_PORT", ""))
    has_port = ":" in host.rsplit("]", 1)[-1]
    if not has_port and host in LOOPBACK_HOSTS and port.isdigit() and port not in ("80", "443"):
        host = f"{host}:{port}"
    return f"{request.scheme}://{host}{path}"


def study_url(root: str, study_uid: str) -> str:
    return f"{root}/studies/{study_uid}"


def series_url(root: str, study_uid: str, series_uid: str) -> str:
    return f"{root}/studies/{study_uid}/series/{series_uid}"


def instance_url(root: str, study_uid: str, series_uid: str, sop_uid: str) -> str:
    return f"{root}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"


def audit(request, action: str, study=None, detail: str = "") -> None:
    record_access(request.user, action, study=study, request=request, detail=detail)
