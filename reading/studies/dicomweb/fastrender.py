"""Rendered images of single instances on the frames fast path (``fastpath.py``).

``.../instances/{sop}/rendered`` and ``.../frames/{n}/rendered`` (PS3.18 8.3.5)
are answered by the frames fast path when it may serve the instance's frames:
the same cached access decision and frame location (at most
``DICOMWEB_FAST_FRAMES_TTL`` seconds old, with the consequence ``fastpath.py``
states), the same audit record as the Django view (Render, "rendered", at most
once per user, study and minute). The image is the Django view's: the same
parameters (``render.render_params``), the same rendering and cache
(``render.rendered_image``). What rendering reads of the instance's indexed
DICOM JSON (``renderpixels.render_attributes``) is loaded a series at a time on a
cache miss and kept per SOP Instance UID (stored instances never change; the
location's expiry is what stops a deleted instance being served).

Rendering is CPU work (reading the frame, the grey table, JPEG encoding; about
0.8 ms for a 512x512 CT slice here), so it runs on the event loop's default
thread pool, not on the event loop; the JPEG encoder releases the GIL. Anything the Django
view would refuse or that fails here (a bad parameter, an image that cannot be
rendered, a missing file) goes to Django, which answers it as before.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from django.core.exceptions import BadRequest
from django.db import connection
from django.http import Http404, QueryDict

from reading.studies.access import instances_for_user
from reading.studies.dicomweb.frames import FrameSource, frame_numbers
from reading.studies.dicomweb.media import NotAcceptable
from reading.studies.dicomweb.render import render_params, rendered_image
from reading.studies.dicomweb.renderpixels import render_attributes

MAX_ATTRIBUTES = 20_000  # instances whose rendering attributes are kept, as many as locations


def render_attributes_for_user(user, study_uid: str, series_uid: str) -> dict[str, dict]:
    """``render_attributes`` of every instance of a series the user may read, by SOP
    Instance UID, in one query. Runs on a worker thread and closes its connection."""
    try:
        rows = instances_for_user(user, study_uid, series_uid).values_list(
            "sop_instance_uid", "metadata"
        )
        return {sop: render_attributes(metadata) for sop, metadata in rows}
    finally:
        connection.close()


class RenderedImages:
    """The rendered answers of the frames fast path, and what they keep between requests."""

    def __init__(self):
        self._attributes: OrderedDict[str, dict] = OrderedDict()

    def clear(self) -> None:
        self._attributes.clear()

    async def answer(self, caches, request, user, source: FrameSource) -> tuple[str, bytes] | None:
        """(content type, image) for ``request`` (a ``FrameRequest`` with ``rendered``),
        or None for Django to answer; ``caches`` are the frames fast path's (``EdgeCaches``)."""
        query = QueryDict(request.query, encoding="utf-8")
        try:
            params = render_params(query, request.accept)
            (frame,) = frame_numbers(source, request.frames)
        except (BadRequest, NotAcceptable, Http404, ValueError):
            return None
        attributes = self._attributes.get(source.sop_instance_uid)
        if attributes is None:
            loaded = await caches.shared(
                ("render-attributes", user.pk, request.study, request.series),
                render_attributes_for_user,
                user,
                request.study,
                request.series,
            )
            self._attributes.update(loaded)
            while len(self._attributes) > MAX_ATTRIBUTES:
                self._attributes.popitem(last=False)
            attributes = loaded.get(source.sop_instance_uid)
            if attributes is None:
                return None
        loop = asyncio.get_running_loop()
        try:
            body = await loop.run_in_executor(
                None, rendered_image, source, frame, params, attributes
            )
        except (Http404, NotAcceptable, OSError):
            return None
        return params.media_type, body
