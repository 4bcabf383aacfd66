"""Rendered native greyscale frames ahead of Django (reading/studies/dicomweb/fastrender.py).

Each answer is compared with the Django view's for the same request (status,
every header, body, audit record), and the tests watch which of the two
answered: rendered native greyscale images come from the fast path, everything
else reaches the next application unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from reading.asgi import application, django_asgi_app, http_app, read_app, rendered_app
from reading.audit.models import AuditEvent
from reading.studies.dicomweb.rendercache import rendered_cache
from tests.dicom_factory import make_ct_series, make_dataset
from tests.studies.asgi_client import (
    USER_AGENT,
    CountingDjango,
    asgi_get,
    close_executor_connection,
)
from tests.studies.test_dicomweb import sample_with_new_uids
from tests.studies.test_dicomweb_fastpath import store, token_for
from tests.studies.test_dicomweb_fastread import revoke_all

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = ("username", "action", "study_instance_uid", "patient_id", "patient_name", "path")
FIELDS += ("ip_address", "user_agent", "detail")


@pytest.fixture
def django_calls(settings, monkeypatch):
    """The requests the frames and rendered fast paths left to Django."""
    settings.DICOMWEB_FAST_FRAMES_TTL = 5
    settings.DICOMWEB_FAST_RENDERED = True
    counting = CountingDjango(django_asgi_app)
    monkeypatch.setattr(http_app, "app", counting)
    http_app.clear()
    rendered_cache.clear()
    yield counting
    http_app.clear()
    read_app.close()  # its threads' database connections
    close_executor_connection()


def instance_url(ds) -> str:
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


@sync_to_async
def audit_rows(study_uid: str) -> list[tuple]:
    rows = AuditEvent.objects.filter(study_instance_uid=study_uid).order_by("pk")
    return [tuple(str(getattr(event, f)) for f in FIELDS) for event in rows]


@sync_to_async
def forget_audits() -> None:
    AuditEvent.objects.all().delete()
    cache.clear()  # record_access's de-duplication
    rendered_app.clear()  # and the fast path's memory of it


async def same_as_django(path: str, headers: dict, django_calls, study_uid: str) -> bytes:
    """The fast path's answer and audit record equal Django's; the fast path answered."""
    await forget_audits()
    rendered_cache.clear()
    before = len(django_calls.paths)
    status, fast_headers, fast_body = await asgi_get(application, path, headers)
    assert django_calls.paths[before:] == []
    fast_audit = await audit_rows(study_uid)
    await forget_audits()
    rendered_cache.clear()
    django_status, django_headers, django_body = await asgi_get(django_asgi_app, path, headers)
    assert status == django_status == 200
    assert sorted(fast_headers.items()) == sorted(django_headers.items())
    assert fast_body == django_body and fast_body[:2] == b"\xff\xd8"
    assert fast_audit == await audit_rows(study_uid)
    assert len(fast_audit) == 1 and fast_audit[0][1] == "render"
    assert fast_audit[0][-2:] == (USER_AGENT, "rendered")
    return fast_body


def _monochrome1():
    rng = np.random.default_rng(5)
    ds = make_dataset(rows=20, columns=24, modality="DX")
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 10, 9
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.RescaleIntercept = 0
    ds.WindowCenter, ds.WindowWidth = 512, 800
    ds.PixelData = rng.integers(0, 65536, (20, 24)).astype(np.uint16).tobytes()
    return ds


async def test_ct_slice_and_monochrome1_equal_the_django_view(attending, django_calls):
    series = make_ct_series(2, rows=32, columns=32)
    mono1 = _monochrome1()
    await store(*series, mono1)
    auth = await token_for(attending)
    ct = series[1]
    headers = {**auth, "Accept": "image/jpeg"}
    for ds in (ct, mono1):
        study = ds.StudyInstanceUID
        await same_as_django(instance_url(ds) + "/rendered", headers, django_calls, study)
        await same_as_django(instance_url(ds) + "/frames/1/rendered", auth, django_calls, study)
    wildcard = {**auth, "Accept": "image/*, */*;q=0.1"}
    await same_as_django(
        instance_url(ct) + "/rendered", wildcard, django_calls, ct.StudyInstanceUID
    )
    # Cached: the second request of a minute writes no second record, as in Django.
    await forget_audits()
    for _ in range(2):
        status, _, _ = await asgi_get(application, instance_url(series[0]) + "/rendered", auth)
        assert status == 200
    assert len(await audit_rows(ct.StudyInstanceUID)) == 1
    assert django_calls.paths == []


async def test_revoked_token_is_refused_at_once(attending, django_calls):
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    auth = await token_for(attending)
    path = instance_url(ds) + "/rendered"
    assert (await asgi_get(application, path, auth))[0] == 200
    assert django_calls.paths == []
    await revoke_all(attending)
    status, _, _ = await asgi_get(application, path, auth)
    assert status == 401 and django_calls.paths == [path]


async def test_outsider_is_left_to_django(outsider, django_calls):
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    path = instance_url(ds) + "/rendered"
    status, _, _ = await asgi_get(application, path, await token_for(outsider))
    assert status in (403, 404) and django_calls.paths == [path]


async def test_other_rendered_requests_reach_django(attending, django_calls):
    rle = sample_with_new_uids("MR_small_RLE.dcm")
    ds = make_dataset(rows=8, columns=8)
    ds.NumberOfFrames = 2
    ds.PixelData = np.arange(2 * 64, dtype=np.int16).tobytes()
    await store(rle, ds)
    auth = await token_for(attending)
    cases = [
        (instance_url(rle) + "/rendered", auth, 200),  # compressed: decoding is Django's
        (instance_url(ds) + "/rendered?window=40,400", auth, 200),
        (instance_url(ds) + "/rendered?quality=50", auth, 200),
        (instance_url(ds) + "/rendered", {**auth, "Accept": "image/png"}, 200),
        (instance_url(ds) + "/rendered", {**auth, "Accept": "application/pdf"}, 406),
        (instance_url(ds) + "/frames/3/rendered", auth, 404),
        (instance_url(ds) + "/frames/1,2/rendered", auth, 400),
        (instance_url(ds) + "/rendered", {**auth, "Host": "evil.example"}, 400),
        (instance_url(ds) + "/rendered", {}, 401),
    ]
    for path, headers, expected in cases:
        before = len(django_calls.paths)
        status, _, _ = await asgi_get(application, path, headers)
        assert status == expected, path
        assert django_calls.paths[before:] == [path.partition("?")[0]], path
    # The second frame of the multi-frame instance is the fast path's.
    await same_as_django(
        instance_url(ds) + "/frames/2/rendered", auth, django_calls, ds.StudyInstanceUID
    )


async def test_switched_off_and_cross_origin_go_to_django(attending, django_calls, settings):
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    auth = await token_for(attending)
    path = instance_url(ds) + "/rendered"
    settings.DICOMWEB_FAST_RENDERED = False
    assert (await asgi_get(application, path, auth))[0] == 200
    settings.DICOMWEB_FAST_RENDERED = True
    settings.DICOMWEB_CORS_ORIGINS = ["https://viewer.example"]
    origin = {**auth, "Origin": "https://viewer.example"}
    assert (await asgi_get(application, path, origin))[0] == 200
    assert django_calls.paths == [path, path]
