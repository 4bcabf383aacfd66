"""WADO-RS Series Pixel Data (PS3.18 10.4.1.1.6): a series' frames as bulk data parts."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.test import Client

from reading.audit.models import AuditEvent
from reading.studies.dicomweb.media import iter_multipart, parse_media_type
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes
from tests.studies.asgi_client import asgi_get
from tests.studies.dicomweb_helpers import sample_with_new_uids, source_frames
from tests.studies.test_dicomweb_fastpath import (
    ANY_SYNTAX,
    session_cookie_for,
)

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"


def store(*datasets):
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok


def pixeldata_url(ds, uids: list[str] | None = None) -> str:
    url = f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/pixeldata"
    return url + (f"?SOPInstanceUID={','.join(uids)}" if uids is not None else "")


def body_parts(content_type: str, body: bytes):
    media_type, params = parse_media_type(content_type)
    assert media_type == "multipart/related"
    assert params["type"] == "application/octet-stream"
    return list(iter_multipart(io.BytesIO(body).read, params["boundary"]))


def get_parts(client: Client, url: str, accept: str = ANY_SYNTAX):
    response = client.get(url, headers={"Accept": accept})
    assert response.status_code == 200, response.content
    assert response.streaming
    return body_parts(response["Content-Type"], b"".join(response.streaming_content))


@pytest.mark.django_db
def test_series_frames_in_instance_order_with_location_and_length(attending_client):
    ct = make_ct_series(3)
    store(ct[2], ct[0], ct[1])
    parts = get_parts(attending_client, pixeldata_url(ct[0]))
    assert all(p.complete for p in parts)
    assert [p.payload for p in parts] == [ds.PixelData for ds in ct]
    for part, ds in zip(parts, ct, strict=True):
        assert (
            part.headers["content-type"]
            == f"application/octet-stream; transfer-syntax={EXPLICIT_VR_LE}"
        )
        assert part.headers["content-location"] == (
            f"http://testserver/dicomweb/studies/{ds.StudyInstanceUID}/series/"
            f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}/frames/1"
        )
        assert int(part.headers["content-length"]) == len(part.payload)
    event = AuditEvent.objects.get(action="retrieve", study_instance_uid=ct[0].StudyInstanceUID)
    assert event.detail == "pixeldata"


@pytest.mark.django_db
def test_instance_filter_keeps_the_listed_order(attending_client):
    ct = make_ct_series(4)
    store(*ct)
    wanted = [ct[3], ct[1]]
    parts = get_parts(attending_client, pixeldata_url(ct[0], [d.SOPInstanceUID for d in wanted]))
    assert [p.payload for p in parts] == [d.PixelData for d in wanted]
    assert [p.headers["content-location"].rsplit("/instances/", 1)[1] for p in parts] == [
        f"{d.SOPInstanceUID}/frames/1" for d in wanted
    ]


@pytest.mark.django_db
def test_every_frame_of_a_multiframe_instance(attending_client):
    pixels = np.arange(3 * 8 * 8, dtype=np.int16).reshape(3, 8, 8)
    ds = make_dataset(rows=8, columns=8)
    ds.NumberOfFrames = 3
    ds.PixelData = pixels.tobytes()
    store(ds)
    parts = get_parts(attending_client, pixeldata_url(ds, [ds.SOPInstanceUID]))
    assert [p.payload for p in parts] == [f.tobytes() for f in pixels]
    assert [p.headers["content-location"].rsplit("/", 1)[1] for p in parts] == ["1", "2", "3"]


@pytest.mark.django_db
def test_compressed_frames_pass_through_in_their_syntax(attending_client):
    ds = sample_with_new_uids("SC_rgb_rle_2frame.dcm")
    store(ds)
    parts = get_parts(attending_client, pixeldata_url(ds))
    syntax = ds.file_meta.TransferSyntaxUID
    assert [p.headers["content-type"] for p in parts] == [
        f"application/octet-stream; transfer-syntax={syntax}"
    ] * 2
    assert [p.payload for p in parts] == source_frames(ds)
    # Asked for uncompressed frames, the server decodes them.
    decoded = get_parts(
        attending_client,
        pixeldata_url(ds),
        f'multipart/related; type="application/octet-stream"; transfer-syntax={EXPLICIT_VR_LE}',
    )
    assert [len(p.payload) for p in decoded] == [ds.Rows * ds.Columns * 3] * 2
    refused = attending_client.get(
        pixeldata_url(ds),
        headers={
            "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.3'
        },
    )
    assert refused.status_code == 406


@pytest.mark.django_db
def test_unknown_instances_and_long_lists_are_refused(attending_client, settings):
    ct = make_ct_series(2)
    other = make_dataset()
    store(*ct, other)
    assert attending_client.get(pixeldata_url(ct[0], [other.SOPInstanceUID])).status_code == 404
    assert attending_client.get(pixeldata_url(ct[0], ["1.2.3.4"])).status_code == 404
    assert attending_client.get(pixeldata_url(ct[0]) + "?SOPInstanceUID=").status_code == 400
    settings.DICOMWEB_MAX_FRAMES = 1
    uids = [d.SOPInstanceUID for d in ct]
    assert attending_client.get(pixeldata_url(ct[0], uids)).status_code == 400
    missing = pixeldata_url(ct[0]).replace(ct[0].SeriesInstanceUID, "1.2.3")
    assert attending_client.get(missing).status_code == 404


@pytest.mark.django_db
def test_series_without_frames_is_404(attending_client):
    ds = make_dataset()
    del ds.PixelData
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit"):
        delattr(ds, keyword)
    ds.Modality = "SR"
    store(ds)
    assert attending_client.get(pixeldata_url(ds)).status_code == 404


@pytest.mark.django_db
def test_outsider_and_anonymous_get_no_pixels(outsider_client, client):
    ct = make_ct_series(2)
    store(*ct)
    response = outsider_client.get(pixeldata_url(ct[0]), headers={"Accept": ANY_SYNTAX})
    assert response.status_code == 403
    assert (
        b"".join(getattr(response, "streaming_content", [response.content])).find(ct[0].PixelData)
        < 0
    )
    anonymous = client.get(pixeldata_url(ct[0]), headers={"Accept": ANY_SYNTAX})
    assert anonymous.status_code in (401, 403)
    assert not AuditEvent.objects.filter(action="retrieve").exists()


@pytest.mark.django_db(transaction=True)
async def test_fast_path_serves_the_viewer_batches(attending, django_calls):
    from asgiref.sync import sync_to_async

    from reading.asgi import application

    ct = make_ct_series(4)
    await sync_to_async(store)(*ct)
    auth = {**(await session_cookie_for(attending)), "Accept": ANY_SYNTAX}
    wanted = [ct[2], ct[0], ct[3]]
    url = pixeldata_url(ct[0], [d.SOPInstanceUID for d in wanted])
    status, headers, body = await asgi_get(application, url, auth)
    assert status == 200
    assert django_calls.paths == []  # answered ahead of Django
    fast = body_parts(headers["content-type"][0], body)
    assert [p.payload for p in fast] == [d.PixelData for d in wanted]
    assert headers["cache-control"] == ["no-store, private"]
    # The same parts as Django's own answer (whole series: Django's).
    status, headers, body = await asgi_get(application, pixeldata_url(ct[0]), auth)
    assert status == 200 and django_calls.paths == [pixeldata_url(ct[0])]
    slow = {p.headers["content-location"]: p for p in body_parts(headers["content-type"][0], body)}
    for part in fast:
        assert part.headers == slow[part.headers["content-location"]].headers
        assert part.payload == slow[part.headers["content-location"]].payload
    events = await sync_to_async(list)(
        AuditEvent.objects.filter(action="retrieve").values_list("detail", flat=True)
    )
    assert events == ["pixeldata"]


@pytest.mark.django_db(transaction=True)
async def test_fast_path_leaves_refusals_to_django(attending, outsider, django_calls):
    from asgiref.sync import sync_to_async

    from reading.asgi import application

    ct = make_ct_series(2)
    other = make_dataset()
    await sync_to_async(store)(*ct, other)
    uids = [d.SOPInstanceUID for d in ct]
    outsider_auth = {**(await session_cookie_for(outsider)), "Accept": ANY_SYNTAX}
    status, _, body = await asgi_get(application, pixeldata_url(ct[0], uids), outsider_auth)
    assert status == 403 and ct[0].PixelData not in body
    auth = {**(await session_cookie_for(attending)), "Accept": ANY_SYNTAX}
    status, _, _ = await asgi_get(
        application, pixeldata_url(ct[0], [*uids, other.SOPInstanceUID]), auth
    )
    assert status == 404
    status, _, _ = await asgi_get(application, pixeldata_url(ct[0], uids), {"Accept": ANY_SYNTAX})
    assert status in (401, 403)
    assert len(django_calls.paths) == 3


@pytest.mark.django_db(transaction=True)
async def test_streams_under_asgi(attending):
    """Through the ASGI application (the frames fast path hands it on to Django)."""
    from asgiref.sync import sync_to_async

    from reading.asgi import application

    ct = make_ct_series(3)
    await sync_to_async(store)(*ct)
    auth = await session_cookie_for(attending)
    status, headers, body = await asgi_get(
        application, pixeldata_url(ct[0]), {**auth, "Accept": ANY_SYNTAX}
    )
    assert status == 200
    assert [p.payload for p in body_parts(headers["content-type"][0], body)] == [
        d.PixelData for d in ct
    ]
