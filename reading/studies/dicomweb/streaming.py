"""Streaming multipart bodies without holding them in memory, under WSGI and ASGI.

Django's StreamingHttpResponse consumes a *sync* iterator into a list when it
runs under ASGI (and an async one into a list under WSGI), which would load a
whole study in memory. So the iterator's flavour follows the request's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

from reading.studies import storage
from reading.studies.dicomweb.media import closing_delimiter, part_header

CHUNK = 1 << 20
_END = object()


def file_chunks(relpath: str, chunk: int = CHUNK) -> Iterator[bytes]:
    with open(storage.absolute(relpath), "rb") as fh:
        while data := fh.read(chunk):
            yield data


def multipart_chunks(
    boundary: str, parts: list[tuple[str, Callable[[], Iterator[bytes]]]]
) -> Iterator[bytes]:
    """Part header, payload chunks and CRLF for each (content type, payload) part."""
    for content_type, payload in parts:
        yield part_header(boundary, content_type)
        yield from payload()
        yield b"\r\n"
    yield closing_delimiter(boundary)


async def _in_threads(iterator: Iterator[bytes]):
    # Each chunk is read in a worker thread: file reads never block the event loop.
    while (chunk := await asyncio.to_thread(next, iterator, _END)) is not _END:
        yield chunk


def streaming_response(request, chunks: Iterator[bytes], content_type: str):
    body = _in_threads(chunks) if isinstance(request, ASGIRequest) else chunks
    return StreamingHttpResponse(body, content_type=content_type)
