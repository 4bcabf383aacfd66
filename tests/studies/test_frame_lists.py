"""WADO-RS frame lists: repeats served once, long lists refused (Django and the fast path)."""

import numpy as np
import pytest

from reading.asgi import application
from tests.dicom_factory import make_dataset
from tests.studies.asgi_client import asgi_get
from tests.studies.dicomweb_helpers import split_multipart
from tests.studies.test_dicomweb_fastpath import (
    ANY_SYNTAX,
    frames_url,
    parts,
    session_cookie_for,
    store,
)

pytestmark = pytest.mark.django_db(transaction=True)


def multiframe(frames: int = 3):
    pixels = np.arange(frames * 8 * 8, dtype=np.int16).reshape(frames, 8, 8)
    ds = make_dataset(rows=8, columns=8)
    ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    return ds, pixels


async def test_repeated_frames_are_served_once(attending, django_calls):
    ds, pixels = multiframe()
    await store(ds)
    auth = await session_cookie_for(attending)
    status, headers, body = await asgi_get(
        application, frames_url(ds, ",".join(["2", "1"] * 3000)), {**auth, "Accept": ANY_SYNTAX}
    )
    assert status == 200
    assert [p for _, p in parts(headers, body)] == [pixels[1].tobytes(), pixels[0].tobytes()]
    assert django_calls.paths == []  # the fast path answered it


async def test_too_many_frames_is_400_on_both_paths(attending, django_calls, settings):
    settings.DICOMWEB_MAX_FRAMES = 2
    ds, _ = multiframe()
    await store(ds)
    auth = await session_cookie_for(attending)
    headers = {**auth, "Accept": ANY_SYNTAX}
    status, _, body = await asgi_get(application, frames_url(ds, "1,2,3"), headers)
    assert status == 400 and b"at most 2" in body
    status, _, _ = await asgi_get(application, frames_url(ds, "1," * 8 + "1"), headers)
    assert status == 400  # a list many times the limit is not even parsed
    status, _, _ = await asgi_get(application, frames_url(ds, "1,2,1"), headers)
    assert status == 200


def test_django_view_dedupes(attending_client):
    ds, pixels = multiframe()
    from reading.studies.services import ingest_instance
    from tests.dicom_factory import to_bytes

    assert ingest_instance(to_bytes(ds)).ok
    response = attending_client.get(frames_url(ds, "3,3,3"), headers={"Accept": ANY_SYNTAX})
    assert [p for _, p in split_multipart(response)] == [pixels[2].tobytes()]


def test_outsider_gets_no_frames(outsider_client):
    ds, _ = multiframe()
    from reading.studies.services import ingest_instance
    from tests.dicom_factory import to_bytes

    assert ingest_instance(to_bytes(ds)).ok
    assert outsider_client.get(frames_url(ds, "1,1")).status_code == 403
