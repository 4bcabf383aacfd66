"""Request bodies: refused with 413 before they are read; uploads streamed to disk.

Against a real Daphne process: the memory at stake is Twisted's, before Django
runs (reading/edge.py).
"""

from __future__ import annotations

import socket

import pytest

MIB = 1024 * 1024
pytestmark = pytest.mark.slow


def post_raw(port: int, path: str, headers: dict, body_chunks) -> bytes:
    """Send a request as a client would, stopping when the server stops reading."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server closed the connection: it answered already
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
    return answer


def zeros(total: int, size: int = MIB):
    block = b"\0" * size
    for _ in range(total // size):
        yield block


def test_big_anonymous_login_post_is_refused_before_it_is_read(daphne_server):
    from tests.security.conftest import peak_rss

    proc, port = daphne_server()
    size = 128 * MIB
    boundary = "x" * 20
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\n'
        + "a" * (size - 200)
    ).encode()
    with peak_rss(proc.pid) as rss:
        answer = post_raw(
            port,
            "/accounts/login/",
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size),
            },
            (head[i : i + MIB] for i in range(0, len(head), MIB)),
        )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert rss["peak"] < 32 * MIB, f"server grew by {rss['peak'] / MIB:.0f} MiB"


def test_chunked_body_is_refused_once_over_the_limit(daphne_server):
    proc, port = daphne_server(REQUEST_MAX_BODY_BYTES=4 * MIB)

    def chunks():
        for block in zeros(64 * MIB):
            yield b"%x\r\n%s\r\n" % (len(block), block)
        yield b"0\r\n\r\n"

    answer = post_raw(
        port,
        "/accounts/login/",
        {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
        chunks(),
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_large_upload_streams_to_disk(daphne_server, attending):
    """150 MiB through the upload API: refused as too large for an instance, never in memory."""
    from reading.accounts.services import create_api_token
    from tests.security.conftest import peak_rss

    key = create_api_token(attending).key
    proc, port = daphne_server(DICOM_MAX_INSTANCE_BYTES=8 * MIB)
    boundary = "b" * 24
    size = 150 * MIB
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.dcm"\r\n'
        "Content-Type: application/dicom\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        yield from zeros(size)
        yield tail

    with peak_rss(proc.pid) as rss:
        answer = post_raw(
            port,
            "/api/uploads/",
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
                "Connection": "close",
                "Authorization": f"Bearer {key}",
            },
            body(),
        )
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b"too large" in rest
    assert rss["peak"] < 64 * MIB, f"server grew by {rss['peak'] / MIB:.0f} MiB"
