"""Daphne's ``send`` waits for the socket while a body is streamed (reading/edgeflow.py).

Against a real Daphne: an application streaming 256 MiB to a client that stops
reading is held back by the socket instead of piling the body up in the server,
the client still gets every byte, and a client that goes away releases it.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys
import time

import pytest

from reading.devserver import ROOT, start_daphne, stop
from tests.security.conftest import peak_rss, wait_for_text

MIB = 1 << 20
MESSAGES = 256

APP = f"""
import os
from reading.edgeflow import install_daphne_flow_control

install_daphne_flow_control()
BLOCK = b"x" * {MIB}

from twisted.internet import tcp

SENDS = [0]
_write_some_data = tcp.Connection.writeSomeData


def counted_write(self, data):
    SENDS[0] += 1
    return _write_some_data(self, data)


tcp.Connection.writeSomeData = counted_write


async def application(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"%d" % ({MESSAGES} * len(BLOCK)))]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    for _ in range({MESSAGES}):
        await send({{"type": "http.response.body", "body": BLOCK, "more_body": True}})
    await send({{"type": "http.response.body", "body": b""}})
    with open(os.environ["FLOW_DONE"], "a") as fh:
        fh.write(f"{{scope['path']}} {{SENDS[0]}}\\n")
"""


@pytest.fixture
def streaming_server(tmp_path):
    (tmp_path / "flow_app.py").write_text(APP)
    done = tmp_path / "done"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "FLOW_DONE": str(done),
    }
    proc, port = start_daphne(
        env, app="flow_app:application", cwd=tmp_path, log_path=tmp_path / "daphne.log"
    )
    yield proc, port, done
    stop(proc)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resident memory via /proc")
def test_a_client_that_stops_reading_holds_the_application_back(streaming_server):
    proc, port, done = streaming_server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/slow")
    response = conn.getresponse()
    assert response.status == 200
    with peak_rss(proc.pid) as grown:
        time.sleep(1.5)  # nothing read: only the socket's buffers are between the two
    assert not done.exists()
    assert grown["peak"] < 64 * MIB, f"the server buffered {grown['peak'] / MIB:.0f} MiB"
    assert len(response.read()) == MESSAGES * MIB
    assert wait_for_text(done, "/slow")


@pytest.mark.slow
def test_a_reading_client_gets_up_to_a_megabyte_a_send(streaming_server):
    """Twisted's own limit is 128 KiB a send: 256 MiB would take at least 2,048 sends."""
    _, port, done = streaming_server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/fast")
    response = conn.getresponse()
    buffer, size = memoryview(bytearray(MIB)), 0
    while count := response.readinto(buffer):
        size += count
    assert size == MESSAGES * MIB
    assert wait_for_text(done, "/fast")
    sends = int(done.read_text().split()[-1])
    assert sends < MESSAGES * 4, f"{sends} sends for {MESSAGES} MiB"


@pytest.mark.slow
def test_a_client_that_goes_away_releases_the_application(streaming_server):
    _, port, done = streaming_server
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /gone HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    assert wait_for_text(done, "/gone"), "the application is still waiting on a closed socket"
