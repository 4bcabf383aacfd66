"""Django's ASGI handler as this server runs it.

- **A body Daphne handed over** (``reading.edge``) is taken as the request's body file,
  not copied into a ``SpooledTemporaryFile`` (in memory up to
  ``FILE_UPLOAD_MAX_MEMORY_SIZE``, then rolled over to a second file on disk).
- **Bodies go out in messages of up to 1 MiB** (``reading.edgeflow`` says why).
"""

from __future__ import annotations

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler


class HandedBodyASGIHandler(ASGIHandler):
    """Django's ASGI handler: a handed body as the request's body file, 1 MiB body
    messages (the module says why).

    The handed file is already on disk and complete, and no larger than the request's
    limit (``BodyLimit``); Django closes it once the response is sent.
    """

    chunk_size = 1 << 20  # body messages: up to 1 MiB, not 64 KiB (reading.edgeflow says why)

    async def read_body(self, receive):
        take_file = getattr(receive, "take_file", None)
        if take_file is None:
            return await super().read_body(receive)
        body_file = await take_file()
        if body_file is None:
            raise RequestAborted()
        return body_file
