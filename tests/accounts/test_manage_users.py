"""The department admin's user page (``/manage/``): create, role, password, deactivate."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from reading.accounts.models import User
from reading.audit.models import AuditEvent
from reading.studies.models import Study
from reading.studies.services import ingest_instance
from reading.worklist import services as worklist
from reading.worklist.models import ReadingItem
from tests.dicom_factory import make_dataset, to_bytes


@pytest.mark.parametrize("url", ["/manage/", "/manage/users/1/"])
def test_manage_pages_are_for_admins_only(client, attending, outsider, url):
    for user in (attending, outsider):
        client.force_login(user)
        method = client.post if url.endswith("/1/") else client.get
        assert method(url).status_code == 403, (user, url)


def test_admin_creates_user_sets_role_resets_password(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/manage/").status_code == 200
    r = client.post(
        "/manage/",
        {
            "username": "newres",
            "display_name": "New Res",
            "role": "resident",
            "password": "s3cret-pass",
        },
    )
    assert r.status_code == 302 and r.url == "/manage/"
    user = User.objects.get(username="newres")
    assert user.role == "resident" and user.check_password("s3cret-pass")
    client.post(f"/manage/users/{user.pk}/", {"action": "role", "role": "attending"})
    user.refresh_from_db()
    assert user.role == "attending"
    client.post(f"/manage/users/{user.pk}/", {"action": "password", "password": "another-pass"})
    user.refresh_from_db()
    assert user.check_password("another-pass")
    assert AuditEvent.objects.filter(action="admin", detail__contains="newres").count() == 3


def test_taken_username_and_own_admin_role_are_refused(client, admin_user, resident):
    admin_user.is_superuser = False  # a superuser may step down; a department admin may not
    admin_user.save(update_fields=["is_superuser"])
    client.force_login(admin_user)
    r = client.post(
        "/manage/",
        {"username": resident.username.upper(), "role": "resident", "password": "s3cret-pass"},
    )
    assert r.status_code == 200 and b"is taken" in r.content
    r = client.post(
        f"/manage/users/{admin_user.pk}/", {"action": "role", "role": "none"}, follow=True
    )
    assert b"cannot take your own admin role away" in r.content
    admin_user.refresh_from_db()
    assert admin_user.role == "admin"
    client.post(f"/manage/users/{admin_user.pk}/", {"action": "deactivate"})
    admin_user.refresh_from_db()
    assert admin_user.is_active


def _claimed_study(user) -> Study:
    assert ingest_instance(to_bytes(make_dataset())).ok
    study = Study.objects.get()
    assert worklist.claim_study(user, study).won
    return study


def test_deactivation_ends_sessions_and_releases_claims(client, admin_user, resident):
    other = Client()
    other.force_login(resident)
    assert other.get("/").status_code == 200
    study = _claimed_study(resident)
    assert Session.objects.count() == 1
    client.force_login(admin_user)
    r = client.post(f"/manage/users/{resident.pk}/", {"action": "deactivate"})
    assert r.status_code == 302
    resident.refresh_from_db()
    assert not resident.is_active
    assert Session.objects.count() == 1  # only the admin's own session is left
    assert other.get("/").status_code == 302  # logged out: back to the login page
    assert ReadingItem.objects.get(pk=study.pk).claimed_by is None
    client.post(f"/manage/users/{resident.pk}/", {"action": "reactivate"})
    resident.refresh_from_db()
    assert resident.is_active


def test_losing_the_clinical_role_releases_claims(client, admin_user, resident, attending):
    study = _claimed_study(resident)
    client.force_login(admin_user)
    client.post(f"/manage/users/{resident.pk}/", {"action": "role", "role": "attending"})
    assert ReadingItem.objects.get(pk=study.pk).claimed_by == resident  # still a reader
    client.post(f"/manage/users/{resident.pk}/", {"action": "role", "role": "none"})
    assert ReadingItem.objects.get(pk=study.pk).claimed_by is None
