"""Fixtures of the DICOMweb tests: an archive of three studies, a token client, and for the
fast path tests (frames, rendered images, pixel data) which of them reached Django."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from django.test import Client

from reading.accounts.services import create_api_token
from reading.asgi import django_asgi_app, http_app
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_ct_series, to_bytes
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
