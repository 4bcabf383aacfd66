"""Shared cast of users and DICOM builders for every test."""

from __future__ import annotations

import os

import pytest

from tests.dicom_factory import make_ct_series, make_dataset, to_bytes  # noqa: F401

REQUIRE_SCALEOUT = os.environ.get("REQUIRE_SCALEOUT") == "1"


def _scaleout_ready() -> bool:
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    return on_postgres and bool(getattr(settings, "REDIS_URL", ""))


SCALEOUT_REASON = "scale-out test: needs DATABASE_URL (PostgreSQL) and REDIS_URL"


def pytest_collection_modifyitems(config, items):
    """Browser tests run last; scale-out tests skip on a newcomer's machine.

    Playwright's sync API keeps an event loop in the main thread from the first
    browser test to the end of the session, which ``async_to_sync`` refuses to
    run beside, so every other test runs before it starts. In CI
    (REQUIRE_SCALEOUT=1) the scale-out tests must run.
    """
    items.sort(key=lambda item: "browser" in item.keywords)
    if REQUIRE_SCALEOUT or _scaleout_ready():
        return
    for item in items:
        if "scaleout" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=SCALEOUT_REASON))


def pytest_runtest_setup(item):
    if "scaleout" in item.keywords and REQUIRE_SCALEOUT and not _scaleout_ready():
        pytest.fail(f"REQUIRE_SCALEOUT=1: {SCALEOUT_REASON}", pytrace=False)


def _make_user(django_user_model, username, role, **extra):
    user = django_user_model(username=username, role=role, display_name=username.title(), **extra)
    user.set_password("pw-" + username)
    user.save()
    return user


@pytest.fixture
def attending(db, django_user_model):
    return _make_user(django_user_model, "att", "attending")


@pytest.fixture
def resident(db, django_user_model):
    return _make_user(django_user_model, "res", "resident")


@pytest.fixture
def admin_user(db, django_user_model):
    return _make_user(django_user_model, "adm", "admin", is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(db, django_user_model):
    """Logged in, but no clinical role: must see no patient data anywhere."""
    return _make_user(django_user_model, "out", "none")


@pytest.fixture
def attending_client(client, attending):
    client.force_login(attending)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture(scope="session", autouse=True)
def _drop_leftover_connections(request):
    """On PostgreSQL, end every other connection to the test database before it is
    dropped: a server subprocess or a thread a test left behind would otherwise keep
    it ("being accessed by other users") and leave the database on the server."""
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        yield
        return
    request.getfixturevalue("django_db_setup")  # torn down after this fixture
    yield
    from django.db import connection, connections

    with request.getfixturevalue("django_db_blocker").unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connections.close_all()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The audit de-duplication lives in the cache; no test sees another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test stores instance files in its own directory."""
    settings.STORAGE_DIR = tmp_path / "storage"
