"""Content-Security-Policy, no-store on patient data, WebSocket origins with the port."""

from __future__ import annotations

import pytest

from reading.edge import SameOriginWebSocket

pytestmark = pytest.mark.django_db


def test_pages_carry_a_csp_the_viewer_works_under(attending_client):
    policy = attending_client.get("/")["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )
    assert directives["default-src"] == ["'self'"]
    assert "'wasm-unsafe-eval'" in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert {"'self'", "blob:"} <= set(directives["worker-src"])
    assert {"'self'", "blob:", "data:"} <= set(directives["img-src"])
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_no_inline_scripts_or_handlers_in_pages(attending_client, admin_user, client):
    import re

    client.force_login(admin_user)
    pages = [attending_client.get("/").content.decode()]
    pages += [client.get(p).content.decode() for p in ("/manage/", "/manage/assign/")]
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>\s*\S", html)
        assert not re.search(r"\son(click|change|submit|load)=", html)


@pytest.mark.parametrize("path", ["/", "/api/worklist/", "/dicomweb/studies"])
def test_patient_data_is_not_stored_by_caches(attending_client, path):
    response = attending_client.get(path)
    assert "no-store" in response["Cache-Control"]


def test_static_files_stay_cacheable(attending_client):
    assert "no-store" not in attending_client.get("/static/js/idle.js").get("Cache-Control", "")


def scope(origin: str | None, host: str) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "headers": headers}


@pytest.mark.parametrize(
    "origin, host, ok",
    [
        ("http://localhost:8000", "localhost:8000", True),
        ("https://reading.example.org", "reading.example.org", True),
        ("https://reading.example.org:443", "reading.example.org", True),
        ("http://localhost:9999", "localhost:8000", False),  # another port: another origin
        ("http://localhost", "localhost:8000", False),
        ("http://evil.example", "localhost:8000", False),
        ("null", "localhost:8000", False),
        (None, "localhost:8000", False),
    ],
)
def test_websocket_origin_must_match_including_the_port(origin, host, ok):
    assert SameOriginWebSocket.allowed(scope(origin, host)) is ok


def test_trusted_origins_are_allowed(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://viewer.example.org"]
    assert SameOriginWebSocket.allowed(scope("https://viewer.example.org", "backend:8000"))
