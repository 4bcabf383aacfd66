"""Session REST API and the invite-link page; outsiders get 403 everywhere."""

from __future__ import annotations

import uuid

import pytest

from reading.reading_sessions import services
from reading.reading_sessions.chat import post_chat
from reading.reading_sessions.models import ReadingSession, SessionInvite

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_list_detail(attending_client, attending, resident, ct_study):
    response = attending_client.post(
        "/api/sessions/",
        {"study_instance_uid": ct_study.study_instance_uid, "title": "Board", "invite": ["res"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["host"]["username"] == attending.username
    assert body["presenter"]["id"] == attending.pk
    assert body["status"] == "active" and body["last_seq"] == 1
    assert body["invite_url"].startswith("/sessions/join/")
    assert body["viewer_url"] == f"/viewer/{ct_study.study_instance_uid}/?session={body['id']}"
    assert SessionInvite.objects.filter(session_id=body["id"], user=resident).exists()
    listed = attending_client.get(
        f"/api/sessions/?study={ct_study.study_instance_uid}&status=active"
    )
    assert [s["id"] for s in listed.json()["results"]] == [body["id"]]
    assert attending_client.get(f"/api/sessions/{body['id']}/").json()["title"] == "Board"


def test_invite_unknown_or_non_reader_is_refused(attending_client, attending, admin_user, ct_study):
    response = attending_client.post(
        "/api/sessions/",
        {"study_instance_uid": ct_study.study_instance_uid, "invite": ["nobody"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    session = services.create_session(study=ct_study, host=attending)
    response = attending_client.post(
        f"/api/sessions/{session.pk}/invite/",
        {"usernames": [admin_user.username]},
        content_type="application/json",
    )
    assert response.status_code == 400  # admins do not read images


def test_mine_lists_invited_sessions(client, attending, resident, ct_study):
    services.create_session(study=ct_study, host=attending)
    invited = services.create_session(study=ct_study, host=attending, invite=["res"])
    client.force_login(resident)
    mine = client.get("/api/sessions/?mine=1").json()["results"]
    assert [s["id"] for s in mine] == [str(invited.pk)]


def test_join_by_link_redirects_into_viewer(client, attending, resident, ct_study):
    session = services.create_session(study=ct_study, host=attending)
    client.force_login(resident)
    response = client.get(f"/sessions/join/{session.invite_token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/viewer/{ct_study.study_instance_uid}/?session={session.pk}"
    invite = SessionInvite.objects.get(session=session, user=resident)
    assert invite.via_link
    assert client.get("/sessions/join/not-a-token/").status_code == 404
    api = client.post(f"/api/sessions/join/{session.invite_token}/")
    assert api.status_code == 200 and api.json()["id"] == str(session.pk)


def test_join_link_needs_login(client, attending, ct_study):
    session = services.create_session(study=ct_study, host=attending)
    response = client.get(f"/sessions/join/{session.invite_token}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_end_only_by_host(client, attending, resident, ct_study):
    session = services.create_session(study=ct_study, host=attending)
    client.force_login(resident)
    assert client.post(f"/api/sessions/{session.pk}/end/").status_code == 403
    client.force_login(attending)
    response = client.post(f"/api/sessions/{session.pk}/end/")
    assert response.status_code == 200 and response.json()["status"] == "ended"
    events = client.get(f"/api/sessions/{session.pk}/events?after=0").json()
    assert [e["type"] for e in events["events"]] == ["session.started", "session.ended"]
    assert [e["seq"] for e in events["events"]] == [1, 2] and events["last_seq"] == 2


def test_event_history_and_chat(client, attending, resident, ct_study):
    session = services.create_session(study=ct_study, host=attending)
    post_chat(session.pk, attending, "first")
    post_chat(session.pk, attending, "second")
    client.force_login(resident)
    events = client.get(f"/api/sessions/{session.pk}/events?after=1").json()["events"]
    assert [(e["seq"], e["type"]) for e in events] == [(2, "chat.message"), (3, "chat.message")]
    assert (
        client.get(f"/api/sessions/{session.pk}/events?after=2&limit=1").json()["events"][0]["seq"]
        == 3
    )
    assert client.get(f"/api/sessions/{session.pk}/events?after=x").status_code == 400
    chat = client.get(f"/api/sessions/{session.pk}/chat/").json()["results"]
    assert [m["text"] for m in chat] == ["first", "second"]
    study_chat = client.get(f"/api/studies/{ct_study.study_instance_uid}/chat/").json()["results"]
    assert [m["text"] for m in study_chat] == ["first", "second"]


def test_outsider_gets_403_on_every_endpoint(outsider_client, attending, ct_study):
    session = services.create_session(study=ct_study, host=attending)
    base = f"/api/sessions/{session.pk}/"
    assert outsider_client.get("/api/sessions/").status_code == 403
    assert (
        outsider_client.post(
            "/api/sessions/",
            {"study_instance_uid": ct_study.study_instance_uid},
            content_type="application/json",
        ).status_code
        == 403
    )
    assert outsider_client.get(base).status_code == 403
    assert (
        outsider_client.post(
            base + "invite/", {"usernames": ["att"]}, content_type="application/json"
        ).status_code
        == 403
    )
    assert outsider_client.post(base + "end/").status_code == 403
    assert outsider_client.get(base + "events?after=0").status_code == 403
    assert outsider_client.get(base + "chat/").status_code == 403
    assert (
        outsider_client.get(f"/api/studies/{ct_study.study_instance_uid}/chat/").status_code == 403
    )
    assert outsider_client.post(f"/api/sessions/join/{session.invite_token}/").status_code == 403
    assert outsider_client.get(f"/sessions/join/{session.invite_token}/").status_code == 403
    assert ReadingSession.objects.get(pk=session.pk).status == "active"
    assert not SessionInvite.objects.exists()


def test_unknown_session_is_404(attending_client):
    assert attending_client.get(f"/api/sessions/{uuid.uuid4()}/").status_code == 404
