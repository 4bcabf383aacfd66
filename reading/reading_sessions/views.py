"""The invite-link page: redeem the link, then open the study in the viewer."""

from django.shortcuts import redirect

from reading.reading_sessions import services
from reading.reading_sessions.serializers import viewer_url


def join_by_link(request, token: str):
    # Login is required by the middleware; study access by join_by_invite (404 otherwise).
    session = services.join_by_invite(request.user, token)
    return redirect(viewer_url(session))
