"""``ai.*`` session events: job states, the streamed text, findings and their reviews."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from reading.ai import reviews, services
from reading.annotations.models import Annotation
from reading.reading_sessions import services as session_services
from tests.ai.conftest import TOKENS, series_uid
from tests.reading_sessions.conftest import Client


async def test_session_sees_job_progress_findings_and_reviews(demo, medgemma, attending, resident):
    ct = demo["Chest CT"]
    session = await sync_to_async(session_services.create_session)(
        study=ct, host=attending, invite=[resident.username]
    )
    host, guest = Client(attending, session.pk), Client(resident, session.pk)
    assert (await host.connect())[0] and (await guest.connect())[0]
    job = await sync_to_async(services.request_analysis)(
        resident,
        ct.study_instance_uid,
        await sync_to_async(series_uid)(ct),
        "findings",
        session=session.pk,
        parameters=TOKENS,
    )
    for client in (host, guest):
        queued = await client.until("ai.job.progress")
        assert queued["payload"]["status"] == "queued" and queued["seq"]
        stream = await client.until("ai.job.stream")
        assert stream["seq"] is None and stream["payload"]["job_id"] == str(job.pk)
        finding = await client.until("ai.finding")
        created = await client.until("ai.job.done")
        assert created["payload"]["findings"]
    stages = {m["payload"]["stage"] for m in host.seen if m["type"] == "ai.job.stream"}
    assert {"slices", "tokens"} <= stages
    annotation = await sync_to_async(Annotation.objects.get)(
        pk=finding["payload"]["annotation"]["id"]
    )
    await sync_to_async(reviews.review_finding)(annotation, reviewer=resident, decision="reject")
    seen = {}
    while len(seen) < 2:  # both arrive, in the order their transactions committed
        message = await host.recv()
        if message["type"] in ("annotation.reviewed", "ai.finding"):
            seen[message["type"]] = message["payload"]
    assert seen["annotation.reviewed"]["review_state"] == "rejected"
    assert [r["decision"] for r in seen["ai.finding"]["reviews"]] == ["reject"]
    assert seen["ai.finding"]["reviews"][0]["reviewer"]["username"] == resident.username
    await host.close()
    await guest.close()
