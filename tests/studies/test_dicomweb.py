"""DICOMweb through Django's test client: who may use it (401, 403, 404) and Accept parsing."""

from __future__ import annotations

import pytest
from django.test import Client

from reading.accounts.services import create_api_token
from reading.studies.dicomweb.media import parse_accept
from reading.studies.models import Instance
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes
from tests.studies.dicomweb_helpers import (
    stow,
)

pytestmark = pytest.mark.django_db


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
