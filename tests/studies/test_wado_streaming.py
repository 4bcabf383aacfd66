"""WADO-RS instances streamed from disk (reading/studies/dicomweb/streaming.py).

As stored, the multipart body's length is declared up front; transcoded, it is
not. Under ASGI the files are read ahead on a worker thread, which a client that
goes away must not leave reading.
"""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from reading.accounts.services import create_api_token
from reading.studies.dicomweb import streaming
from reading.studies.dicomweb.media import iter_multipart, parse_media_type
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes

SERIES_ACCEPT = 'multipart/related; type="application/dicom"'


def payloads(response, body: bytes) -> list[bytes]:
    _, params = parse_media_type(response["Content-Type"])
    return [p.payload for p in iter_multipart(io.BytesIO(body).read, params["boundary"])]


@pytest.mark.django_db(transaction=True)
async def test_series_length_is_declared_and_exact_under_asgi(async_client, attending, outsider):
    series = make_ct_series(4, rows=64, columns=64)
    for ds in series:
        assert (await sync_to_async(ingest_instance)(to_bytes(ds))).ok
    url = f"/dicomweb/studies/{series[0].StudyInstanceUID}/series/{series[0].SeriesInstanceUID}"
    token = await sync_to_async(create_api_token)(attending)
    response = await async_client.get(
        url, headers={"Authorization": f"Bearer {token.key}", "Accept": SERIES_ACCEPT}
    )
    assert response.status_code == 200 and response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content])
    assert int(response["Content-Length"]) == len(body)
    assert payloads(response, body) == [to_bytes(ds) for ds in series]

    other = await sync_to_async(create_api_token)(outsider)
    refused = await async_client.get(
        url, headers={"Authorization": f"Bearer {other.key}", "Accept": SERIES_ACCEPT}
    )
    assert refused.status_code in (403, 404)


@pytest.mark.django_db
def test_single_instance_and_transcoded_parts(attending):
    rle = make_ct_series(2, rows=32, columns=32)
    for ds in rle:
        ds.compress(RLELossless)
        assert ingest_instance(to_bytes(ds)).ok
    client = Client(headers={"Authorization": f"Bearer {create_api_token(attending).key}"})
    base = f"/dicomweb/studies/{rle[0].StudyInstanceUID}/series/{rle[0].SeriesInstanceUID}"

    one = client.get(
        f"{base}/instances/{rle[0].SOPInstanceUID}", headers={"Accept": "application/dicom"}
    )
    body = b"".join(one.streaming_content)
    assert body == to_bytes(rle[0]) and int(one["Content-Length"]) == len(body)

    # Transcoded on the fly: no length is promised.
    explicit = client.get(
        base, headers={"Accept": f"{SERIES_ACCEPT}; transfer-syntax={ExplicitVRLittleEndian}"}
    )
    assert explicit.status_code == 200 and "Content-Length" not in explicit
    assert len(payloads(explicit, b"".join(explicit.streaming_content))) == 2


def test_a_file_not_of_its_recorded_size_cuts_the_body_short(tmp_path, settings):
    settings.STORAGE_DIR = tmp_path
    (tmp_path / "a.dcm").write_bytes(b"x" * 10)
    assert b"".join(streaming.file_chunks("a.dcm", 10)) == b"x" * 10
    with pytest.raises(OSError):
        list(streaming.file_chunks("a.dcm", 11))


def test_multipart_length_is_the_length_of_the_body():
    parts = [("application/dicom", b"a" * 5000), ("application/dicom", b""), ("x/y", b"bc")]
    body = b"".join(
        streaming.multipart_chunks("bnd", [(t, lambda p=p: iter([p])) for t, p in parts])
    )
    assert streaming.multipart_length("bnd", [(t, len(p)) for t, p in parts]) == len(body)


async def test_a_stream_closed_early_waits_for_its_read_ahead():
    """The read ahead still running in its thread when the client goes away finishes
    before the iterator can be closed (a generator cannot be closed while it runs)."""
    closed = []

    def chunks():
        try:
            for i in range(50):
                time.sleep(0.05)  # a slow disk: the read ahead is still running at close
                yield bytes([i % 256]) * (1 << 20)
        finally:
            closed.append(True)

    source = chunks()
    stream = streaming.in_threads(source)
    first = await anext(stream)
    assert first[:1] == b"\x00"
    await stream.aclose()
    source.close()  # ValueError ("generator already executing") if a read were still running
    assert closed == [True]
    await asyncio.sleep(0)
