"""Outside a session, a viewer's study socket (``/ws/ai/studies/<uid>/``) hears other
readers' jobs and reviews live; outsiders are refused; logout closes it."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from reading.accounts.signals import USER_DISCONNECT, user_group
from reading.ai import reviews, services
from reading.ai.routing import websocket_urlpatterns
from reading.annotations.models import Annotation
from reading.realtime import group_send
from tests.ai.conftest import TOKENS, series_uid


def _socket(user, study_uid):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/ai/studies/{study_uid}/")
    comm.scope["user"] = user
    return comm


async def _until(comm, event_type, timeout=5.0):
    while True:
        message = await comm.receive_json_from(timeout=timeout)
        if message["type"] == event_type:
            return message


async def test_other_readers_jobs_and_reviews_arrive_live(
    demo, medgemma, attending, resident, outsider
):
    cr = demo["Chest radiograph PA"]
    watcher = _socket(resident, cr.study_instance_uid)
    assert (await watcher.connect(timeout=5))[0]
    refused = _socket(outsider, cr.study_instance_uid)
    connected, code = await refused.connect(timeout=5)
    assert not connected and code == 4403

    job = await sync_to_async(services.request_analysis)(
        attending, cr.study_instance_uid, await sync_to_async(series_uid)(cr), parameters=TOKENS
    )
    queued = await _until(watcher, "ai.job.progress")
    assert queued["payload"]["job_id"] == str(job.pk) and queued["seq"] is None
    assert queued["payload"]["progress"]["estimate"]["seconds"] >= 0
    finding = await _until(watcher, "ai.finding")
    done = await _until(watcher, "ai.job.done")
    assert done["payload"]["findings"]

    annotation = await sync_to_async(Annotation.objects.get)(
        pk=finding["payload"]["annotation"]["id"]
    )
    await sync_to_async(reviews.review_finding)(annotation, reviewer=attending, decision="accept")
    reviewed = await _until(watcher, "ai.finding")
    assert reviewed["payload"]["annotation"]["review_state"] == "accepted"
    assert reviewed["payload"]["reviews"][0]["reviewer"]["username"] == attending.username

    # Logout (or lost access) closes the socket through the user's group.
    await sync_to_async(group_send)(user_group(resident.pk), {"type": USER_DISCONNECT})
    closed = await watcher.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}
