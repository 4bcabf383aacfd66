"""The WADO-RS frames fast path (reading/studies/dicomweb/fastpath.py), driven through ASGI.

Every answer is compared with the Django view's for the same request, and the
tests watch which of the two answered: the fast path serves successes from its
caches, everything else must reach Django.
"""

from __future__ import annotations

import asyncio
import io
import re

import numpy as np
import pydicom
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.test import Client
from pydicom.data import get_testdata_file

from reading.accounts.services import create_api_token
from reading.asgi import application, django_asgi_app
from reading.audit.models import AuditEvent
from reading.studies.dicomweb.media import iter_multipart, parse_media_type
from reading.studies.models import Instance
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, make_dataset, to_bytes
from tests.studies.asgi_client import (
    USER_AGENT,
    asgi_get,
)
from tests.studies.dicomweb_helpers import sample_with_new_uids, source_frames

pytestmark = pytest.mark.django_db(transaction=True)

ANY_SYNTAX = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def parts(headers: dict, body: bytes) -> list[tuple[str, bytes]]:
    _, params = parse_media_type(headers["content-type"][0])
    return [
        (p.content_type, p.payload)
        for p in iter_multipart(io.BytesIO(body).read, params["boundary"])
        if p.complete
    ]


def without_boundary(headers: dict, body: bytes) -> tuple[list, bytes]:
    """Headers and body with the random multipart boundary replaced by a fixed one."""
    match = re.search(r"boundary=([0-9a-f]+)", headers["content-type"][0])
    if match is None:
        return sorted(headers.items()), body
    boundary = match.group(1)
    fixed = {k: [v.replace(boundary, "B") for v in vs] for k, vs in headers.items()}
    return sorted(fixed.items()), body.replace(boundary.encode(), b"B")


def frames_url(ds, frames: str = "1") -> str:
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/{frames}"
    )


@sync_to_async
def store(*datasets) -> None:
    for ds in datasets:
        assert ingest_instance(to_bytes(ds)).ok


@sync_to_async
def token_for(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_token(user).key}"}


@sync_to_async
def session_cookie_for(user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return {"Cookie": f"{name}={client.cookies[name].value}"}


async def same_as_django(path: str, headers: dict) -> tuple[list, bytes]:
    """Ask the fast path and Django; assert both answered alike; return the fast answer."""
    status, fast_headers, fast_body = await asgi_get(application, path, headers)
    django_status, django_headers, django_body = await asgi_get(django_asgi_app, path, headers)
    assert status == django_status == 200
    assert without_boundary(fast_headers, fast_body) == without_boundary(
        django_headers, django_body
    )
    return fast_headers, fast_body


async def test_native_frames_equal_the_django_view(attending, django_calls):
    pixels = np.arange(3 * 16 * 16, dtype=np.int16).reshape(3, 16, 16)
    ds = make_dataset(rows=16, columns=16)
    ds.NumberOfFrames = 3
    ds.PixelData = pixels.tobytes()
    await store(ds)
    auth = await token_for(attending)

    headers, body = await same_as_django(frames_url(ds, "3,1"), {**auth, "Accept": ANY_SYNTAX})
    assert django_calls.paths == []  # the fast path answered
    assert parts(headers, body) == [
        ("application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", pixels[2].tobytes()),
        ("application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", pixels[0].tobytes()),
    ]
    assert headers["x-frame-options"] == ["DENY"] and headers["vary"] == ["Cookie"]
    # No Accept header at all: */* (multipart, stored syntax), also from the caches.
    headers, body = await same_as_django(frames_url(ds, "2"), auth)
    assert parts(headers, body)[0][1] == pixels[1].tobytes()
    assert django_calls.paths == []


@pytest.fixture
def lookups(monkeypatch):
    """(study, series, whole series loaded) of every lookup the fast path makes."""
    from reading.studies.dicomweb import edgeauth

    seen = []
    real_lookup = edgeauth.frames_access

    def counted_lookup(*args):
        seen.append((args[2], args[3], args[5]))
        return real_lookup(*args)

    monkeypatch.setattr(edgeauth, "frames_access", counted_lookup)
    return seen


async def test_a_series_is_looked_up_once(attending, django_calls, lookups):
    series = make_ct_series(4, rows=32, columns=32)
    await store(*series)
    auth = {**(await token_for(attending)), "Accept": ANY_SYNTAX}
    # Eight concurrent cold requests share one lookup of the whole series.
    answers = await asyncio.gather(
        *(asgi_get(application, frames_url(ds), auth) for ds in series * 2)
    )
    assert [status for status, _, _ in answers] == [200] * 8
    assert [parts(h, b)[0][1] for _, h, b in answers] == [ds.PixelData for ds in series * 2]
    assert lookups == [(series[0].StudyInstanceUID, series[0].SeriesInstanceUID, True)]
    assert django_calls.paths == []


@sync_to_async
def delete_instance(sop_uid: str) -> None:
    Instance.objects.filter(sop_instance_uid=sop_uid).delete()


async def test_decisions_and_locations_expire_after_the_ttl(
    attending, django_calls, lookups, clock
):
    first = make_ct_series(2, rows=8, columns=8)
    second = make_ct_series(2, rows=8, columns=8, study_uid=first[0].StudyInstanceUID)
    await store(*first, *second)
    study = first[0].StudyInstanceUID
    series_a, series_b = first[0].SeriesInstanceUID, second[0].SeriesInstanceUID
    auth = await token_for(attending)

    async def status(ds) -> int:
        return (await asgi_get(application, frames_url(ds), auth))[0]

    assert await status(first[0]) == 200  # t=0: the decision and series A
    clock[0] += 3
    assert await status(second[0]) == 200  # t=3: series B under the same decision
    assert lookups == [(study, series_a, True), (study, series_b, True)]
    clock[0] += 2.5
    # t=5.5: the decision has expired, B's locations have not: only the credential is checked.
    assert await status(second[1]) == 200
    assert lookups[2:] == [(study, series_b, False)]
    # A's locations (t=0) have expired too: a deleted instance is no longer served.
    await delete_instance(first[1].SOPInstanceUID)
    assert await status(first[1]) == 404
    assert lookups[3:] == [(study, series_a, True)]
    assert await status(first[0]) == 200  # reloaded with it
    assert len(lookups) == 4
    assert django_calls.paths == [frames_url(first[1])]


@pytest.mark.parametrize(
    ("name", "accept"),
    [
        ("JPEG2000.dcm", ANY_SYNTAX),
        ("MR_small_RLE.dcm", "image/dicom-rle, image/x-dicom-rle"),
        ("SC_rgb_rle_2frame.dcm", ANY_SYNTAX),
        ("MR_small_jpeg_ls_lossless.dcm", 'multipart/related; type="image/jls"'),
    ],
)
async def test_compressed_frames_pass_through_like_the_django_view(
    attending, django_calls, name, accept
):
    ds = sample_with_new_uids(name)
    await store(ds)
    auth = await token_for(attending)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = ",".join(str(i + 1) for i in range(n)) if "multipart" in accept else "1"
    headers, body = await same_as_django(frames_url(ds, frames), {**auth, "Accept": accept})
    assert django_calls.paths == []
    syntax = str(ds.file_meta.TransferSyntaxUID)
    if "multipart" in accept:
        assert [p for _, p in parts(headers, body)] == source_frames(ds)
        assert all(ct.endswith(f"transfer-syntax={syntax}") for ct, _ in parts(headers, body))
    else:
        assert headers["content-type"] == [f"image/dicom-rle; transfer-syntax={syntax}"]
        assert body == source_frames(ds)[0]


async def test_decoding_is_left_to_django(attending, django_calls):
    """Uncompressed frames of a compressed instance mean decoding: Django's thread does it."""
    ds = sample_with_new_uids("MR_small_RLE.dcm")
    await store(ds)
    auth = await token_for(attending)
    accept = 'multipart/related; type="application/octet-stream"'
    status, headers, body = await asgi_get(application, frames_url(ds), {**auth, "Accept": accept})
    assert status == 200 and django_calls.paths == [frames_url(ds)]
    content_type, payload = parts(headers, body)[0]
    assert content_type == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    expected = pydicom.pixels.pixel_array(get_testdata_file("MR_small_RLE.dcm"), index=0)
    assert payload == expected.tobytes()


async def test_session_and_token_auth(attending, resident, django_calls):
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    resident_token = (await token_for(resident))["Authorization"]
    for headers in (
        await session_cookie_for(resident),
        await token_for(attending),
        {"Authorization": resident_token.replace("Bearer", "Token")},
    ):
        response_headers, body = await same_as_django(frames_url(ds), headers)
        assert parts(response_headers, body)[0][1] == ds.PixelData
    assert django_calls.paths == []


async def test_refusals_are_django_answers(attending, outsider, django_calls):
    ds = make_dataset(rows=8, columns=8)
    other = make_dataset(rows=8, columns=8)
    await store(ds, other)
    auth = await token_for(attending)
    outsider_token = await token_for(outsider)
    outsider_session = await session_cookie_for(outsider)
    cases = [
        (frames_url(ds), {}, 401),
        (frames_url(ds), {"Authorization": "Bearer not-a-token"}, 401),
        (frames_url(ds), {"Cookie": "sessionid=not-a-session"}, 401),
        (frames_url(ds), outsider_token, 403),
        (frames_url(ds), outsider_session, 403),
        (frames_url(ds).replace(ds.StudyInstanceUID, "1.2.3.4"), auth, 404),
        # An instance of another study and series, asked for under this one.
        (frames_url(ds).replace(ds.SOPInstanceUID, other.SOPInstanceUID), auth, 404),
        (frames_url(ds).replace(ds.SeriesInstanceUID, other.SeriesInstanceUID), auth, 404),
        (frames_url(ds, "2"), auth, 404),
        (frames_url(ds, "1"), {**auth, "Accept": 'multipart/related; type="image/jpeg"'}, 406),
    ]
    for path, headers, expected in cases:
        # Warm the caches with a good request first: a refusal must not ride on them.
        assert (await asgi_get(application, frames_url(ds), auth))[0] == 200
        before = len(django_calls.paths)
        status, _, body = await asgi_get(application, path, headers)
        assert status == expected, (path, headers, body)
        assert django_calls.paths[before:] == [path]
        assert (await asgi_get(django_asgi_app, path, headers))[0] == expected


async def test_host_header_is_checked_by_django(attending, django_calls):
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    auth = await token_for(attending)
    assert (await asgi_get(application, frames_url(ds), auth))[0] == 200
    status, _, _ = await asgi_get(application, frames_url(ds), {**auth, "Host": "evil.example"})
    assert status == 400 and django_calls.paths == [frames_url(ds)]


@sync_to_async
def deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


async def test_deactivated_user_is_refused_after_the_ttl(
    attending, resident, django_calls, settings, clock
):
    settings.DICOMWEB_FAST_FRAMES_TTL = 1
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    token = await token_for(attending)
    session = await session_cookie_for(resident)
    for headers in (token, session):
        assert (await asgi_get(application, frames_url(ds), headers))[0] == 200
    await deactivate(attending)
    await deactivate(resident)
    # Within the TTL the cached decision stands (the documented consequence) ...
    for headers in (token, session):
        assert (await asgi_get(application, frames_url(ds), headers))[0] == 200
    assert django_calls.paths == []
    clock[0] += 1.1
    # ... after it the credential is looked at again, and Django answers the refusal.
    for headers in (token, session):
        assert (await asgi_get(application, frames_url(ds), headers))[0] == 401
    assert django_calls.paths == [frames_url(ds)] * 2


async def test_logged_out_session_is_refused_after_the_ttl(
    attending, django_calls, settings, clock
):
    settings.DICOMWEB_FAST_FRAMES_TTL = 1
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    client = Client()
    await sync_to_async(client.force_login)(attending)
    name = django_settings.SESSION_COOKIE_NAME
    cookie = {"Cookie": f"{name}={client.cookies[name].value}"}
    assert (await asgi_get(application, frames_url(ds), cookie))[0] == 200
    await sync_to_async(client.logout)()
    assert (await asgi_get(application, frames_url(ds), cookie))[0] == 200  # within the TTL
    clock[0] += 1.1
    assert (await asgi_get(application, frames_url(ds), cookie))[0] == 401
    assert django_calls.paths == [frames_url(ds)]


async def test_ttl_zero_sends_everything_to_django(attending, django_calls, settings):
    settings.DICOMWEB_FAST_FRAMES_TTL = 0
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    status, headers, body = await asgi_get(application, frames_url(ds), await token_for(attending))
    assert status == 200 and parts(headers, body)[0][1] == ds.PixelData
    assert django_calls.paths == [frames_url(ds)]


@sync_to_async
def frame_audits(study_uid: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(study_instance_uid=study_uid, detail="frames").select_related(
            "user"
        )
    )


async def test_audit_record_written_once_a_minute(attending, django_calls):
    series = make_ct_series(2, rows=8, columns=8, patient_id="MRN-FAST", patient_name="Fast^Pat")
    await store(*series)
    auth = await token_for(attending)
    for ds in series * 2:
        assert (await asgi_get(application, frames_url(ds), auth))[0] == 200
    assert django_calls.paths == []
    [event] = await frame_audits(series[0].StudyInstanceUID)
    assert (event.user, event.action, event.patient_id) == (attending, "retrieve", "MRN-FAST")
    assert event.patient_name == "Fast^Pat" and event.ip_address == "127.0.0.1"
    assert event.path == frames_url(series[0]) and event.user_agent == USER_AGENT


async def test_other_requests_reach_django(attending, django_calls):
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    auth = await token_for(attending)
    status, _, body = await asgi_get(application, "/healthz")
    assert (status, body) == (200, b"ok")
    instance = frames_url(ds).rsplit("/frames/", 1)[0]
    status, headers, _ = await asgi_get(application, instance + "/metadata", auth)
    assert status == 200 and headers["content-type"] == ["application/dicom+json"]
    status, _, _ = await asgi_get(application, frames_url(ds), auth, method="POST")
    assert status == 405
    thumbnail = instance + "/thumbnail"
    status, headers, _ = await asgi_get(application, thumbnail, {**auth, "Accept": "image/png"})
    assert status == 200 and headers["content-type"] == ["image/png"]
    whole = instance  # a whole instance: only frames and rendered images are served here
    status, headers, _ = await asgi_get(application, whole, auth)
    assert status == 200
    paths = ["/healthz", instance + "/metadata", frames_url(ds), thumbnail, whole]
    assert django_calls.paths == paths
