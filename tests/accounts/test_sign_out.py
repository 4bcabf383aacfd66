"""Signing out closes the user's sockets only once their session row is gone."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit sends run for real


def test_sockets_close_after_the_session_is_deleted(client, attending, monkeypatch):
    client.force_login(attending)
    key = client.session.session_key
    sent = []

    def record(group, message):
        # A page reloaded by this close must find itself signed out.
        sent.append((group, message, Session.objects.filter(session_key=key).exists()))

    monkeypatch.setattr("reading.realtime.group_send", record)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert sent == [(f"user.{attending.pk}", {"type": "user.disconnect"}, False)]
