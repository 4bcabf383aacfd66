"""WADO-RS through Django's test client: instances as stored, metadata, frames, rendered images."""

from __future__ import annotations

import io
import json

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from reading.accounts.services import create_api_token
from reading.audit.models import AuditEvent
from reading.studies.dicomweb.frames import instance_for_user
from reading.studies.dicomweb.media import iter_multipart, parse_media_type
from reading.studies.models import Instance
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes
from tests.studies.dicomweb_helpers import (
    COMPRESSED_FILES,
    frames_url,
    sample_with_new_uids,
    source_frames,
    split_multipart,
    value,
)

pytestmark = pytest.mark.django_db


def test_retrieve_streams_files_exactly_as_stored(attending_client, archive):
    ct = archive["ct"]
    study_uid, series_uid = ct[0].StudyInstanceUID, ct[0].SeriesInstanceUID
    response = attending_client.get(
        f"/dicomweb/studies/{study_uid}",
        headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'},
    )
    assert response.status_code == 200 and response.streaming
    parts = split_multipart(response)
    assert [ct_ for ct_, _ in parts] == ["application/dicom"] * 3
    assert [payload for _, payload in parts] == [to_bytes(ds) for ds in ct]
    series = attending_client.get(f"/dicomweb/studies/{study_uid}/series/{series_uid}")
    assert len(split_multipart(series)) == 3
    one = attending_client.get(
        f"/dicomweb/studies/{study_uid}/series/{series_uid}/instances/{ct[0].SOPInstanceUID}",
        headers={"Accept": "application/dicom"},
    )
    assert b"".join(one.streaming_content) == to_bytes(ct[0])
    refused = attending_client.get(
        f"/dicomweb/studies/{study_uid}",
        headers={"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=1.2.3'},
    )
    assert refused.status_code == 406
    assert AuditEvent.objects.filter(action="retrieve", study_instance_uid=study_uid).exists()


@pytest.mark.django_db(transaction=True)
async def test_retrieve_streams_asynchronously_under_asgi(async_client, attending):
    """Under ASGI the multipart body is an async iterator reading files in threads."""
    from asgiref.sync import sync_to_async

    series = make_ct_series(3, rows=64, columns=64)
    for ds in series:
        assert (await sync_to_async(ingest_instance)(to_bytes(ds))).ok
    token = await sync_to_async(create_api_token)(attending)
    response = await async_client.get(
        f"/dicomweb/studies/{series[0].StudyInstanceUID}",
        headers={"Authorization": f"Bearer {token.key}"},
    )
    assert response.status_code == 200 and response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content])
    _, params = parse_media_type(response["Content-Type"])
    parts = list(iter_multipart(io.BytesIO(body).read, params["boundary"]))
    assert [p.payload for p in parts] == [to_bytes(ds) for ds in series]


def test_metadata_has_absolute_bulkdata_uris(attending_client, archive):
    ct = archive["ct"]
    study_uid = ct[0].StudyInstanceUID
    response = attending_client.get(f"/dicomweb/studies/{study_uid}/metadata")
    assert response.status_code == 200
    items = json.loads(response.content)
    assert len(items) == 3
    uri = items[0]["7FE00010"]["BulkDataURI"]
    assert uri == (
        f"http://testserver/dicomweb/studies/{study_uid}/series/{ct[0].SeriesInstanceUID}"
        f"/instances/{ct[0].SOPInstanceUID}/bulkdata/7FE00010"
    )
    bulk = attending_client.get(uri, headers={"Accept": "application/octet-stream"})
    assert bulk.content == ct[0].PixelData
    assert AuditEvent.objects.filter(action="metadata", study_instance_uid=study_uid).exists()


def test_absolute_urls_follow_host_port_or_setting(attending_client, archive, settings):
    uid = archive["mr"][0].StudyInstanceUID
    settings.ALLOWED_HOSTS = ["pacs.example.org", "localhost", "testserver"]

    def retrieve_url(**extra):
        response = attending_client.get("/dicomweb/studies", {"StudyInstanceUID": uid}, **extra)
        return value(json.loads(response.content)[0], "00081190")

    assert retrieve_url(HTTP_HOST="pacs.example.org") == (
        f"http://pacs.example.org/dicomweb/studies/{uid}"
    )
    # A loopback Host without its port (as dicomweb-client sends it) gets the server's port.
    assert retrieve_url(HTTP_HOST="localhost", SERVER_PORT="8000") == (
        f"http://localhost:8000/dicomweb/studies/{uid}"
    )
    settings.DICOMWEB_ROOT_URL = "https://reading.example.org/dicomweb"
    assert retrieve_url() == f"https://reading.example.org/dicomweb/studies/{uid}"


def test_native_frames_by_seek_and_read(attending_client):
    pixels = np.arange(3 * 16 * 16, dtype=np.int16).reshape(3, 16, 16)
    ds = make_dataset(rows=16, columns=16)
    ds.NumberOfFrames = 3
    ds.PixelData = pixels.tobytes()
    assert ingest_instance(to_bytes(ds)).ok
    response = attending_client.get(
        frames_url(ds, "3,1"),
        headers={"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'},
    )
    parts = split_multipart(response)
    assert [h for h, _ in parts] == [
        "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    ] * 2
    assert parts[0][1] == pixels[2].tobytes() and parts[1][1] == pixels[0].tobytes()
    assert attending_client.get(frames_url(ds, "4")).status_code == 404
    jpeg_only = attending_client.get(
        frames_url(ds), headers={"Accept": 'multipart/related; type="image/jpeg"'}
    )
    assert jpeg_only.status_code == 406


def test_frame_request_is_one_query_and_defers_the_rest(
    token_client, attending, django_assert_max_num_queries
):
    ds = make_dataset(rows=16, columns=16)
    assert ingest_instance(to_bytes(ds)).ok
    accept = {"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'}
    token_client.get(frames_url(ds), headers=accept)  # the audit record is written once
    # The token lookup, then one query for instance + series + study + patient.
    with django_assert_max_num_queries(2):
        response = token_client.get(frames_url(ds), headers=accept)
    assert split_multipart(response)[0][1] == ds.PixelData
    instance = instance_for_user(
        attending,
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
    )
    assert instance.series.study.patient.patient_id == "MRN0001"
    assert instance.metadata["00080018"]["Value"] == [ds.SOPInstanceUID]  # deferred, loads


@pytest.mark.parametrize("name", COMPRESSED_FILES)
def test_compressed_frames_pass_through_or_decode(attending_client, name):
    ds = sample_with_new_uids(name)
    assert ingest_instance(to_bytes(ds)).ok
    n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = ",".join(str(i + 1) for i in range(n))
    syntax = str(ds.file_meta.TransferSyntaxUID)
    passed = split_multipart(
        attending_client.get(
            frames_url(ds, frames),
            headers={
                "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
            },
        )
    )
    assert [h for h, _ in passed] == [f"application/octet-stream; transfer-syntax={syntax}"] * n
    assert [p for _, p in passed] == source_frames(ds)
    # Without a transfer syntax, application/octet-stream means uncompressed (PS3.18 8.7.3.5).
    decoded = split_multipart(
        attending_client.get(
            frames_url(ds, "1"),
            headers={"Accept": 'multipart/related; type="application/octet-stream"'},
        )
    )
    assert decoded[0][0] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    expected = pydicom.pixels.pixel_array(get_testdata_file(name), index=0)
    assert decoded[0][1] == expected.tobytes()
    wrong = attending_client.get(
        frames_url(ds),
        headers={
            "Accept": 'multipart/related; type="application/octet-stream"; '
            "transfer-syntax=1.2.840.10008.1.2.4.201"
        },
    )
    assert wrong.status_code == 406


def test_compressed_frames_without_recorded_fragments_use_pydicom(attending_client):
    ds = sample_with_new_uids("SC_rgb_rle_2frame.dcm")
    assert ingest_instance(to_bytes(ds)).ok
    # As for a file whose fragments could not be grouped into frames at ingest.
    Instance.objects.update(frame_offsets=None)
    single = attending_client.get(
        frames_url(ds, "2"),
        headers={"Accept": "image/dicom-rle, image/x-dicom-rle"},
    )
    assert single["Content-Type"] == "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"
    assert single.content == source_frames(ds)[1]


def test_rendered_and_thumbnails(attending_client, archive):
    ds = archive["ct"][1]
    base = frames_url(ds).rsplit("/frames/", 1)[0]
    jpeg = attending_client.get(base + "/rendered", headers={"Accept": "image/jpeg"})
    assert jpeg.status_code == 200 and jpeg["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(jpeg.content)).size == (32, 32)

    def png(url, **params):
        response = attending_client.get(url, params, headers={"Accept": "image/png"})
        assert response["Content-Type"] == "image/png"
        return np.asarray(Image.open(io.BytesIO(response.content)))

    # The file's own window (40/400) lies above every stored value (-1008..-520 HU
    # after the rescale): all black. A window over those values shows a ramp.
    assert png(base + "/frames/1/rendered").max() == 0
    ramp = png(base + "/frames/1/rendered", window="-764,512")
    assert ramp.min() < 20 and ramp.max() > 200 and ramp[0, 0] < ramp[-1, -1]
    assert png(base + "/rendered", window="-2000,20,linear").min() == 255
    assert png(base + "/rendered", window="-2000,20,sigmoid").min() >= 254
    assert attending_client.get(base + "/rendered", {"window": "x"}).status_code == 400
    study = ds.StudyInstanceUID
    for url in (
        f"/dicomweb/studies/{study}/thumbnail",
        f"/dicomweb/studies/{study}/series/{ds.SeriesInstanceUID}/thumbnail",
        base + "/thumbnail",
    ):
        thumb = attending_client.get(url, {"viewport": "16,16"})
        assert thumb.status_code == 200, url
        assert Image.open(io.BytesIO(thumb.content)).size == (16, 16)
    assert AuditEvent.objects.filter(action="render").exists()


def test_an_instance_with_rows_but_no_pixel_data_has_no_image(attending_client):
    series = make_ct_series(2, rows=8, columns=8)
    del series[1].PixelData  # Rows and Columns, but nothing to show
    for ds in series:
        assert ingest_instance(to_bytes(ds)).ok
    base = frames_url(series[1]).rsplit("/frames/", 1)[0]
    assert attending_client.get(base + "/rendered").status_code == 404
    assert attending_client.get(base + "/frames/1/rendered").status_code == 404
    series_url = base.rsplit("/instances/", 1)[0]
    parts = split_multipart(
        attending_client.get(
            series_url + "/rendered", headers={"Accept": 'multipart/related; type="image/png"'}
        )
    )
    assert [content_type for content_type, _ in parts] == ["image/png"]  # the one image


@pytest.mark.parametrize("name", COMPRESSED_FILES)
def test_rendered_decodes_compressed(attending_client, name):
    ds = sample_with_new_uids(name)
    assert ingest_instance(to_bytes(ds)).ok
    base = frames_url(ds).rsplit("/frames/", 1)[0]
    response = attending_client.get(base + "/rendered", HTTP_ACCEPT="image/png")
    assert response.status_code == 200, response.content
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (ds.Columns, ds.Rows)
    assert image.mode == ("RGB" if ds.SamplesPerPixel == 3 else "L")
    assert np.asarray(image).std() > 0
