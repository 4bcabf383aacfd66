"""Automatic logoff, secure cookies and HSTS over TLS, the secret key, login throttling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from reading.accounts.middleware import LAST_ACTIVITY_KEY
from reading.secret import load_secret_key

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def age_session(client, seconds: float) -> None:
    session = client.session
    session[LAST_ACTIVITY_KEY] = time.time() - seconds
    session.save()


def test_idle_session_is_logged_out(attending_client, settings):
    settings.SESSION_IDLE_TIMEOUT = 15 * 60
    assert attending_client.get("/").status_code == 200
    age_session(attending_client, 16 * 60)
    response = attending_client.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert attending_client.get("/api/worklist/").status_code == 401  # and stays out


def test_idle_api_request_gets_401(attending_client):
    age_session(attending_client, 60 * 60)
    assert attending_client.get("/api/worklist/").status_code == 401


def test_recent_activity_keeps_the_session(attending_client):
    age_session(attending_client, 14 * 60)
    assert attending_client.get("/").status_code == 200
    assert attending_client.post("/accounts/activity/").json()["idle_timeout"] == 900
    assert time.time() - attending_client.session[LAST_ACTIVITY_KEY] < 60


def test_the_default_timeout_is_15_minutes():
    from django.conf import settings

    assert settings.SESSION_IDLE_TIMEOUT == 15 * 60
    assert settings.SESSION_COOKIE_AGE <= 12 * 60 * 60


def test_pages_count_down_the_timeout(attending_client):
    html = attending_client.get("/").content.decode()
    assert 'data-idle-timeout="900"' in html
    assert "js/idle.js" in html


def test_idle_session_closes_the_users_sockets(
    attending_client, attending, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("reading.realtime.group_send", lambda group, msg: sent.append((group, msg)))
    age_session(attending_client, 60 * 60)
    with django_capture_on_commit_callbacks(execute=True):
        attending_client.get("/")
    assert (f"user.{attending.pk}", {"type": "user.disconnect"}) in sent


def test_cookies_are_secure_and_hsts_sent_over_tls(client, attending):
    response = client.post(
        "/accounts/login/", {"username": "att", "password": "pw-att"}, secure=True
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["csrftoken"]["secure"] is True
    page = client.get("/", secure=True)
    assert page["Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_tls_proxy(client, attending, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = client.post(
        "/accounts/login/",
        {"username": "att", "password": "pw-att"},
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert response.cookies["sessionid"]["secure"] is True


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    key = load_secret_key(tmp_path, production=False)
    assert len(key) >= 50 and "insecure" not in key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_secret_key(tmp_path, production=False) == key


def test_production_mode_refuses_to_start_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    with pytest.raises(ImproperlyConfigured):
        load_secret_key(tmp_path, production=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE")}
    env.update(PRODUCTION="1", DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="reading.settings")
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "refusing to start" in run.stderr


def test_committed_development_key_is_gone():
    from django.conf import settings

    assert "insecure" not in settings.SECRET_KEY


def test_login_is_locked_after_repeated_failures_per_account(client, attending):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "att", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "att", "password": "pw-att"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_is_locked_per_address_across_accounts(client, attending, resident):
    for name in ("a", "b", "c", "d", "e"):
        client.post("/accounts/login/", {"username": name, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "res", "password": "pw-res"})
    assert response.status_code == 429


def test_other_addresses_and_accounts_still_log_in(client, attending, resident):
    for _ in range(5):
        client.post(
            "/accounts/login/", {"username": "att", "password": "wrong"}, REMOTE_ADDR="10.0.0.9"
        )
    response = client.post(
        "/accounts/login/", {"username": "res", "password": "pw-res"}, REMOTE_ADDR="10.0.0.8"
    )
    assert response.status_code == 302


def test_stronger_password_validators():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short1", "1234567890123", "password123"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("reading-room")  # the demo password still passes
