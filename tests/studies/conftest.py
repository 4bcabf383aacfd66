"""Fixtures of the DICOMweb fast path tests (frames, rendered images, pixel data)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from reading.asgi import django_asgi_app, http_app
from tests.studies.asgi_client import CountingDjango, close_executor_connection


@pytest.fixture
def django_calls(settings, monkeypatch):
    settings.DICOMWEB_FAST_FRAMES_TTL = 5
    counting = CountingDjango(django_asgi_app)
    monkeypatch.setattr(http_app, "app", counting)
    http_app.clear()
    yield counting
    http_app.clear()
    close_executor_connection()


@pytest.fixture
def clock(monkeypatch):
    """The fast path's clock (its caches'), moved by hand."""
    from reading.studies.dicomweb import fastcache

    now = [1000.0]
    monkeypatch.setattr(fastcache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now
