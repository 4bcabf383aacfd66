import pytest

from reading.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/", "/upload/", "/audit/", "/accounts/token/", "/studies/1.2.3/"]
)
def test_every_page_requires_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_api_without_login_is_401_not_a_redirect(client):
    assert client.get("/api/anything").status_code == 401
    assert client.get("/dicomweb/studies").status_code == 401


def test_login_page_is_public(client):
    assert client.get("/accounts/login/").status_code == 200


def test_api_token_page_makes_a_token_shown_once_and_revokes_it(attending_client, attending):
    response = attending_client.post("/accounts/token/", {"action": "create", "name": "slicer"})
    token = ApiToken.objects.get(user=attending)
    page = response.content.decode()
    key = page.split('id="api-token" class="token">')[1].split("<")[0]
    assert key.startswith(token.prefix) and len(key) > 40
    assert key not in attending_client.get("/accounts/token/").content.decode()
    attending_client.post("/accounts/token/", {"action": "revoke", "token": token.pk})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_deactivated_user_is_logged_out(client, attending):
    client.force_login(attending)
    attending.is_active = False
    attending.save()
    response = client.get("/")
    assert response.status_code == 302


def test_roles(attending, resident, admin_user, outsider):
    assert attending.is_clinical and attending.is_attending
    assert resident.is_clinical and not resident.is_attending
    assert not admin_user.is_clinical and admin_user.is_department_admin
    assert not outsider.is_clinical and not outsider.is_department_admin
