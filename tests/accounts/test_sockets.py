"""Every socket of a user closes on logout and on any deactivation (admin, shell)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from reading.worklist.consumers import WorklistConsumer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


async def open_worklist(user):
    comm = WebsocketCommunicator(WorklistConsumer.as_asgi(), "/ws/worklist/")
    comm.scope["user"] = user
    connected, _ = await comm.connect()
    assert connected
    return comm


async def assert_closed(comm):
    output = await comm.receive_output(timeout=2)
    assert output == {"type": "websocket.close", "code": 4401}


async def test_logout_closes_the_users_sockets(attending):
    from django.test import Client

    comm = await open_worklist(attending)

    def log_in_and_out():
        client = Client()
        client.force_login(attending)
        client.post("/accounts/logout/")

    await database_sync_to_async(log_in_and_out)()
    await assert_closed(comm)


async def test_deactivation_by_save_closes_sockets(attending):
    comm = await open_worklist(attending)

    def deactivate():
        attending.is_active = False
        attending.save()

    await database_sync_to_async(deactivate)()
    await assert_closed(comm)


async def test_deactivation_in_the_django_admin_closes_sockets(attending, admin_user):
    from django.test import Client

    comm = await open_worklist(attending)

    def deactivate_in_admin():
        client = Client()
        client.force_login(admin_user)
        page = client.get(f"/admin/accounts/user/{attending.pk}/change/")
        form = page.context["adminform"].form
        data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
        data.update(
            {
                "is_active": "",
                "role": attending.role,
                "date_joined_0": "2026-01-01",
                "date_joined_1": "00:00:00",
                "groups": [],
                "user_permissions": [],
                "confirm_role_change": "on",
            }
        )
        data.pop("is_active")
        data.pop("last_login", None)
        response = client.post(f"/admin/accounts/user/{attending.pk}/change/", data)
        assert response.status_code == 302, response.content[:2000]

    await database_sync_to_async(deactivate_in_admin)()
    await assert_closed(comm)


async def test_losing_the_clinical_role_closes_sockets(attending):
    comm = await open_worklist(attending)

    def demote():
        attending.role = "none"
        attending.save()

    await database_sync_to_async(demote)()
    await assert_closed(comm)


async def test_a_login_elsewhere_leaves_sockets_open(attending, resident):
    comm = await open_worklist(attending)

    def other_user_logs_out():
        from django.test import Client

        client = Client()
        client.force_login(resident)
        client.post("/accounts/logout/")
        attending.display_name = "Renamed"
        attending.save()

    await database_sync_to_async(other_user_logs_out)()
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()
