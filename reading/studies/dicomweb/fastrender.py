"""Rendered images of native greyscale frames ahead of Django, with the frames fast path's caches.

A viewer's first look at a series asks for ``.../instances/{sop}/rendered``
(or ``.../frames/{n}/rendered``) once per image. Through ``fastread.py`` each
pays for a request object, URL resolution and the view's queries on top of
the rendering; this application answers ``GET`` requests without a query
string, for native (uncompressed) MONOCHROME1/2 frames, from the frames fast
path's access decisions and frame locations (``FramesFastPath``, whose
instance it wraps), and hands every other request to it unchanged.

- **Access.** The credential is resolved afresh on every request
  (``edgeauth.credential_user``, Django's own rule) and must be the user of
  the cached grant: a revoked token, a logged-out session or a deactivated
  user is refused at once. The study access decision and the instance's
  location are the frames fast path's, at most ``DICOMWEB_FAST_FRAMES_TTL``
  seconds old (a lost clinical role is noticed that late, as for frames).
- **Body.** ``render.rendered_body``, the view's own function (the same cache
  key, VOI transform and encoder), on one of ``ReadFastPath``'s threads, whose
  database connections stay open; a frame that is not native greyscale, or
  that fails to render, goes to Django.
- **Audit.** ``record_access`` with the view's action and detail (``RENDER``,
  ``rendered``), on the same thread, when one may be due (at most once per
  user, study and minute, as its own de-duplication does anyway).
- **Headers.** ``Content-Type: image/jpeg`` when the Accept header negotiates
  it (``render.choose_image_type``; PNG and anything else go to Django), the
  view's ``Cache-Control`` patched by ``NoStore``'s rule, the other middleware
  headers from ``edgeauth.middleware_headers``.
"""

from __future__ import annotations

import io
import re
import time
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control

from reading.audit.models import AuditAction
from reading.audit.services import DEDUP_SECONDS, record_access
from reading.studies import storage
from reading.studies.access import get_study_for_user
from reading.studies.dicomweb import edgeauth
from reading.studies.dicomweb.fastpath import MAX_GRANTS, FramesFastPath
from reading.studies.dicomweb.fastread import ReadFastPath
from reading.studies.dicomweb.frames import _native_readable, frame_numbers
from reading.studies.dicomweb.media import NotAcceptable
from reading.studies.dicomweb.render import (
    JPEG,
    RENDERED_CACHE_CONTROL,
    choose_image_type,
    rendered_body,
)
from reading.studies.dicomweb.renderpixels import read_header
from reading.studies.dicomweb.urls import FrameListConverter, UIDConverter

GREY = ("MONOCHROME1", "MONOCHROME2")


class RenderFastPath:
    """ASGI application: rendered native greyscale frames, everything else to ``frames``."""

    def __init__(self, frames: FramesFastPath, reads: ReadFastPath):
        self.app = frames
        self.frames = frames
        self.reads = reads  # its threads keep their database connections
        self._path: re.Pattern | None = None
        self._audited: dict[tuple, float] = {}

    def clear(self) -> None:
        """Forget the audit times and the frames fast path's caches (tests)."""
        self._audited = {}
        self.frames.clear()

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and settings.DICOMWEB_FAST_RENDERED
            and not scope.get("query_string")
            and not settings.PREPEND_WWW
            and not settings.DISALLOWED_USER_AGENTS
        ):
            frames_scope = self._frames_scope(scope)
            if frames_scope is not None and await self._serve(frames_scope, scope, send):
                return
        await self.app(scope, receive, send)

    def _frames_scope(self, scope) -> dict | None:
        """The scope of the frames request for the same frame, when ``scope`` asks for a
        rendered instance or frame: its credentials and caches are the frames fast path's."""
        if self._path is None:
            root = reverse("dicomweb:studies")[: -len("studies")]
            uid, frames = UIDConverter.regex, FrameListConverter.regex
            self._path = re.compile(
                rf"({re.escape(root)}studies/{uid}/series/{uid}/instances/{uid})"
                rf"(?:/frames/({frames}))?/rendered"
            )
        match = self._path.fullmatch(scope["path"])
        if match is None:
            return None
        instance, frames = match.groups()
        return {**scope, "path": f"{instance}/frames/{frames or '1'}"}

    async def _serve(self, frames_scope, scope, send) -> bool:
        """Answer a rendered image; False hands the request on."""
        frames = self.frames
        request = frames._match(frames_scope)  # None: fast frames off, CORS, HTTPS redirect
        if request is None or (request.session_key is None and not request.authorization):
            return False
        if not frames._host_allowed(request, scope):
            return False
        found = await frames._grant_and_source(request)
        if found is None:
            return False
        grant, source = found
        if (source.study_instance_uid, source.series_instance_uid) != (
            request.study,
            request.series,
        ):
            return False
        if not _native_readable(source) or source.samples_per_pixel != 1:
            return False  # compressed, big endian or colour: Django's
        try:
            numbers = frame_numbers(source, request.frames)
            accept = {"Accept": request.accept} if request.accept is not None else {}
            media_type = choose_image_type(SimpleNamespace(GET={}, headers=accept))
        except (Http404, BadRequest, NotAcceptable):
            return False
        if len(numbers) != 1 or media_type != JPEG:
            return False
        key = (grant.user.pk, request.study, "rendered")
        audit_due = self._audited.get(key, 0.0) <= time.monotonic()
        answer = await self.reads.run(
            _render_for, request, grant.user, source, numbers[0], scope, audit_due
        )
        if answer is None:
            return False
        body, written = answer
        if audit_due:
            # Written now: none is due for a minute. Refused by record_access's own
            # de-duplication (written earlier, maybe by Django): ask again soon.
            wait = DEDUP_SECONDS if written else float(settings.DICOMWEB_FAST_FRAMES_TTL)
            self._audited[key] = time.monotonic() + wait
            if len(self._audited) > MAX_GRANTS:
                now = time.monotonic()
                self._audited = {k: t for k, t in self._audited.items() if t > now}
        headers = [
            (b"content-type", JPEG.encode("latin-1")),
            (b"cache-control", _cache_control().encode("latin-1")),
            (b"content-length", str(len(body)).encode("ascii")),
            *(
                (name, value)
                for name, value in edgeauth.middleware_headers(scope.get("scheme") == "https")
                if name != b"Cache-Control"  # the middleware leave the view's own value alone
            ),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


def _cache_control() -> str:
    """The view's ``Cache-Control`` as ``NoStore`` leaves it."""
    response = HttpResponse()
    response["Cache-Control"] = RENDERED_CACHE_CONTROL
    if "reading.audit.middleware.NoStore" in settings.MIDDLEWARE:
        patch_cache_control(response, no_store=True, private=True)
    return response["Cache-Control"]


def _render_for(request, grant_user, source, frame: int, scope, audit_due: bool):
    """(JPEG body, audit record written) for the credential's user, or None for Django.

    Runs on one of ``ReadFastPath``'s threads, whose database connection stays open.
    """
    try:
        user = edgeauth.credential_user(request.session_key, request.authorization)
        if user is None or user.pk != grant_user.pk:
            return None  # revoked, logged out, deactivated: Django refuses it
        path = storage.absolute(source.file_path)
        if str(read_header(path).get("PhotometricInterpretation", "")) not in GREY:
            return None
        body = rendered_body(path, frame, source, None, None, 90, JPEG, native_only=True)
        if body is None:
            return None
        written = False
        if audit_due:
            study = get_study_for_user(user, request.study)
            http_request = ASGIRequest(scope, io.BytesIO())
            http_request.user = user
            event = record_access(
                user, AuditAction.RENDER, study=study, request=http_request, detail="rendered"
            )
            written = event is not None
        return body, written
    except Exception:  # noqa: BLE001 - Django answers (and logs) whatever went wrong here
        return None
