"""CORS on DICOMweb: off by default; configured origins get preflights without credentials."""

import pytest

from reading.accounts.services import create_api_token
from reading.studies.services import ingest_instance
from tests.dicom_factory import make_dataset, to_bytes

pytestmark = pytest.mark.django_db

OHIF = "https://ohif.example.org"
PREFLIGHT = {
    "Origin": OHIF,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization, accept",
}


def test_off_by_default(client):
    response = client.options("/dicomweb/studies", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in response
    assert response.status_code == 401  # the login middleware answers, as for any request


def test_preflight_needs_no_credentials_and_token_request_is_allowed(client, attending, settings):
    settings.DICOMWEB_CORS_ORIGINS = [OHIF]
    preflight = client.options("/dicomweb/studies", headers=PREFLIGHT)
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == OHIF
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]
    assert "GET" in preflight["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in preflight  # never cookies cross-origin

    assert ingest_instance(to_bytes(make_dataset())).ok
    token = create_api_token(attending)
    key = token.key
    response = client.get(
        "/dicomweb/studies", headers={"Origin": OHIF, "Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == OHIF
    assert "Warning" in response["Access-Control-Expose-Headers"]
    assert "Origin" in response["Vary"]


def test_other_origins_get_no_cors(client, settings):
    settings.DICOMWEB_CORS_ORIGINS = [OHIF]
    preflight = client.options(
        "/dicomweb/studies", headers={**PREFLIGHT, "Origin": "https://evil.example"}
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight
    # An unauthenticated cross-origin request is still refused, now readable by the page.
    response = client.get("/dicomweb/studies", headers={"Origin": OHIF})
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == OHIF


def test_outsider_token_gets_403_across_origins(client, outsider, settings):
    settings.DICOMWEB_CORS_ORIGINS = ["*"]
    token = create_api_token(outsider)
    key = token.key
    response = client.get(
        "/dicomweb/studies", headers={"Origin": OHIF, "Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403
    assert response["Access-Control-Allow-Origin"] == "*"
