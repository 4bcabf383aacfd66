"""Per-user API tokens for external clients (dicomweb-client, OHIF, 3D Slicer).

Accepts ``Authorization: Bearer <key>`` (what DICOMweb clients send) and DRF's
``Authorization: Token <key>``.
"""

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Token "):
            request.META["HTTP_AUTHORIZATION"] = "Bearer " + header[len("Token ") :]
        return super().authenticate(request)


def user_from_token_header(header: str):
    """The active user behind an Authorization header, or None."""
    from rest_framework.authtoken.models import Token

    scheme, _, key = header.partition(" ")
    if scheme not in {"Bearer", "Token"} or not key.strip():
        return None
    token = Token.objects.select_related("user").filter(key=key.strip()).first()
    if token is None or not token.user.is_active:
        return None
    return token.user
