"""Rendered images kept in memory (reading/studies/dicomweb/rendercache.py): the bytes
only; access and audit are decided on every request."""

import pytest
from django.test import Client

from reading.audit.models import AuditAction, AuditEvent
from reading.studies.dicomweb import render
from reading.studies.dicomweb.rendercache import RenderedCache, rendered_cache
from reading.studies.models import Instance
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def renders(monkeypatch):
    """How many times a frame was rendered (not answered from the cache)."""
    rendered_cache.clear()
    calls = []
    real = render.render_frame

    def counted(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_frame", counted)
    yield calls
    rendered_cache.clear()


def url(ds) -> str:
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/rendered"
    )


def test_same_request_is_rendered_once_and_still_audited(attending_client, renders):
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    first = attending_client.get(url(ds), headers={"Accept": "image/jpeg"})
    second = attending_client.get(url(ds), headers={"Accept": "image/jpeg"})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and len(renders) == 1
    assert second["Cache-Control"] == first["Cache-Control"]
    assert AuditEvent.objects.filter(action=AuditAction.RENDER).count() == 1  # de-duplicated
    # Every parameter that changes the image is part of the key.
    for params in ({"window": "-800,400"}, {"quality": "50"}, {"viewport": "16,16"}):
        response = attending_client.get(url(ds), params, headers={"Accept": "image/jpeg"})
        assert response.status_code == 200 and response.content != first.content, params
    png = attending_client.get(url(ds), headers={"Accept": "image/png"})
    assert png["Content-Type"] == "image/png"
    assert len(renders) == 5


def test_access_is_checked_before_the_cache(attending_client, outsider, renders):
    outsider_client = Client()
    outsider_client.force_login(outsider)
    ds = make_dataset()
    assert ingest_instance(to_bytes(ds)).ok
    assert attending_client.get(url(ds), headers={"Accept": "image/jpeg"}).status_code == 200
    assert outsider_client.get(url(ds), headers={"Accept": "image/jpeg"}).status_code == 403
    Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).delete()
    assert attending_client.get(url(ds), headers={"Accept": "image/jpeg"}).status_code == 404
    assert len(renders) == 1


def test_budget_drops_the_least_recently_used(settings):
    settings.RENDERED_CACHE_BYTES = 1000
    cache = RenderedCache()
    for n in range(10):
        cache.put(("k", n), bytes(100))
    assert cache.get(("k", 0)) is not None  # now the most recently used
    cache.put(("k", 10), bytes(100))
    assert cache.get(("k", 1)) is None
    assert all(cache.get(("k", n)) is not None for n in (0, *range(2, 11)))
    cache.put(("big", 0), bytes(126))  # more than an eighth of the budget: not kept
    assert cache.get(("big", 0)) is None
    settings.RENDERED_CACHE_BYTES = 0
    cache.put(("k", 11), b"x")
    assert cache.get(("k", 11)) is None
