import pytest
from rest_framework.authtoken.models import Token

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


def test_api_token_page_creates_and_rotates(attending_client, attending):
    response = attending_client.get("/accounts/token/")
    key = Token.objects.get(user=attending).key
    assert key in response.content.decode()
    attending_client.post("/accounts/token/")
    assert Token.objects.get(user=attending).key != key


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
