"""End-to-end fixtures: a real Daphne server on the test database, and Debian's Chromium.

The server is a subprocess (HTTP and WebSockets, exactly as in production), so
live changes must travel through it: its in-memory channel layer is its own. On
PostgreSQL + Redis (``make test-scaleout``) it serves this run's test database and
shares this run's Redis channel layer (the prefix comes from READING_TEST_DIR).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from reading.devserver import CHROMIUM, CHROMIUM_ARGS, free_port, start_daphne, stop

# Playwright's sync API keeps an event loop in this thread; the ORM calls the
# tests make between page actions are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def _server_env() -> dict:
    """Environment for a server process that serves this run's test database."""
    from django.db import connection

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "reading.test_settings"}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["SQLITE_PATH"] = str(db["NAME"])
        env.pop("DATABASE_URL", None)
    else:
        user = quote(db.get("USER") or "")
        auth = (
            f"{user}:{quote(db['PASSWORD'])}@"
            if db.get("PASSWORD")
            else (f"{user}@" if user else "")
        )
        env["DATABASE_URL"] = (
            f"postgresql://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    return env


def start_server(env: dict | None = None, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start Daphne on the test database and wait until it answers."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = port or free_port()
    proc, port = start_daphne(
        env or _server_env(), port=port, log_path=ARTIFACTS / f"daphne-{port}.log", timeout=30
    )
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen) -> None:
    stop(proc)


@pytest.fixture(scope="session")
def live_url(django_db_setup, django_db_blocker):
    """Base URL of a Daphne server on the test database (HTTP + WebSockets)."""
    with django_db_blocker.unblock():
        proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(autouse=True)
def _isolated_storage(settings):
    """Browser tests store files where the server reads them."""
    settings.STORAGE_DIR = Path(os.environ["READING_TEST_DIR"]) / "storage"


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


def session_cookie_for(user, base_url: str) -> dict:
    """A real login session for ``user``, as the browser cookie that carries it."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": base_url,
    }


def wait_for_server_quiet(timeout: float = 10.0, quiet: float = 0.3) -> None:
    """Wait until no other connection works on the test database for ``quiet`` s.

    The sockets of pages just closed end with writes (presence, report updates): on
    PostgreSQL they would race the flush that ends the test, whose TRUNCATE of every
    table then deadlocks with them. SQLite's file lock makes the flush wait instead.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet:
            return
        time.sleep(0.05)


@pytest.fixture
def login_page(browser, live_url, transactional_db):
    """``login_page(user, path="/")``: a new browser context logged in as ``user``."""
    contexts = []

    def make(user, path: str = "/", **context_options):
        context = browser.new_context(
            viewport=context_options.pop("viewport", {"width": 1440, "height": 900}),
            **context_options,
        )
        context.add_cookies([session_cookie_for(user, live_url)])
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(live_url + path)
        return page

    yield make
    for context in contexts:
        context.close()
    wait_for_server_quiet()


@pytest.fixture
def shot():
    """``shot(page, name)`` saves a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take


@pytest.fixture(scope="session", autouse=True)
def viewer_bundle():
    """The built bundle (``make frontend``: npm ci + vite build), built once if missing."""
    if not (ROOT / "static" / "viewer" / "viewer.js").exists():
        subprocess.run(["make", "--no-print-directory", "frontend"], cwd=ROOT, check=True)
    return ROOT / "static" / "viewer"
