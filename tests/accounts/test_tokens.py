"""API tokens: the APIs only (not pages, not the admin), expiring, revocable, stored hashed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reading.accounts.models import ApiToken
from reading.accounts.services import create_api_token, revoke_api_token

pytestmark = pytest.mark.django_db


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_token_opens_dicomweb_and_json_apis(client, attending):
    key = create_api_token(attending).key
    assert client.get("/dicomweb/studies", **bearer(key)).status_code in (200, 204)
    assert client.get("/api/worklist/", **bearer(key)).status_code == 200
    assert client.get("/api/worklist/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.parametrize("path", ["/", "/accounts/token/", "/admin/", "/audit/", "/upload/"])
def test_token_opens_no_page_and_not_the_admin(client, admin_user, path):
    key = create_api_token(admin_user).key
    response = client.get(path, **bearer(key))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_token_is_no_csrf_exemption_on_pages(client, attending):
    key = create_api_token(attending).key
    response = client.post("/accounts/token/", {"action": "create"}, **bearer(key))
    assert response.status_code == 302
    assert ApiToken.objects.filter(user=attending).count() == 1


def test_token_is_stored_as_a_digest_only(attending):
    issued = create_api_token(attending)
    row = ApiToken.objects.values().get(pk=issued.token.pk)
    assert issued.key not in {str(v) for v in row.values()}
    assert len(row["digest"]) == 64 and row["prefix"] == issued.key[:8]


def test_expired_token_is_refused(client, attending):
    issued = create_api_token(attending)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(1))
    assert client.get("/api/worklist/", **bearer(issued.key)).status_code == 401


def test_token_expires_after_the_configured_days(attending, settings):
    settings.API_TOKEN_DAYS = 7
    token = create_api_token(attending).token
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)


def test_user_revokes_own_token(client, attending):
    issued = create_api_token(attending)
    revoke_api_token(attending, issued.token)
    assert client.get("/api/worklist/", **bearer(issued.key)).status_code == 401


def test_admin_revokes_a_users_token_in_the_admin(client, attending, admin_user):
    issued = create_api_token(attending)
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [issued.token.pk]},
    )
    assert response.status_code == 302
    client.logout()
    assert client.get("/api/worklist/", **bearer(issued.key)).status_code == 401


def test_outsider_cannot_revoke_someone_elses_token(attending, outsider):
    from django.core.exceptions import PermissionDenied

    issued = create_api_token(attending)
    with pytest.raises(PermissionDenied):
        revoke_api_token(outsider, issued.token)
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_deactivated_users_token_is_refused(client, attending):
    key = create_api_token(attending).key
    attending.is_active = False
    attending.save()
    assert client.get("/api/worklist/", **bearer(key)).status_code == 401


def test_token_lookup_reads_the_user_afresh_and_notes_use_every_five_minutes(attending):
    from reading.accounts.authentication import LAST_USED_RESOLUTION, user_from_token_header

    issued = create_api_token(attending)
    user = user_from_token_header(f"Bearer {issued.key}")
    assert user == attending and user.role == attending.role
    first = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert first is not None
    assert user_from_token_header(f"Token {issued.key}") == attending
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first  # not written again
    stale = timezone.now() - LAST_USED_RESOLUTION - timedelta(seconds=1)
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=stale)
    attending.role = "none"
    attending.save()
    user = user_from_token_header(f"Bearer {issued.key}")
    assert user.role == "none" and not hasattr(user, "token_pk")
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > stale
    for header in (f"Basic {issued.key}", "Bearer ", f"Bearer {issued.key}x", "Bearer"):
        assert user_from_token_header(header) is None
