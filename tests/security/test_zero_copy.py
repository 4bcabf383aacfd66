"""ASGI's zero-copy send extension under a real Daphne (reading/edgesend.py).

An application sends file regions between ordinary body messages; the client
gets exactly the bytes, in order, with the Content-Length framing or Twisted's
chunked framing, and a client that goes away releases the application.
"""

from __future__ import annotations

import http.client
import os
import socket
import time

import pytest

from reading.devserver import ROOT, start_daphne, stop
from tests.security.conftest import wait_for_text

MIB = 1 << 20

APP = """
import os
from reading.edgeflow import install_daphne_flow_control
from reading.edgesend import install_zero_copy

install_daphne_flow_control()
install_zero_copy()
DATA = os.environ["ZERO_COPY_DATA"]


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    offered = "http.response.zerocopysend" in scope.get("extensions", {})
    size = os.path.getsize(DATA)
    repeat = int(scope["query_string"] or b"1")
    headers = [(b"x-offered", b"yes" if offered else b"no")]
    if scope["path"] != "/chunked":
        length = repeat * (5 + 1000 + size + 6)
        headers.append((b"content-length", b"%d" % length))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    with open(DATA, "rb") as fh:
        for _ in range(repeat):
            await send({"type": "http.response.body", "body": b"head:", "more_body": True})
            region = {"file": fh, "offset": 10, "count": 1000, "more_body": True}
            await send({"type": "http.response.zerocopysend", **region})
            await send({"type": "http.response.zerocopysend", "file": fh, "more_body": True})
            await send({"type": "http.response.body", "body": b":tail\\n", "more_body": True})
    await send({"type": "http.response.body", "body": b""})
    with open(os.environ["ZERO_COPY_DONE"], "a") as fh:
        fh.write(scope["path"] + "\\n")
"""


@pytest.fixture
def zero_copy_server(tmp_path):
    (tmp_path / "zc_app.py").write_text(APP)
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(3 * MIB + 17))
    done = tmp_path / "done"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "ZERO_COPY_DATA": str(data),
        "ZERO_COPY_DONE": str(done),
    }
    proc, port = start_daphne(
        env, app="zc_app:application", cwd=tmp_path, log_path=tmp_path / "daphne.log"
    )
    yield port, data.read_bytes(), done
    stop(proc)


def _expected(data: bytes, repeat: int) -> bytes:
    return (b"head:" + data[10:1010] + data + b":tail\n") * repeat


@pytest.mark.parametrize("path", ["/length", "/chunked"])
def test_file_regions_arrive_in_order(zero_copy_server, path):
    port, data, done = zero_copy_server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for repeat in (1, 3):  # the second request on the same keep-alive connection
        conn.request("GET", f"{path}?{repeat}")
        response = conn.getresponse()
        assert response.status == 200 and response.getheader("x-offered") == "yes"
        if path == "/chunked":
            assert response.getheader("transfer-encoding") == "chunked"
        assert response.read() == _expected(data, repeat)
    assert wait_for_text(done, path)


def test_a_client_that_goes_away_releases_the_application(zero_copy_server):
    port, _, done = zero_copy_server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /gone?64 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)  # the server is waiting for the socket to take more
    assert wait_for_text(done, "/gone"), "the application is still waiting on a closed socket"
