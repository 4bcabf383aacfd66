"""QIDO-RS, rendered, metadata and WADO-RS reads ahead of the middleware (fastread.py).

Each answer is compared with Django's for the same request (status, every
header, body), and the tests watch which of the two answered: successes come
from the fast path, everything else must reach Django. Nothing about access is
cached there: a revoked token or a deactivated user is refused on the next request.
"""

from __future__ import annotations

import asyncio
import io
import os
from urllib.parse import urlencode

import pydicom
import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.utils import timezone

from reading.accounts.models import ApiToken
from reading.asgi import django_asgi_app
from reading.audit.models import AuditAction, AuditEvent
from reading.studies.dicomweb.fastread import ReadFastPath
from tests.dicom_factory import make_ct_series, make_dataset
from tests.studies.asgi_client import (
    USER_AGENT,
    CountingDjango,
    asgi_get,
    close_executor_connection,
    http_scope,
)
from tests.studies.test_dicomweb_fastpath import (
    parts,
    session_cookie_for,
    store,
    token_for,
    without_boundary,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fast(settings):
    settings.DICOMWEB_FAST_READS = True
    app = ReadFastPath(CountingDjango(django_asgi_app))
    yield app
    app.close()
    close_executor_connection()


async def same_as_django(fast, path: str, headers: dict) -> tuple[dict, bytes]:
    """The fast path's answer equals Django's, header for header; the fast path answered."""
    before = len(fast.app.paths)
    status, fast_headers, fast_body = await asgi_get(fast, path, headers)
    assert fast.app.paths[before:] == []  # not handed to Django
    django_status, django_headers, django_body = await asgi_get(django_asgi_app, path, headers)
    assert status == django_status == 200
    assert sorted(fast_headers.items()) == sorted(django_headers.items())
    assert fast_body == django_body
    return fast_headers, fast_body


def study_path(ds) -> str:
    return f"/dicomweb/studies/{ds.StudyInstanceUID}"


def instance_path(ds) -> str:
    return f"{study_path(ds)}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


async def test_searches_rendered_and_metadata_equal_django(attending, fast):
    series = make_ct_series(3, rows=32, columns=32)
    await store(*series)
    auth = await token_for(attending)
    ds = series[1]
    query = urlencode({"PatientID": ds.PatientID})
    for path in (
        f"/dicomweb/studies?{query}",
        f"/dicomweb/series?{query}",
        f"{study_path(ds)}/instances",
        f"{study_path(ds)}/series/{ds.SeriesInstanceUID}/instances?InstanceNumber=2",
        f"{study_path(ds)}/series/{ds.SeriesInstanceUID}/metadata",
    ):
        headers, _ = await same_as_django(fast, path, {**auth, "Accept": "application/dicom+json"})
        assert headers["cache-control"] == ["no-store, private"]
    headers, body = await same_as_django(
        fast, f"{instance_path(ds)}/rendered?window=40,400", {**auth, "Accept": "image/jpeg"}
    )
    assert headers["content-type"] == ["image/jpeg"] and body[:2] == b"\xff\xd8"
    assert "no-store" in headers["cache-control"][0]
    await same_as_django(fast, f"{instance_path(ds)}/thumbnail", {**auth, "Accept": "image/png"})


async def test_session_cookie_is_served_too(resident, fast):
    ds = make_dataset()
    await store(ds)
    cookie = await session_cookie_for(resident)
    await same_as_django(fast, "/dicomweb/studies", {**cookie, "Accept": "application/dicom+json"})


async def test_refusals_and_errors_are_django_answers(attending, outsider, fast):
    ds = make_dataset()
    await store(ds)
    auth = await token_for(attending)
    outsider_auth = await token_for(outsider)
    cases = [
        ("/dicomweb/studies", {}, 401),
        ("/dicomweb/studies", {"Authorization": "Bearer not-a-token"}, 401),
        ("/dicomweb/studies", outsider_auth, 403),
        ("/dicomweb/studies?NoSuchKeyword=1", auth, 400),
        ("/dicomweb/studies?limit=-1", auth, 400),
        (f"{instance_path(ds)}/rendered", {**auth, "Accept": "application/pdf"}, 406),
        ("/dicomweb/studies/1.2.3.4/series", auth, 404),
    ]
    for path, headers, status in cases:
        before = len(fast.app.paths)
        got, _, _ = await asgi_get(fast, path, headers)
        assert got == status, path
        assert fast.app.paths[before:] == [path.partition("?")[0]]  # Django answered


@sync_to_async
def revoke_all(user) -> None:
    ApiToken.objects.filter(user=user).update(revoked_at=timezone.now())


@sync_to_async
def deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


@sync_to_async
def set_role(user, role: str) -> None:
    user.role = role
    user.save(update_fields=["role"])


async def test_revoked_token_is_refused_at_once(attending, fast):
    await store(make_dataset())
    auth = await token_for(attending)
    assert (await asgi_get(fast, "/dicomweb/studies", auth))[0] == 200
    await revoke_all(attending)
    assert (await asgi_get(fast, "/dicomweb/studies", auth))[0] == 401


async def test_deactivated_or_demoted_user_is_refused_at_once(attending, resident, fast):
    await store(make_dataset())
    auth, other = await token_for(attending), await token_for(resident)
    assert (await asgi_get(fast, "/dicomweb/studies", auth))[0] == 200
    await deactivate(attending)
    assert (await asgi_get(fast, "/dicomweb/studies", auth))[0] == 401
    assert (await asgi_get(fast, "/dicomweb/studies", other))[0] == 200
    await set_role(resident, "none")
    assert (await asgi_get(fast, "/dicomweb/studies", other))[0] == 403


@sync_to_async
def audits(action: str) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(action=action).values_list(
            "username", "study_instance_uid", "patient_id", "path", "ip_address", "user_agent"
        )
    )


async def test_audit_records_as_under_django(attending, fast):
    ds = make_dataset()
    await store(ds)
    auth = await token_for(attending)
    path = f"/dicomweb/studies?{urlencode({'PatientID': ds.PatientID})}"
    assert (await asgi_get(fast, path, auth))[0] == 200
    assert await audits(AuditAction.SEARCH) == [("att", "", "", path, "127.0.0.1", USER_AGENT)]
    rendered = f"{instance_path(ds)}/rendered"
    assert (await asgi_get(fast, rendered, {**auth, "Accept": "image/jpeg"}))[0] == 200
    assert await audits(AuditAction.RENDER) == [
        ("att", ds.StudyInstanceUID, ds.PatientID, rendered, "127.0.0.1", USER_AGENT)
    ]
    assert fast.app.paths == []


async def test_other_routes_and_switch_off_reach_django(attending, fast, settings):
    ds = make_dataset()
    await store(ds)
    auth = await token_for(attending)
    await asgi_get(fast, f"{instance_path(ds)}/frames/1", auth)
    await asgi_get(fast, "/healthz", {})
    assert fast.app.paths == [f"{instance_path(ds)}/frames/1", "/healthz"]
    settings.FORCE_SCRIPT_NAME = "/rr"
    assert (await asgi_get(fast, "/dicomweb/studies", auth))[0] == 200
    assert fast.app.paths[-1] == "/dicomweb/studies"
    settings.FORCE_SCRIPT_NAME = None
    settings.DICOMWEB_FAST_READS = False
    assert (await asgi_get(fast, "/dicomweb/series", auth))[0] == 200
    assert fast.app.paths[-1] == "/dicomweb/series"


async def test_cross_origin_requests_go_to_django(attending, fast, settings):
    settings.DICOMWEB_CORS_ORIGINS = ["https://viewer.example"]
    await store(make_dataset())
    auth = await token_for(attending)
    status, headers, _ = await asgi_get(
        fast, "/dicomweb/studies", {**auth, "Origin": "https://viewer.example"}
    )
    assert status == 200 and headers["access-control-allow-origin"] == ["https://viewer.example"]
    assert fast.app.paths == ["/dicomweb/studies"]


DICOM_PARTS = 'multipart/related; type="application/dicom"'


async def test_wado_retrieval_is_streamed_like_django(attending, fast):
    series = make_ct_series(3, rows=32, columns=32)
    await store(*series)
    auth = await token_for(attending)
    ds = series[0]
    series_path = f"{study_path(ds)}/series/{ds.SeriesInstanceUID}"
    for path, accept in (
        (study_path(ds), DICOM_PARTS),
        (series_path, DICOM_PARTS),
        (instance_path(ds), DICOM_PARTS),
        (instance_path(ds), "application/dicom"),
        (series_path, DICOM_PARTS + "; transfer-syntax=*"),
    ):
        before = len(fast.app.paths)
        status, fast_headers, fast_body = await asgi_get(fast, path, {**auth, "Accept": accept})
        assert fast.app.paths[before:] == []  # not handed to Django
        django = await asgi_get(django_asgi_app, path, {**auth, "Accept": accept})
        assert status == django[0] == 200
        assert without_boundary(fast_headers, fast_body) == without_boundary(*django[1:])
    stored = [pydicom.dcmread(io.BytesIO(payload)) for _, payload in parts(fast_headers, fast_body)]
    assert [part.SOPInstanceUID for part in stored] == [s.SOPInstanceUID for s in series]


async def test_a_client_that_goes_away_stops_the_stream(attending, fast, monkeypatch):
    from reading.studies.dicomweb import streaming

    monkeypatch.setattr(streaming, "CHUNK", 1)  # a hop, and a message, per stored file
    series = make_ct_series(40, rows=64, columns=64)
    await store(*series)
    auth = await token_for(attending)
    path = f"{study_path(series[0])}/series/{series[0].SeriesInstanceUID}"
    scope = http_scope(path, {"Host": "testserver", **auth, "Accept": DICOM_PARTS})
    communicator = ApplicationCommunicator(fast, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    assert (await communicator.receive_output(10))["status"] == 200
    await communicator.receive_output(10)  # the first part's header and file
    await communicator.send_input({"type": "http.disconnect"})
    await communicator.wait(10)  # the application ends ...
    sent = 1
    while not await communicator.receive_nothing(0.05):
        message = await communicator.receive_output(1)
        sent += 1
        assert message.get("more_body"), "the body was finished for nobody"
    assert sent < 40  # ... without reading the rest


async def test_stored_files_go_by_zero_copy_where_the_server_offers_it(attending, fast):
    series = make_ct_series(3, rows=32, columns=32)
    await store(*series)
    auth = await token_for(attending)
    path = f"{study_path(series[0])}/series/{series[0].SeriesInstanceUID}"
    headers = {"Host": "testserver", "User-Agent": USER_AGENT, **auth, "Accept": DICOM_PARTS}
    scope = http_scope(path, headers)
    scope["extensions"] = {"http.response.zerocopysend": {}}
    kinds, body, start = [], b"", {}

    async def receive():
        await asyncio.sleep(3600)  # the client stays

    async def send(message):
        nonlocal body
        kinds.append(message["type"])
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.zerocopysend":
            fh = message["file"]  # open only until send returns
            body += os.pread(fh.fileno(), message["count"], message.get("offset", 0))
        else:
            body += message.get("body", b"")

    await fast(scope, receive, send)
    assert kinds.count("http.response.zerocopysend") == 3  # one per stored file
    assert fast.app.paths == []
    found = {k.decode().lower(): [v.decode()] for k, v in start["headers"]}
    django = await asgi_get(django_asgi_app, path, {**auth, "Accept": DICOM_PARTS})
    assert without_boundary(found, body) == without_boundary(django[1], django[2])
