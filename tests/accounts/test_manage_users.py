"""The department admin's user page (``/manage/``): create, role, password, deactivate."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from reading.accounts.models import ApiToken, User
from reading.accounts.services import create_api_token
from reading.audit.models import AuditEvent
from reading.studies.models import Study
from reading.studies.services import ingest_instance
from reading.worklist import claims
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
    assert claims.claim_study(user, study).won
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


def _bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_admin_sees_a_users_tokens_without_their_keys(client, admin_user, attending):
    issued = create_api_token(attending, name="Slicer laptop")
    client.force_login(admin_user)
    listing = client.get("/manage/").content.decode()
    assert f'href="/manage/users/{attending.pk}/tokens/"' in listing
    r = client.get(f"/manage/users/{attending.pk}/tokens/")
    page = r.content.decode()
    assert r.status_code == 200 and "Slicer laptop" in page and "usable" in page
    assert issued.key not in page and issued.key[:8] not in page
    assert issued.token.digest not in page
    assert AuditEvent.objects.count() == 0  # seeing token metadata is no patient data


def test_admin_revokes_a_token_and_it_is_refused_at_once(client, admin_user, attending):
    issued = create_api_token(attending, name="Slicer laptop")
    api = Client()
    assert api.get("/dicomweb/studies", **_bearer(issued.key)).status_code in (200, 204)
    client.force_login(admin_user)
    r = client.post(f"/manage/users/{attending.pk}/tokens/{issued.token.pk}/revoke/")
    assert r.status_code == 302 and r.url == f"/manage/users/{attending.pk}/tokens/"
    assert api.get("/dicomweb/studies", **_bearer(issued.key)).status_code == 401
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="admin")
    assert event.user == admin_user
    assert event.detail == f"token-revoked:{attending.username};token={issued.token.pk}"
    page = client.get(r.url).content.decode()
    assert "revoked" in page and "Revoke</button>" not in page
    # A second revocation changes nothing and is not audited again.
    client.post(f"/manage/users/{attending.pk}/tokens/{issued.token.pk}/revoke/")
    assert AuditEvent.objects.filter(action="admin").count() == 1


def test_own_revocation_is_not_an_admin_action(client, attending):
    issued = create_api_token(attending)
    client.force_login(attending)
    client.post("/accounts/token/", {"action": "revoke", "token": issued.token.pk})
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
    assert not AuditEvent.objects.filter(action="admin").exists()


def test_token_pages_and_revoke_are_for_admins_only(client, attending, resident, outsider):
    issued = create_api_token(attending)
    revoke = f"/manage/users/{attending.pk}/tokens/{issued.token.pk}/revoke/"
    for user in (resident, attending, outsider):
        client.force_login(user)
        assert client.get(f"/manage/users/{attending.pk}/tokens/").status_code == 403, user
        assert client.post(revoke).status_code == 403, user
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None


def test_revoke_route_takes_the_token_of_the_user_in_the_path(
    client, admin_user, attending, resident
):
    issued = create_api_token(attending)
    client.force_login(admin_user)
    r = client.post(f"/manage/users/{resident.pk}/tokens/{issued.token.pk}/revoke/")
    assert r.status_code == 404
    assert (
        client.get(f"/manage/users/{attending.pk}/tokens/{issued.token.pk}/revoke/").status_code
        == 405
    )
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None
