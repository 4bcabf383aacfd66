from django.conf import settings


def idle_timeout(request) -> dict:
    """The automatic logoff time, for the pages' countdown (static/js/idle.js)."""
    return {"idle_timeout": settings.SESSION_IDLE_TIMEOUT}
