"""DICOMweb through Django's test client: matching, negotiation, frames, STOW-RS input."""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pydicom
import pytest
from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
from django.test import Client
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames
from pydicom.uid import generate_uid

from reading.accounts.services import create_api_token
from reading.audit.models import AuditEvent
from reading.studies.dicomweb.frames import instance_for_user
from reading.studies.dicomweb.media import iter_multipart, parse_accept, parse_media_type
from reading.studies.models import Instance, Study
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes

pytestmark = pytest.mark.django_db

COMPRESSED_FILES = [
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "SC_rgb_rle_2frame.dcm",
]
DICOM_JSON = "application/dicom+json"


# -- helpers shared with test_dicomweb_client.py ------------------------------------


def sample_with_new_uids(name: str, study_uid: str | None = None) -> pydicom.Dataset:
    """A pydicom sample file with fresh UIDs (several samples share theirs)."""
    ds = pydicom.dcmread(get_testdata_file(name))
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def source_frames(ds: pydicom.Dataset) -> list[bytes]:
    """The frames of a dataset as stored: compressed fragments or native bytes."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if ds.file_meta.TransferSyntaxUID.is_encapsulated:
        return list(generate_frames(ds.PixelData, number_of_frames=n))
    size = len(ds.PixelData) // n
    return [ds.PixelData[i * size : (i + 1) * size] for i in range(n)]


def split_multipart(response) -> list[tuple[str, bytes]]:
    """(part Content-Type, payload) of a multipart/related response."""
    body = b"".join(response.streaming_content) if response.streaming else response.content
    _, params = parse_media_type(response["Content-Type"])
    stream = io.BytesIO(body)
    return [
        (part.content_type, part.payload)
        for part in iter_multipart(stream.read, params["boundary"])
        if part.complete
    ]


def stow_body(payloads: list[bytes], boundary: str = "stowboundary42") -> bytes:
    chunks = []
    for payload in payloads:
        chunks += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), payload]
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def stow(client: Client, payloads: list[bytes], url: str = "/dicomweb/studies", **headers):
    boundary = "stowboundary42"
    return client.post(
        url,
        data=stow_body(payloads, boundary),
        content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
        headers={"Accept": DICOM_JSON, **headers},
    )


def seq_items(payload: dict, tag: str) -> list[dict]:
    return payload.get(tag, {}).get("Value", [])


def value(item: dict, tag: str):
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]


@pytest.fixture
def token_client(attending):
    token = create_api_token(attending)
    return Client(headers={"Authorization": f"Bearer {token.key}"})


@pytest.fixture
def archive():
    """Two patients, three studies, CT and MR."""
    studies = {}
    ct = make_ct_series(
        3,
        patient_id="MRN-A",
        patient_name="Doe^Jane",
        accession="ACC-1",
        study_date=date(2026, 1, 10),
    )
    ct_prior = make_ct_series(
        2,
        patient_id="MRN-A",
        patient_name="Doe^Jane",
        accession="ACC-0",
        study_date=date(2025, 6, 1),
    )
    mr = make_ct_series(
        2,
        patient_id="MRN-B",
        patient_name="Smith^John",
        accession="ACC-2",
        modality="MR",
        study_date=date(2026, 3, 5),
        study_description="MR BRAIN",
    )
    for label, series in (("ct", ct), ("prior", ct_prior), ("mr", mr)):
        for ds in series:
            assert ingest_instance(to_bytes(ds)).ok
        studies[label] = series
    return studies


def _uids(response, tag="0020000D") -> set[str]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(DICOM_JSON)
    return {value(item, tag) for item in json.loads(response.content)}


# -- QIDO-RS --------------------------------------------------------------------


def test_qido_studies_matching(attending_client, archive):
    ct, prior, mr = (archive[k][0].StudyInstanceUID for k in ("ct", "prior", "mr"))
    get = attending_client.get
    assert _uids(get("/dicomweb/studies")) == {ct, prior, mr}
    assert _uids(get("/dicomweb/studies", {"PatientID": "MRN-A"})) == {ct, prior}
    assert _uids(get("/dicomweb/studies", {"00100020": "MRN-B"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientName": "doe*"})) == {ct, prior}
    assert _uids(get("/dicomweb/studies", {"PatientName": "SMITH^J?HN"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientName": "*th^*"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientName": "Doe"})) == set()
    assert _uids(get("/dicomweb/studies", {"StudyDate": "20260110"})) == {ct}
    assert _uids(get("/dicomweb/studies", {"StudyDate": "20260101-20261231"})) == {ct, mr}
    assert _uids(get("/dicomweb/studies", {"StudyDate": "-20251231"})) == {prior}
    assert _uids(get("/dicomweb/studies", {"StudyDate": "20260201-"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"ModalitiesInStudy": "MR"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"ModalitiesInStudy": "CT,MR"})) == {ct, prior, mr}
    assert _uids(get("/dicomweb/studies", {"AccessionNumber": "ACC-0"})) == {prior}
    assert _uids(get("/dicomweb/studies", {"StudyInstanceUID": f"{ct},{mr}"})) == {ct, mr}
    both = get(f"/dicomweb/studies?StudyInstanceUID={ct}&StudyInstanceUID={prior}")
    assert _uids(both) == {ct, prior}
    assert _uids(get("/dicomweb/studies", {"StudyDescription": "mr*"})) == {mr}
    assert _uids(get("/dicomweb/studies", {"PatientID": "MRN-A", "StudyDate": "20250601"})) == {
        prior
    }


def test_qido_bad_parameters_are_400(attending_client, archive):
    assert attending_client.get("/dicomweb/studies", {"StudyDate": "2026-13"}).status_code == 400
    assert attending_client.get("/dicomweb/studies", {"NoSuchThing": "x"}).status_code == 400
    assert attending_client.get("/dicomweb/studies", {"limit": "-1"}).status_code == 400
    assert attending_client.get("/dicomweb/studies", {"includefield": "Nope"}).status_code == 400


def test_qido_study_return_attributes_and_paging(attending_client, archive):
    response = attending_client.get("/dicomweb/studies", {"PatientID": "MRN-A"})
    items = json.loads(response.content)
    # Newest first; the standard return attributes (PS3.18 Table 10.6.3-3).
    assert [value(i, "00080050") for i in items] == ["ACC-1", "ACC-0"]
    first = items[0]
    assert value(first, "00201206") == 1 and value(first, "00201208") == 3
    assert first["00080061"]["Value"] == ["CT"]
    assert value(first, "00100010") == {"Alphabetic": "Doe^Jane"}
    assert value(first, "00080020") == "20260110"
    assert value(first, "00080056") == "ONLINE"
    uid = archive["ct"][0].StudyInstanceUID
    assert value(first, "00081190") == f"http://testserver/dicomweb/studies/{uid}"
    for tag in ("00080005", "00080030", "00080090", "00100030", "00100040", "00200010"):
        assert tag in first
    page = attending_client.get("/dicomweb/studies", {"limit": 1, "offset": 1})
    assert [value(i, "00080050") for i in json.loads(page.content)] == ["ACC-1"]
    fuzzy = attending_client.get("/dicomweb/studies", {"fuzzymatching": "true"})
    assert fuzzy.status_code == 200 and "fuzzymatching" in fuzzy["Warning"]


def test_qido_includefield(attending_client, archive):
    plain = json.loads(attending_client.get("/dicomweb/studies", {"PatientID": "MRN-B"}).content)
    assert "00081030" in plain[0] and "00100030" in plain[0]
    assert "00200052" not in plain[0]
    some = attending_client.get(
        "/dicomweb/studies", {"PatientID": "MRN-B", "includefield": "BodyPartExamined,00180050"}
    )
    item = json.loads(some.content)[0]
    assert "00180015" in json.dumps(item) or value(item, "00180015") is None
    everything = attending_client.get(
        "/dicomweb/series", {"PatientID": "MRN-B", "includefield": "all"}
    )
    series = json.loads(everything.content)[0]
    assert value(series, "00200052") == "1.2.826.0.1.3680043.8.498.1"
    assert value(series, "00100020") == "MRN-B"  # study attributes on /series
    instances = attending_client.get(
        f"/dicomweb/studies/{archive['mr'][0].StudyInstanceUID}/instances",
        {"includefield": "all"},
    )
    inst = json.loads(instances.content)[0]
    assert value(inst, "00280030") == 0.7  # PixelSpacing from the stored metadata
    assert inst["7FE00010"]["BulkDataURI"].startswith("http://testserver/dicomweb/studies/")


def test_qido_series_and_instances(attending_client, archive):
    ct = archive["ct"]
    study_uid, series_uid = ct[0].StudyInstanceUID, ct[0].SeriesInstanceUID
    series = json.loads(attending_client.get(f"/dicomweb/studies/{study_uid}/series").content)
    assert len(series) == 1
    assert value(series[0], "0020000E") == series_uid
    assert value(series[0], "00080060") == "CT"
    assert value(series[0], "00201209") == 3
    assert value(series[0], "00081190").endswith(f"/studies/{study_uid}/series/{series_uid}")
    assert _uids(attending_client.get("/dicomweb/series", {"Modality": "MR"})) == {
        archive["mr"][0].StudyInstanceUID
    }
    url = f"/dicomweb/studies/{study_uid}/series/{series_uid}/instances"
    instances = json.loads(attending_client.get(url).content)
    assert [value(i, "00200013") for i in instances] == [1, 2, 3]
    assert value(instances[0], "00280010") == 32
    assert value(instances[0], "00280008") is not None
    one = attending_client.get(url, {"SOPInstanceUID": ct[1].SOPInstanceUID})
    assert _uids(one, "00080018") == {ct[1].SOPInstanceUID}
    assert _uids(attending_client.get(url, {"InstanceNumber": "3"}), "00080018") == {
        ct[2].SOPInstanceUID
    }
    across = attending_client.get("/dicomweb/instances", {"PatientID": "MRN-B"})
    assert _uids(across, "00080018") == {ds.SOPInstanceUID for ds in archive["mr"]}
    assert _uids(
        attending_client.get(f"/dicomweb/studies/{study_uid}/instances", {"limit": 2}),
        "00080018",
    ) == {ct[0].SOPInstanceUID, ct[1].SOPInstanceUID}


def test_qido_query_count_does_not_grow_with_results(
    attending_client, django_assert_max_num_queries
):
    def add_studies(n):
        for _ in range(n):
            for ds in make_ct_series(2, patient_id=f"P{generate_uid()[-6:]}"):
                assert ingest_instance(to_bytes(ds)).ok

    add_studies(2)
    # Session + user + (audit) + search + representative metadata.
    with django_assert_max_num_queries(7):
        response = attending_client.get("/dicomweb/studies", {"includefield": "all"})
    assert len(json.loads(response.content)) == 2
    add_studies(6)
    with django_assert_max_num_queries(7):
        response = attending_client.get("/dicomweb/studies", {"includefield": "all"})
    assert len(json.loads(response.content)) == 8
    with django_assert_max_num_queries(6):
        response = attending_client.get("/dicomweb/series", {"includefield": "00180050"})
    assert len(json.loads(response.content)) == 8
    with django_assert_max_num_queries(6):
        response = attending_client.get("/dicomweb/instances", {"includefield": "all"})
    assert len(json.loads(response.content)) == 16


def test_qido_writes_search_audit(attending_client, archive):
    attending_client.get("/dicomweb/studies", {"PatientID": "MRN-A"})
    event = AuditEvent.objects.get(action="search")
    assert event.username == "att" and "MRN-A" in event.detail


# -- WADO-RS --------------------------------------------------------------------


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


def _frames_url(ds, frames="1"):
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frames}"
    )


def test_native_frames_by_seek_and_read(attending_client):
    pixels = np.arange(3 * 16 * 16, dtype=np.int16).reshape(3, 16, 16)
    ds = make_dataset(rows=16, columns=16)
    ds.NumberOfFrames = 3
    ds.PixelData = pixels.tobytes()
    assert ingest_instance(to_bytes(ds)).ok
    response = attending_client.get(
        _frames_url(ds, "3,1"),
        headers={"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'},
    )
    parts = split_multipart(response)
    assert [h for h, _ in parts] == [
        "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    ] * 2
    assert parts[0][1] == pixels[2].tobytes() and parts[1][1] == pixels[0].tobytes()
    assert attending_client.get(_frames_url(ds, "4")).status_code == 404
    jpeg_only = attending_client.get(
        _frames_url(ds), headers={"Accept": 'multipart/related; type="image/jpeg"'}
    )
    assert jpeg_only.status_code == 406


def test_frame_request_is_one_query_and_defers_the_rest(
    token_client, attending, django_assert_max_num_queries
):
    ds = make_dataset(rows=16, columns=16)
    assert ingest_instance(to_bytes(ds)).ok
    accept = {"Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*'}
    token_client.get(_frames_url(ds), headers=accept)  # the audit record is written once
    # The token lookup, then one query for instance + series + study + patient.
    with django_assert_max_num_queries(2):
        response = token_client.get(_frames_url(ds), headers=accept)
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
            _frames_url(ds, frames),
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
            _frames_url(ds, "1"),
            headers={"Accept": 'multipart/related; type="application/octet-stream"'},
        )
    )
    assert decoded[0][0] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    expected = pydicom.pixels.pixel_array(get_testdata_file(name), index=0)
    assert decoded[0][1] == expected.tobytes()
    wrong = attending_client.get(
        _frames_url(ds),
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
        _frames_url(ds, "2"),
        headers={"Accept": "image/dicom-rle, image/x-dicom-rle"},
    )
    assert single["Content-Type"] == "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"
    assert single.content == source_frames(ds)[1]


def test_rendered_and_thumbnails(attending_client, archive):
    ds = archive["ct"][1]
    base = _frames_url(ds).rsplit("/frames/", 1)[0]
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
    base = _frames_url(series[1]).rsplit("/frames/", 1)[0]
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
    base = _frames_url(ds).rsplit("/frames/", 1)[0]
    response = attending_client.get(base + "/rendered", HTTP_ACCEPT="image/png")
    assert response.status_code == 200, response.content
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (ds.Columns, ds.Rows)
    assert image.mode == ("RGB" if ds.SamplesPerPixel == 3 else "L")
    assert np.asarray(image).std() > 0


# -- STOW-RS --------------------------------------------------------------------


def test_stow_stores_and_answers_standard_response(token_client):
    series = make_ct_series(3)
    response = stow(token_client, [to_bytes(ds) for ds in series])
    assert response.status_code == 200, response.content
    payload = json.loads(response.content)
    refs = seq_items(payload, "00081199")
    assert [value(r, "00081155") for r in refs] == [ds.SOPInstanceUID for ds in series]
    assert value(refs[0], "00081150") == series[0].SOPClassUID
    assert value(refs[0], "00081190").startswith("http://testserver/dicomweb/studies/")
    assert value(payload, "00081190").endswith(series[0].StudyInstanceUID)
    assert "00081198" not in payload
    assert Instance.objects.count() == 3
    assert AuditEvent.objects.filter(action="store").count() == 1
    # Identical re-send: success, nothing new stored.
    assert stow(token_client, [to_bytes(series[0])]).status_code == 200
    assert Instance.objects.count() == 3


def test_stow_partial_failures_and_reasons(token_client):
    good = to_bytes(make_dataset())
    conflicting = make_ct_series(1)[0]
    assert ingest_instance(to_bytes(conflicting)).ok
    conflicting.PatientName = "Other^Name"
    response = stow(token_client, [b"not dicom at all" * 20, good, to_bytes(conflicting)])
    assert response.status_code == 202
    payload = json.loads(response.content)
    failed = seq_items(payload, "00081198")
    assert [value(f, "00081197") for f in failed] == [0xC000, 0x0111]
    assert value(failed[1], "00081155") == conflicting.SOPInstanceUID
    assert len(seq_items(payload, "00081199")) == 1
    none_stored = stow(token_client, [b"junk" * 100])
    assert none_stored.status_code == 409
    assert value(seq_items(json.loads(none_stored.content), "00081198")[0], "00081197") == 0xC000


def test_stow_truncated_body_keeps_complete_parts(token_client):
    series = make_ct_series(3, rows=64, columns=64)
    body = stow_body([to_bytes(ds) for ds in series])
    cut = body[: len(body) - 3000]  # inside the last part
    response = token_client.post(
        "/dicomweb/studies",
        data=cut,
        content_type='multipart/related; type="application/dicom"; boundary="stowboundary42"',
    )
    assert response.status_code == 202
    payload = json.loads(response.content)
    assert len(seq_items(payload, "00081199")) == 2
    assert [value(f, "00081197") for f in seq_items(payload, "00081198")] == [0xC000]
    assert set(Instance.objects.values_list("sop_instance_uid", flat=True)) == {
        series[0].SOPInstanceUID,
        series[1].SOPInstanceUID,
    }


def test_stow_oversized_part_is_out_of_resources(token_client, settings):
    small, big = make_dataset(rows=8, columns=8), make_dataset(rows=128, columns=128)
    settings.DICOM_MAX_INSTANCE_BYTES = len(to_bytes(small)) + 100
    response = stow(token_client, [to_bytes(big), to_bytes(small)])
    assert response.status_code == 202
    payload = json.loads(response.content)
    assert [value(f, "00081197") for f in seq_items(payload, "00081198")] == [0xA700]
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        small.SOPInstanceUID
    ]


def test_stow_robust_multipart_parsing(token_client):
    ds1, ds2 = make_ct_series(2)
    boundary = "weird'boundary(42)"
    body = (
        b"preamble to ignore\r\n"
        + f"--{boundary}   \r\ncontent-type: application/dicom\r\n\r\n".encode()
        + to_bytes(ds1)
        + f"\r\n--{boundary}\r\n\r\n".encode()  # no part headers: the root type applies
        + to_bytes(ds2)
        + f"\r\n--{boundary}--\r\nepilogue".encode()
    )
    response = token_client.post(
        "/dicomweb/studies",
        data=body,
        content_type=f'multipart/related; boundary="{boundary}"; type=application/dicom',
    )
    assert response.status_code == 200, response.content
    assert Instance.objects.count() == 2


def test_stow_bad_requests(token_client):
    garbage = token_client.post(
        "/dicomweb/studies",
        data=b"\x00\x01 garbage without any boundary",
        content_type='multipart/related; type="application/dicom"; boundary=xyz',
    )
    assert garbage.status_code == 400
    wrong_type = token_client.post("/dicomweb/studies", data=b"{}", content_type="application/json")
    assert wrong_type.status_code == 415
    non_dicom_part = token_client.post(
        "/dicomweb/studies",
        data=b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n",
        content_type='multipart/related; type="application/dicom"; boundary=b',
    )
    assert non_dicom_part.status_code == 409
    failed = seq_items(json.loads(non_dicom_part.content), "00081198")
    assert value(failed[0], "00081197") == 0xC000
    assert not Instance.objects.exists()


def test_stow_into_named_study_rejects_other_studies(token_client):
    mine, other = make_ct_series(1)[0], make_ct_series(1)[0]
    response = stow(
        token_client,
        [to_bytes(mine), to_bytes(other)],
        url=f"/dicomweb/studies/{mine.StudyInstanceUID}",
    )
    assert response.status_code == 202
    failed = seq_items(json.loads(response.content), "00081198")
    assert value(failed[0], "00081197") == 0xA900
    assert value(failed[0], "00081155") == other.SOPInstanceUID
    assert list(Study.objects.values_list("study_instance_uid", flat=True)) == [
        mine.StudyInstanceUID
    ]


def test_session_post_needs_csrf_token(attending):
    client = Client(enforce_csrf_checks=True)
    client.force_login(attending)
    response = stow(client, [to_bytes(make_dataset())])
    assert response.status_code == 403
    assert not Instance.objects.exists()
    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    ok = stow(client, [to_bytes(make_dataset())], **{"X-CSRFToken": _mask_cipher_secret(secret)})
    assert ok.status_code == 200, ok.content


# -- access -----------------------------------------------------------------------


def _all_urls(ds) -> list[str]:
    study, series, sop = ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
    inst = f"/dicomweb/studies/{study}/series/{series}/instances/{sop}"
    return [
        "/dicomweb/studies",
        "/dicomweb/series",
        "/dicomweb/instances",
        f"/dicomweb/studies/{study}",
        f"/dicomweb/studies/{study}/metadata",
        f"/dicomweb/studies/{study}/thumbnail",
        f"/dicomweb/studies/{study}/series",
        f"/dicomweb/studies/{study}/instances",
        f"/dicomweb/studies/{study}/series/{series}",
        f"/dicomweb/studies/{study}/series/{series}/metadata",
        f"/dicomweb/studies/{study}/series/{series}/thumbnail",
        f"/dicomweb/studies/{study}/series/{series}/instances",
        inst,
        inst + "/metadata",
        inst + "/rendered",
        inst + "/thumbnail",
        inst + "/frames/1",
        inst + "/frames/1/rendered",
        inst + "/bulkdata/7FE00010",
    ]


def test_outsider_gets_403_everywhere(outsider_client):
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    for url in _all_urls(ds):
        assert outsider_client.get(url).status_code == 403, url
    assert stow(outsider_client, [to_bytes(make_dataset())]).status_code in (403,)
    assert Instance.objects.count() == 1


def test_outsider_token_gets_403(outsider):
    token = create_api_token(outsider)
    client = Client(headers={"Authorization": f"Bearer {token.key}"})
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    assert client.get("/dicomweb/studies").status_code == 403
    assert stow(client, [to_bytes(make_dataset())]).status_code == 403
    assert Instance.objects.count() == 1


def test_no_auth_is_401(client):
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    for url in _all_urls(ds):
        assert client.get(url).status_code == 401, url
    assert stow(client, [to_bytes(make_dataset())]).status_code == 401
    bad_token = Client(headers={"Authorization": "Bearer not-a-token"})
    assert bad_token.get("/dicomweb/studies").status_code == 401


def test_unknown_uids_are_404(attending_client):
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    other = make_dataset()  # never stored
    for url in _all_urls(other)[3:]:
        assert attending_client.get(url).status_code == 404, url


# -- media helpers ------------------------------------------------------------------


def test_accept_header_parsing():
    entries = parse_accept(
        'multipart/related; type="application/octet-stream"; transfer-syntax=*;q=0.5, '
        "multipart/related; type=image/jpeg, */*;q=0.1"
    )
    assert [(e.media_type, e.transfer_syntax, e.q) for e in entries] == [
        ("image/jpeg", None, 1.0),
        ("application/octet-stream", "*", 0.5),
        ("*/*", None, 0.1),
    ]
