"""Media types, Accept negotiation and multipart/related bodies (PS3.18 8.7, RFC 2387).

Pure functions over headers and byte streams; no database access here.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
DEFLATED_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1.99"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
NATIVE_SYNTAXES = {EXPLICIT_VR_LE, IMPLICIT_VR_LE, DEFLATED_EXPLICIT_VR_LE, BIG_ENDIAN}

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
OCTET_STREAM = "application/octet-stream"

# PS3.18 Table 8.7.4-1: the single-frame media types of the compressed syntaxes.
COMPRESSED_MEDIA_TYPES: dict[str, tuple[str, ...]] = {
    "1.2.840.10008.1.2.5": ("image/dicom-rle", "image/x-dicom-rle"),
    "1.2.840.10008.1.2.4.50": ("image/jpeg",),
    "1.2.840.10008.1.2.4.51": ("image/jpeg",),
    "1.2.840.10008.1.2.4.57": ("image/jpeg",),
    "1.2.840.10008.1.2.4.70": ("image/jpeg",),
    "1.2.840.10008.1.2.4.80": ("image/jls", "image/x-jls"),
    "1.2.840.10008.1.2.4.81": ("image/jls", "image/x-jls"),
    "1.2.840.10008.1.2.4.90": ("image/jp2",),
    "1.2.840.10008.1.2.4.91": ("image/jp2",),
    "1.2.840.10008.1.2.4.92": ("image/jpx",),
    "1.2.840.10008.1.2.4.93": ("image/jpx",),
    "1.2.840.10008.1.2.4.201": ("image/jphc",),
    "1.2.840.10008.1.2.4.202": ("image/jphc",),
    "1.2.840.10008.1.2.4.203": ("image/jphc",),
}


class NotAcceptable(Exception):
    """No representation the client accepts can be produced (HTTP 406)."""


class UnsupportedMediaType(Exception):
    """A request body the server does not take (HTTP 415)."""


def split_header_list(value: str) -> list[str]:
    """Split a header on commas that are not inside quotes."""
    items, current, quoted = [], [], False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``'multipart/related; type="application/dicom"'`` -> (media type, parameters).

    Parameter names are lower-cased; values are unquoted but keep their case.
    """
    parts = []
    current, quoted = [], False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    media_type = parts[0].strip().lower()
    params: dict[str, str] = {}
    for part in parts[1:]:
        name, sep, val = part.partition("=")
        if not sep:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        params[name.strip().lower()] = val
    return media_type, params


@dataclass(frozen=True)
class AcceptEntry:
    """One media range of an Accept header, unwrapped from multipart/related."""

    media_type: str  # for multipart/related: the ``type`` parameter ("*/*" when absent)
    multipart: bool
    transfer_syntax: str | None  # None: not given (the media type's default applies)
    q: float = 1.0
    params: dict[str, str] = field(default_factory=dict)

    def matches(self, media_type: str) -> bool:
        if self.media_type in ("*/*", "*"):
            return True
        major, _, minor = self.media_type.partition("/")
        if minor == "*":
            return media_type.startswith(major + "/")
        return self.media_type == media_type


def parse_accept(header: str | None) -> list[AcceptEntry]:
    """Accept header (PS3.18 8.7.1) -> entries, best first; ``*/*`` when absent."""
    return list(_parse_accept(header))


@functools.lru_cache(maxsize=256)
def _parse_accept(header: str | None) -> tuple[AcceptEntry, ...]:
    # A viewer sends the same few Accept headers on every frame request.
    entries = []
    for index, item in enumerate(split_header_list(header or "*/*")):
        media_type, params = parse_media_type(item)
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if q <= 0:
            continue
        multipart = media_type == "multipart/related"
        inner = params.get("type", "*/*").lower() if multipart else media_type
        entry = AcceptEntry(inner, multipart, params.get("transfer-syntax"), q, params)
        entries.append((-q, index, entry))
    return tuple(entry for _, _, entry in sorted(entries, key=lambda e: (e[0], e[1])))


def new_boundary() -> str:
    return uuid.uuid4().hex


def multipart_content_type(part_type: str, boundary: str, transfer_syntax: str | None = None):
    value = f'multipart/related; type="{part_type}"; boundary={boundary}'
    if transfer_syntax:
        value += f"; transfer-syntax={transfer_syntax}"
    return value


def part_header(
    boundary: str, content_type: str, location: str | None = None, length: int | None = None
) -> bytes:
    lines = [f"--{boundary}", f"Content-Type: {content_type}"]
    if location:
        lines.append(f"Content-Location: {location}")
    if length is not None:
        # Lets a reader take the payload without searching it for the delimiter.
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def closing_delimiter(boundary: str) -> bytes:
    return f"--{boundary}--\r\n".encode("ascii")


def multipart_body(boundary: str, parts: Iterable[tuple[str, bytes]]) -> bytes:
    """A complete multipart/related body from (content type, payload) pairs."""
    chunks = []
    for content_type, payload in parts:
        chunks += [part_header(boundary, content_type), payload, b"\r\n"]
    chunks.append(closing_delimiter(boundary))
    return b"".join(chunks)


@dataclass
class BodyPart:
    """One part of a received multipart body."""

    headers: dict[str, str]
    payload: bytes
    complete: bool  # False when the body ended before this part's closing delimiter
    oversized: bool = False  # over ``max_part_bytes``: payload dropped

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class MultipartError(Exception):
    """The body is not a multipart/related message at all."""


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def iter_multipart(
    read, boundary: str, *, chunk_size: int = 1 << 20, max_part_bytes: int | None = None
) -> Iterator[BodyPart]:
    """Parse a multipart body (RFC 2046 5.1.1) from ``read(n)``, one part at a time.

    Only one part is held in memory at once. A body cut short yields its last
    part with ``complete=False``; a part over ``max_part_bytes`` is yielded
    empty and incomplete and the rest of it is skipped.

    Raises
    ------
    MultipartError
        When no boundary delimiter is found at all.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    body_delimiter = b"\r\n" + delimiter
    buf = bytearray()
    eof = False

    def fill() -> bool:
        nonlocal eof
        if eof:
            return False
        data = read(chunk_size)
        if not data:
            eof = True
            return False
        buf.extend(data)
        return True

    # Preamble: the first delimiter may start the body or follow a CRLF.
    while True:
        if buf.startswith(delimiter):
            start = 0
            break
        start = buf.find(body_delimiter)
        if start >= 0:
            start += 2
            break
        if not fill():
            raise MultipartError("no multipart boundary delimiter found in the body")
    del buf[: start + len(delimiter)]

    while True:
        # After a delimiter: "--" closes the body, otherwise padding then CRLF.
        while len(buf) < 2 and fill():
            pass
        if buf[:2] == b"--" or (not buf and eof):
            return
        while (eol := buf.find(b"\r\n")) < 0:
            if not fill():
                return
        del buf[: eol + 2]
        while (end := buf.find(b"\r\n\r\n")) < 0:
            if buf.startswith(b"\r\n"):  # a part without headers
                end = -2
                break
            if not fill():
                yield BodyPart(_parse_headers(bytes(buf)), b"", complete=False)
                return
        headers = _parse_headers(bytes(buf[: max(end, 0)]))
        del buf[: end + 4]
        searched = 0
        oversized = False
        while (pos := buf.find(body_delimiter, searched)) < 0:
            searched = max(0, len(buf) - len(body_delimiter))
            if max_part_bytes is not None and len(buf) > max_part_bytes + len(body_delimiter):
                # Keep only the tail that may hold the start of the delimiter.
                oversized = True
                del buf[: len(buf) - len(body_delimiter)]
                searched = 0
            if not fill():
                payload = b"" if oversized else bytes(buf)
                yield BodyPart(headers, payload, complete=False, oversized=oversized)
                return
        payload = b"" if oversized else bytes(buf[:pos])
        del buf[: pos + len(body_delimiter)]
        yield BodyPart(headers, payload, complete=not oversized, oversized=oversized)
