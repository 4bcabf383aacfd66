"""A body Daphne wrote to a temporary file is Django's request body as it is (reading/edge.py).

No second copy into Django's spooled file; the limits, the access checks and the
STOW-RS answer are those of any other request.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import tempfile

import pytest
from django.core.exceptions import RequestAborted

from reading.edge import HandedReceive
from reading.handler import HandedBodyASGIHandler
from tests.dicom_factory import make_ct_series, to_bytes


def _daphne_message(*messages: dict):
    """Daphne's ``receive``: these messages, the last one repeated."""
    queue = list(messages)

    async def receive():
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return receive


EMPTY_BODY = {"type": "http.request", "body": b"", "more_body": False}


def _body_file(data: bytes):
    fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the test
    fh.write(data)
    return fh  # left at its end, as Twisted leaves it before it seeks


def test_django_takes_the_handed_file_itself():
    data = b"x" * 300_000
    fh = _body_file(data)
    body = asyncio.run(
        HandedBodyASGIHandler().read_body(HandedReceive(fh, _daphne_message(EMPTY_BODY)))
    )
    assert body is fh
    assert body.read() == data
    fh.close()


def test_a_client_gone_before_the_view_aborts_the_request():
    fh = _body_file(b"x" * 1000)
    receive = HandedReceive(fh, _daphne_message({"type": "http.disconnect"}))
    with pytest.raises(RequestAborted):
        asyncio.run(HandedBodyASGIHandler().read_body(receive))
    fh.close()


def test_other_applications_read_the_handed_file_in_chunks():
    data = bytes(range(256)) * 5000  # 1.28 MB: two chunks
    fh = _body_file(data)
    fh.seek(0)
    receive = HandedReceive(fh, _daphne_message(EMPTY_BODY, {"type": "http.disconnect"}))

    async def read_all():
        chunks = []
        while (message := await receive())["type"] == "http.request":
            chunks.append(message["body"])
            if not message["more_body"]:
                break
        return b"".join(chunks), await receive()

    body, after = asyncio.run(read_all())
    assert body == data
    assert after == {"type": "http.disconnect"}  # then the server's own messages
    fh.close()


@pytest.mark.slow
def test_stow_through_daphne_stores_what_was_sent(daphne_server, attending, outsider):
    """A STOW-RS body over Twisted's 100 kB in-memory threshold, stored byte for byte;
    someone without image access is still refused."""
    from reading.accounts.services import create_api_token
    from reading.studies.models import Instance

    payloads = [to_bytes(ds) for ds in make_ct_series(4, rows=128, columns=128)]
    boundary = "handedboundary"
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + raw + b"\r\n"
            for raw in payloads
        )
        + f"--{boundary}--\r\n".encode()
    )
    assert len(body) > 100_000
    _, port = daphne_server()

    def post(key):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(
            "POST",
            "/dicomweb/studies",
            body=body,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
        )
        response = conn.getresponse()
        return response.status, response.read()

    status, _ = post(create_api_token(outsider).key)
    assert status == 403
    assert not Instance.objects.exists()

    status, answer = post(create_api_token(attending).key)
    assert status == 200, answer[:300]
    assert len(json.loads(answer)["00081199"]["Value"]) == 4
    stored = set(Instance.objects.values_list("sha256", flat=True))
    assert stored == {hashlib.sha256(raw).hexdigest() for raw in payloads}
