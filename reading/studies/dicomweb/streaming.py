"""Streaming multipart bodies without holding them in memory, under WSGI and ASGI.

Django's StreamingHttpResponse consumes a *sync* iterator into a list when it
runs under ASGI (and an async one into a list under WSGI), which would load a
whole study in memory. So the iterator's flavour follows the request's.

Under ASGI the chunks are taken on a worker thread about a megabyte at a time
(a part's header, its payload and the next part's header in one hop, not one
hop each), and stored instances go out whole, one message each, with the
body's Content-Length known from their recorded sizes: the client reads the
body in one piece instead of decoding HTTP chunks. Where the server offers
ASGI's zero-copy send (``reading.edgesend``), the reads fast path sends stored
files (``StoredFile``) from the page cache instead of reading them in.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse

from reading.studies import storage
from reading.studies.dicomweb.media import closing_delimiter, part_header

CHUNK = 1 << 20
SMALL = 4096


def open_stored(relpath: str, size: int | None = None):
    """The stored file, opened unbuffered; with ``size`` (the length a response declared),
    checked to be that long. Raises OSError.

    Stored files never change (their name holds their content hash); one that did
    would make a declared Content-Length a lie, so the body is cut short instead.
    """
    fh = open(storage.absolute(relpath), "rb", buffering=0)  # noqa: SIM115 - the caller's
    if size is not None and os.fstat(fh.fileno()).st_size != size:
        fh.close()
        raise OSError(f"{relpath} is not the {size} bytes recorded")
    return fh


def file_chunks(relpath: str, size: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
    """The stored file in chunks (``open_stored``)."""
    with open_stored(relpath, size) as fh:
        while data := fh.read(chunk):
            yield data


@dataclass(frozen=True)
class StoredFile:
    """A stored file as one whole payload (``file_chunks``' arguments): sent by the server
    from the page cache where it offers that (``fastread``), else read in chunks."""

    relpath: str
    size: int | None = None


def multipart_chunks(
    boundary: str, parts: list[tuple[str, StoredFile | Callable[[], Iterator[bytes]]]]
) -> Iterator[bytes | StoredFile]:
    """Part header, payload and CRLF for each (content type, payload) part; a payload is a
    ``StoredFile`` or a function giving its chunks. ``as_bytes`` reads the files."""
    for content_type, payload in parts:
        yield part_header(boundary, content_type)
        if isinstance(payload, StoredFile):
            yield payload
        else:
            yield from payload()
        yield b"\r\n"
    yield closing_delimiter(boundary)


def as_bytes(chunks: Iterator[bytes | StoredFile]) -> Iterator[bytes]:
    """The chunks, each ``StoredFile`` among them read (``file_chunks``)."""
    for chunk in chunks:
        if isinstance(chunk, StoredFile):
            yield from file_chunks(chunk.relpath, chunk.size)
        else:
            yield chunk


def multipart_length(boundary: str, parts: list[tuple[str, int]]) -> int:
    """Length of the body ``multipart_chunks`` makes of (content type, payload size) parts."""
    framing = sum(len(part_header(boundary, content_type)) + 2 for content_type, _ in parts)
    return framing + sum(size for _, size in parts) + len(closing_delimiter(boundary))


def _take(iterator: Iterator[bytes | StoredFile], budget: int) -> list[bytes | StoredFile]:
    """Chunks up to about ``budget`` bytes (a stored file counts as its size, unread); small
    neighbours (a part's closing CRLF and the next part's header) joined into one."""
    taken, size = [], 0
    for chunk in iterator:
        if isinstance(chunk, StoredFile):
            taken.append(chunk)
            size += chunk.size or budget
        elif (
            taken and len(chunk) < SMALL and isinstance(taken[-1], bytes) and len(taken[-1]) < SMALL
        ):
            taken[-1] += chunk
            size += len(chunk)
        else:
            taken.append(chunk)
            size += len(chunk)
        if size >= budget:
            break
    return taken


async def in_threads(iterator: Iterator[bytes | StoredFile]):
    # Chunks are read in a worker thread, about CHUNK bytes a hop: file reads never
    # block the event loop, and small chunks (part headers) cost no hop of their own.
    # The next hop's read runs while this one's chunks are sent.
    ahead = asyncio.ensure_future(asyncio.to_thread(_take, iterator, CHUNK))
    try:
        while taken := await ahead:
            ahead = asyncio.ensure_future(asyncio.to_thread(_take, iterator, CHUNK))
            for chunk in taken:
                yield chunk
    finally:
        # Closed early (the client went away): the read ahead finishes in its thread
        # before the iterator, and the file it has open, can be let go.
        await asyncio.wait([ahead])
        if not ahead.cancelled():
            ahead.exception()


def streaming_response(
    request,
    chunks: Iterator[bytes | StoredFile],
    content_type: str,
    length: int | None = None,
    stored: bool = False,
):
    """A streamed answer; ``length`` (when the chunks are known to make exactly that many
    bytes) becomes its Content-Length.

    ``stored``: the chunks are stored files and bytes already in memory (no reading or
    work to make them). They are then also the response's ``stored_chunks``, for an
    application that sends the files itself (``fastread``); whoever iterates the response
    instead gets them as bytes. Only one of the two is consumed.
    """
    body = as_bytes(chunks)
    if isinstance(request, ASGIRequest):
        body = in_threads(body)
    response = StreamingHttpResponse(body, content_type=content_type)
    response.stored_chunks = chunks if stored else None
    if length is not None:
        response["Content-Length"] = str(length)
    return response
