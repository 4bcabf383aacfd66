"""``/healthz`` and ``/readyz``: no login, no patient data, 503 when a dependency fails."""

import json

import pytest

from reading import health


def test_healthz_needs_no_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_checks_database_channel_layer_and_storage(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["checks"].items()} == {
        "database": "ok",
        "channel_layer": "ok",
        "storage": "ok",
    }
    assert list(settings.STORAGE_DIR.iterdir()) == []  # the probe file is gone


@pytest.mark.django_db
def test_readyz_is_503_when_storage_is_not_writable(client, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    settings.STORAGE_DIR = blocker / "storage"
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["storage"]["status"] == "failed" and checks["database"]["status"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_a_failed_check_by_class_only(client, monkeypatch, attending):
    def broken():
        raise ConnectionError(f"patient {attending.username} leaked?")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "status": "failed",
        "error": "ConnectionError",
        "ms": response.json()["checks"]["database"]["ms"],
    }
    assert attending.username not in json.dumps(response.json())


def test_outsider_sees_the_same_as_anonymous(outsider_client):
    assert outsider_client.get("/healthz").content == b"ok"
