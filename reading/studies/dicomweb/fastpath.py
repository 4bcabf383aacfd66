"""WADO-RS frames ahead of Django: a small pure-ASGI application for the viewer's hot path.

A viewer scrolling a CT asks for hundreds of frames a second. Through Django
each one pays a new thread, about 16 crossings between the event loop and
threads (sync-only middleware), a new SQLite connection, the session or token
lookup and a query: a frame costs what any authenticated request costs. This
application answers ``GET /dicomweb/studies/{study}/series/{series}/instances/
{sop}/frames/{list}`` itself when it can serve it from two per-process caches,
and so ``.../series/{series}/pixeldata?SOPInstanceUID=uid1,uid2`` (Series Pixel
Data for a few instances: the viewer's batches of frames, streamed a frame per
chunk) and ``.../instances/{sop}[/frames/{n}]/rendered`` (``fastrender.py``); it
hands every other request to Django unchanged.

The caches (``fastcache.py``):

- Access decisions: (session key, Authorization header, study) -> the user,
  for ``DICOMWEB_FAST_FRAMES_TTL`` seconds (default 5), made by Django's own
  rule and access functions (``edgeauth.frames_access``). **Consequence: a
  user who is deactivated, loses the clinical role or logs out keeps frame
  access for at most that many seconds**; everything else about them is
  checked by Django on every request as before.
- Frame locations: SOP Instance UID -> ``FrameSource`` (file, offsets,
  syntax, geometry), least recently used first out, for the same TTL (rows
  can be deleted in the admin). A miss loads the whole series the user may
  read in one query, since a viewer that asks for one frame of a series asks
  for the others next; an expired decision whose location is still fresh
  only re-checks the credential and ``get_study_for_user``.

Only successes are answered here. Whatever Django would answer with an error
(no or bad credentials: 401; no clinical role: 403; unknown or mismatched
UIDs, frame numbers out of range: 404; 400; 406) or with work that does not
belong on the event loop (decoding compressed frames for a client that wants
them uncompressed) falls through to Django, which answers it exactly as
before. The body and part headers come from ``frames.frames_content``, the
function the Django view uses, and the audit record from
``reading.audit.services.record_access`` (on a worker thread, at most once per
user, study and minute, as its own de-duplication does anyway).

Database work runs only on a cache miss, on a worker thread
(``sync_to_async(thread_sensitive=False)``) that closes its connection
afterwards; concurrent misses for the same key share one lookup. The frame
bytes are read on the event loop: a seek and a read of well under a megabyte
from the page cache cost less than handing it to a thread.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, parse_cookie
from django.urls import reverse

from reading.audit.models import AuditAction
from reading.studies.dicomweb import edgeauth
from reading.studies.dicomweb.common import service_root
from reading.studies.dicomweb.fastcache import EdgeCaches, Grant
from reading.studies.dicomweb.fastrender import RenderedImages
from reading.studies.dicomweb.frames import (
    FrameSource,
    frame_numbers,
    frames_content,
    pixel_data_chunks,
    plan_frames,
    sop_uid_list,
)
from reading.studies.dicomweb.media import (
    NotAcceptable,
    multipart_content_type,
    new_boundary,
)
from reading.studies.dicomweb.render import RENDERED_CACHE_CONTROL
from reading.studies.dicomweb.urls import FrameListConverter, UIDConverter

MAX_PIXEL_DATA_INSTANCES = 64  # one request's work (its body waits for the socket)


@dataclass
class FrameRequest:
    study: str
    series: str
    sop: str
    frames: str
    host: str | None
    forwarded_host: str | None
    session_key: str | None
    authorization: str | None
    accept: str | None
    instances: list[str] | None = None  # Series Pixel Data: the SOPInstanceUID filter
    rendered: bool = False  # .../rendered of an instance or one frame (fastrender.py)
    query: str = ""

    @property
    def credential(self) -> tuple[str | None, str | None]:
        return (self.session_key, self.authorization)


class FramesFastPath:
    """ASGI application: WADO-RS frames from caches, everything else to ``app`` (Django)."""

    def __init__(self, app):
        self.app = app
        self._path: re.Pattern | None = None
        self.caches = EdgeCaches()
        self._rendered = RenderedImages()

    def clear(self) -> None:
        """Forget every cached decision, location and rendering attribute (tests)."""
        self.caches.clear()
        self._rendered.clear()

    # -- ASGI -----------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET":
            request = self._match(scope)
            if request is not None and await self._serve(request, scope, send):
                return
        await self.app(scope, receive, send)

    def _match(self, scope) -> FrameRequest | None:
        if not settings.DICOMWEB_FAST_FRAMES_TTL or scope.get("root_path"):
            return None
        if settings.SECURE_SSL_REDIRECT and scope.get("scheme") != "https":
            return None  # Django redirects it
        if settings.DICOMWEB_CORS_ORIGINS and any(n == b"origin" for n, _ in scope["headers"]):
            return None  # cross-origin: Django's CORS middleware answers
        if self._path is None:
            root = reverse("dicomweb:studies")[: -len("studies")]
            uid, frames = UIDConverter.regex, FrameListConverter.regex
            self._path = re.compile(
                rf"{re.escape(root)}studies/({uid})/series/({uid})"
                rf"(?:/instances/({uid})(?:/frames/({frames}))?(/rendered)?|/pixeldata)"
            )
        match = self._path.fullmatch(scope["path"])
        if match is None or (match.group(3) and not match.group(4) and not match.group(5)):
            return None  # a whole instance: Django's
        instances = None
        if match.group(3) is None:
            # Series Pixel Data for a list of instances (the viewer's batches); the
            # whole series, in instance number order, is Django's.
            query = scope.get("query_string", b"").decode("latin-1")
            name, _, value = query.partition("=")
            if name != "SOPInstanceUID" or "&" in value:
                return None
            try:
                instances = sop_uid_list(value.replace("%2C", ",").replace("%2c", ","))
            except BadRequest:
                return None
            if len(instances) > MAX_PIXEL_DATA_INSTANCES or not all(
                re.fullmatch(UIDConverter.regex, uid) for uid in instances
            ):
                return None
        headers: dict[bytes, list[str]] = {}
        for name, value in scope["headers"]:
            if name in (b"host", b"cookie", b"authorization", b"accept", b"x-forwarded-host"):
                headers.setdefault(name, []).append(value.decode("latin-1"))
        session_key = None
        if b"cookie" in headers:
            cookies = parse_cookie("; ".join(headers[b"cookie"]))
            session_key = cookies.get(settings.SESSION_COOKIE_NAME) or None

        def joined(name: bytes) -> str | None:
            return ",".join(headers[name]) if name in headers else None

        study, series, sop, frames, rendered = match.groups()
        return FrameRequest(
            study,
            series,
            sop if instances is None else instances[0],
            frames or "1",
            host=joined(b"host"),
            forwarded_host=joined(b"x-forwarded-host"),
            session_key=session_key,
            authorization=joined(b"authorization"),
            accept=joined(b"accept"),
            instances=instances,
            rendered=bool(rendered),
            query=scope.get("query_string", b"").decode("latin-1"),
        )

    async def _serve(self, request: FrameRequest, scope, send) -> bool:
        """Answer from the caches; False hands the request to Django."""
        if request.session_key is None and not request.authorization:
            return False
        if not self.caches.host_allowed(request, scope):
            return False
        found = await self.caches.grant_and_source(request)
        if found is None:
            return False
        grant, source = found
        if (source.study_instance_uid, source.series_instance_uid) != (
            request.study,
            request.series,
        ):
            return False
        if request.instances is not None:
            return await self._serve_pixel_data(request, grant, scope, send)
        cache_control = None
        if request.rendered:
            answer = await self._rendered.answer(self.caches, request, grant.user, source)
            if answer is None:
                return False
            content_type, body = answer
            action, detail, cache_control = AuditAction.RENDER, "rendered", RENDERED_CACHE_CONTROL
        else:
            found = self._frames(request, source)
            if found is None:
                return False
            content_type, body = found
            action, detail = AuditAction.RETRIEVE, "frames"
        if not await self.caches.audit(grant.user, request.study, scope, action, detail):
            return False
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode("ascii")),
            *edgeauth.middleware_headers(scope.get("scheme") == "https", cache_control),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def _frames(self, request: FrameRequest, source: FrameSource) -> tuple[str, bytes] | None:
        """(content type, body) of a frames answer, or None for Django to answer."""
        try:
            numbers = frame_numbers(source, request.frames)
            plan = plan_frames(request.accept, source, len(numbers))
        except (Http404, BadRequest, NotAcceptable):
            return None
        if plan.decode:
            return None  # pixel decoding is CPU work for Django's worker threads
        try:
            return frames_content(plan, source, numbers)
        except OSError:
            return None  # a missing file is Django's error to report

    async def _serve_pixel_data(self, request: FrameRequest, grant: Grant, scope, send) -> bool:
        """Series Pixel Data for the listed instances, streamed a frame per chunk.

        The instances' locations come from the cache that the first one's lookup
        filled (a series at a time); any not there, or not servable without
        decoding, sends the request to Django.
        """
        planned = []
        for uid in request.instances:
            source = self.caches.fresh_source(uid)
            if source is None:
                return False
            if (source.study_instance_uid, source.series_instance_uid) != (
                request.study,
                request.series,
            ) or not source.rows:
                return False
            try:
                plan = plan_frames(request.accept, source, 2)
            except (Http404, NotAcceptable):
                return False
            if plan.decode:
                return False
            planned.append((source, plan))
        boundary = new_boundary()
        chunks = pixel_data_chunks(
            boundary, service_root(ASGIRequest(scope, io.BytesIO())), planned
        )
        try:
            first = next(chunks)
        except OSError:
            return False
        if not await self.caches.audit(
            grant.user, request.study, scope, AuditAction.RETRIEVE, "pixeldata"
        ):
            return False
        content_type = multipart_content_type(planned[0][1].media_type, boundary)
        headers = [
            (b"content-type", content_type.encode("latin-1")),
            *edgeauth.middleware_headers(scope.get("scheme") == "https"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        try:
            for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:
            pass  # cut short without its closing delimiter: the client sees the body is incomplete
        await send({"type": "http.response.body", "body": b""})
        return True
