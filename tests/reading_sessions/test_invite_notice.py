"""An invited reader hears of the invitation at once, on their own worklist socket."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from reading.reading_sessions import services
from reading.worklist.consumers import WorklistConsumer
from tests.conftest import _make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


async def connect(user):
    comm = WebsocketCommunicator(WorklistConsumer.as_asgi(), "/ws/worklist/")
    comm.scope["user"] = user
    connected, _ = await comm.connect()
    assert connected
    return comm


@pytest.fixture
def second_attending(db):
    return _make_user(get_user_model(), "att2", "attending")


async def test_invited_reader_is_told_live_and_no_one_else(
    ct_study, attending, resident, second_attending
):
    invited = await connect(resident)
    bystander = await connect(second_attending)
    session = await database_sync_to_async(services.create_session)(
        study=ct_study, host=attending, title="Tumour board: right upper lobe nodule follow-up"
    )
    await database_sync_to_async(services.invite_users)(
        session, by=attending, usernames=[resident.username]
    )
    event = await invited.receive_json_from(timeout=2)
    assert event["type"] == "worklist.session_invited"
    payload = event["payload"]
    assert payload["id"] == str(session.pk)
    assert payload["title"] == "Tumour board: right upper lobe nodule follow-up"
    assert payload["invited_by"]["username"] == attending.username
    assert payload["viewer_url"].endswith(f"?session={session.pk}")
    assert "invite_url" not in payload  # the invite link's token stays out
    # Inviting again sends nothing new; the colleague who was not invited hears nothing.
    await database_sync_to_async(services.invite_users)(
        session, by=attending, usernames=[resident.username]
    )
    assert await invited.receive_nothing(timeout=0.3)
    assert await bystander.receive_nothing(timeout=0.3)
    await invited.disconnect()
    await bystander.disconnect()


async def test_invited_at_creation_is_told(ct_study, attending, resident):
    invited = await connect(resident)
    await database_sync_to_async(services.create_session)(
        study=ct_study, host=attending, invite=[resident.username]
    )
    event = await invited.receive_json_from(timeout=2)
    assert event["type"] == "worklist.session_invited"
    await invited.disconnect()


async def test_outsider_gets_no_worklist_socket(outsider):
    comm = WebsocketCommunicator(WorklistConsumer.as_asgi(), "/ws/worklist/")
    comm.scope["user"] = outsider
    connected, code = await comm.connect()
    assert not connected and code == 4403
