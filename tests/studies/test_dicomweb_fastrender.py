"""Rendered images on the frames fast path (reading/studies/dicomweb/fastrender.py).

Every answer is compared with the Django view's for the same request (status,
every header, the image bytes), and the tests watch which of the two answered.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from reading.asgi import application, django_asgi_app
from reading.audit.models import AuditEvent
from reading.studies.dicomweb import fastrender
from reading.studies.dicomweb.rendercache import rendered_cache
from tests.dicom_factory import make_ct_series, make_dataset
from tests.studies.asgi_client import USER_AGENT, asgi_get
from tests.studies.test_dicomweb_fastpath import (
    frames_url,
    session_cookie_for,
    store,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def rendered_url(ds, frame: int | None = None) -> str:
    instance = frames_url(ds).rsplit("/frames/", 1)[0]
    return instance + (f"/frames/{frame}/rendered" if frame else "/rendered")


async def rendered_like_django(path: str, headers: dict) -> tuple[dict, bytes]:
    """The fast path's answer and Django's, each rendered afresh, are the same."""
    rendered_cache.clear()
    status, fast_headers, fast_body = await asgi_get(application, path, headers)
    rendered_cache.clear()
    django_status, django_headers, django_body = await asgi_get(django_asgi_app, path, headers)
    assert status == django_status == 200, (path, fast_body[:200])
    assert fast_headers == django_headers
    assert fast_body == django_body
    return fast_headers, fast_body


@pytest.mark.parametrize(
    ("query", "accept", "media_type"),
    [
        ("", None, "image/jpeg"),
        ("", "image/png", "image/png"),
        ("?window=40,400", "image/jpeg", "image/jpeg"),
        ("?window=-600,1500,sigmoid&quality=70", None, "image/jpeg"),
        ("?viewport=16,16&accept=image/png", "image/jpeg", "image/png"),
    ],
)
async def test_rendered_images_equal_the_django_view(
    attending, django_calls, query, accept, media_type
):
    series = make_ct_series(3, rows=32, columns=32)
    await store(*series)
    auth = await token_for(attending)
    headers = {**auth, **({"Accept": accept} if accept else {})}
    for ds in series:
        answer_headers, body = await rendered_like_django(rendered_url(ds) + query, headers)
        assert answer_headers["content-type"] == [media_type]
        assert body[:2] == (b"\xff\xd8" if media_type == "image/jpeg" else b"\x89P")
    assert answer_headers["cache-control"] == ["private, max-age=3600, no-store"]
    assert answer_headers["x-frame-options"] == ["DENY"] and answer_headers["vary"] == ["Cookie"]
    assert django_calls.paths == []  # the fast path answered every one


async def test_a_frame_of_a_multiframe_image(attending, django_calls):
    ds = make_dataset(rows=16, columns=16)
    pixels = np.stack([np.full((16, 16), value, np.int16) for value in (0, 200, 1000)])
    ds.NumberOfFrames = 3
    ds.PixelData = pixels.tobytes()
    await store(ds)
    auth = await session_cookie_for(attending)
    _, second = await rendered_like_django(rendered_url(ds, 2), {**auth, "Accept": "image/png"})
    _, third = await rendered_like_django(rendered_url(ds, 3), {**auth, "Accept": "image/png"})
    assert second != third
    assert django_calls.paths == []


async def test_what_the_index_cannot_say_is_rendered_from_the_file(attending, django_calls):
    ds = make_dataset(pixels=np.arange(1024, dtype=np.int16).reshape(32, 32))
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [1024, 0, 8])
    lut.add_new("LUTData", "US", list(range(255, -1, -1)) * 4)
    ds.VOILUTSequence = Sequence([lut])
    await store(ds)
    auth = await token_for(attending)
    await rendered_like_django(rendered_url(ds), {**auth, "Accept": "image/png"})
    assert django_calls.paths == []


async def test_refusals_are_django_answers(attending, outsider, django_calls):
    ds = make_dataset(rows=8, columns=8)
    no_image = make_dataset(rows=8, columns=8, study_uid=ds.StudyInstanceUID)
    del no_image.PixelData
    await store(ds, no_image)
    auth = await token_for(attending)
    cases = [
        (rendered_url(ds), {}, 401),
        (rendered_url(ds), await token_for(outsider), 403),
        (rendered_url(ds).replace(ds.StudyInstanceUID, "1.2.3.4"), auth, 404),
        (rendered_url(ds, 2), auth, 404),
        (rendered_url(ds).replace("/rendered", "/frames/1,2/rendered"), auth, 404),
        (rendered_url(ds) + "?window=wide", auth, 400),
        (rendered_url(ds) + "?quality=0", auth, 400),
        (rendered_url(ds) + "?viewport=0,0", auth, 400),
        (rendered_url(ds), {**auth, "Accept": "image/gif"}, 406),
        (rendered_url(no_image), auth, 404),
    ]
    for path, headers, expected in cases:
        # Warm the caches with a good request first: a refusal must not ride on them.
        assert (await asgi_get(application, rendered_url(ds), auth))[0] == 200
        before = len(django_calls.paths)
        status, _, body = await asgi_get(application, path, headers)
        assert status == expected, (path, headers, body)
        assert django_calls.paths[before:] == [path.partition("?")[0]]
        assert (await asgi_get(django_asgi_app, path, headers))[0] == expected


async def test_a_series_rendering_attributes_are_loaded_once(attending, django_calls, monkeypatch):
    loads = []
    real = fastrender.render_attributes_for_user

    def counted(user, study_uid, series_uid):
        loads.append(series_uid)
        return real(user, study_uid, series_uid)

    monkeypatch.setattr(fastrender, "render_attributes_for_user", counted)
    series = make_ct_series(4, rows=16, columns=16)
    await store(*series)
    auth = await token_for(attending)
    answers = await asyncio.gather(
        *(asgi_get(application, rendered_url(ds), auth) for ds in series * 2)
    )
    assert [status for status, _, _ in answers] == [200] * 8
    assert loads == [series[0].SeriesInstanceUID]
    assert django_calls.paths == []


@sync_to_async
def render_audits(study_uid: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(study_instance_uid=study_uid, action="render").select_related(
            "user"
        )
    )


async def test_audit_record_written_once_a_minute(attending, django_calls):
    series = make_ct_series(2, rows=8, columns=8, patient_id="MRN-RND", patient_name="Rnd^Pat")
    await store(*series)
    auth = await token_for(attending)
    for ds in series * 2:
        assert (await asgi_get(application, rendered_url(ds), auth))[0] == 200
    assert django_calls.paths == []
    [event] = await render_audits(series[0].StudyInstanceUID)
    assert (event.user, event.detail, event.patient_id) == (attending, "rendered", "MRN-RND")
    assert event.path == rendered_url(series[0]) and event.user_agent == USER_AGENT


async def test_a_deactivated_user_is_refused_after_the_ttl(
    attending, django_calls, settings, clock
):
    settings.DICOMWEB_FAST_FRAMES_TTL = 1
    ds = make_dataset(rows=8, columns=8)
    await store(ds)
    auth = await token_for(attending)
    assert (await asgi_get(application, rendered_url(ds), auth))[0] == 200
    attending.is_active = False
    await sync_to_async(attending.save)(update_fields=["is_active"])
    clock[0] += 1.1
    assert (await asgi_get(application, rendered_url(ds), auth))[0] == 401
    assert django_calls.paths == [rendered_url(ds)]
