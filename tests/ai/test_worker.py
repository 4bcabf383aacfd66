"""A real ``manage.py run_huey`` worker process runs the jobs; this process is the server.

Embedded default: the worker's events reach this process's in-memory channel layer
through the outbox and the relay (``reading.realtime``), and from there the
session's WebSocket clients. With Redis they travel directly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from huey.contrib.djhuey import HUEY

from reading import realtime
from reading.ai import services
from reading.ai.models import AIJob, FindingLink, JobStatus
from reading.annotations.models import Annotation
from reading.reading_sessions import services as session_services
from reading.reading_sessions.models import SessionEvent
from tests.ai.conftest import series_uid
from tests.browser.conftest import _server_env
from tests.reading_sessions.conftest import Client

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LEASE_S = 3


@pytest.fixture
def queue():
    """Enqueue into the real Huey storage instead of running inline."""
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


@pytest.fixture
def worker(tiny_medgemma, queue, settings):
    procs = []

    def start(name="worker") -> subprocess.Popen:
        env = {
            **_server_env(),
            "DJANGO_SETTINGS_MODULE": "tests.ai.worker_settings",
            "MEDGEMMA_MODEL": str(tiny_medgemma),
            "INFERENCE_DEVICE": "cpu",
            "AI_JOB_LEASE_S": str(LEASE_S),
            "OMP_NUM_THREADS": "1",
            "TEST_STORAGE_DIR": str(settings.STORAGE_DIR),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        log = open(ARTIFACTS / f"ai-{name}.log", "wb")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_huey"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
async def relay():
    """This test process plays the server: its relay reads the worker's outbox."""
    task = asyncio.get_running_loop().create_task(realtime.run_relay(0.1))
    yield task
    task.cancel()


def _session(study, user):
    return session_services.create_session(study=study, host=user, title="AI")


async def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await sync_to_async(predicate)():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
async def test_worker_process_streams_progress_and_findings_to_a_session(
    demo, medgemma, attending, worker, relay
):
    cr = demo["Chest radiograph PA"]
    session = await sync_to_async(_session)(cr, attending)
    client = Client(attending, session.pk)
    assert (await client.connect())[0]
    proc = worker()
    job = await sync_to_async(services.request_analysis)(
        attending,
        cr.study_instance_uid,
        await sync_to_async(series_uid)(cr),
        "findings",
        session=session,
        parameters={"max_new_tokens": 48, "min_new_tokens": 48},
    )
    stream = await client.until("ai.job.stream", timeout=90)  # worker start imports torch
    assert stream["seq"] is None and stream["payload"]["job_id"] == str(job.pk)
    finding = await client.until("ai.finding", timeout=30)
    assert finding["payload"]["annotation"]["source"] == "ai"
    done = await client.until("ai.job.done", timeout=30)
    assert done["payload"]["status"] == "done" and done["payload"]["random_weights"]
    streamed = [m for m in client.seen if m["type"] == "ai.job.stream"]
    assert any(m["payload"]["text"] for m in streamed), "the text is streamed as it grows"
    assert proc.poll() is None
    assert await sync_to_async(lambda: realtime.outbox_in_use())() is False  # only the worker
    await client.close()


@pytest.mark.slow
async def test_a_killed_worker_leaves_the_job_finished_exactly_once(
    demo, medgemma, attending, worker, relay
):
    cr = demo["Chest radiograph PA"]
    session = await sync_to_async(_session)(cr, attending)
    first = worker("first")
    job = await sync_to_async(services.request_analysis)(
        attending,
        cr.study_instance_uid,
        await sync_to_async(series_uid)(cr),
        "findings",
        session=session,
        parameters={"max_new_tokens": 700, "min_new_tokens": 700},
    )

    def generating():
        return AIJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, tokens__gt=0).exists()

    await _wait_for(generating, 90, "the first worker to generate")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    await asyncio.sleep(LEASE_S + 0.5)  # the lease runs out
    worker("second")  # its start-up sweep requeues the job

    def finished():
        return AIJob.objects.filter(pk=job.pk, status__in=[JobStatus.DONE, JobStatus.FAILED])

    await _wait_for(lambda: finished().exists(), 120, "the second worker to finish")
    job = await sync_to_async(AIJob.objects.get)(pk=job.pk)
    assert job.status == JobStatus.DONE and job.attempts == 2, job.error
    links = await sync_to_async(FindingLink.objects.filter(job=job).count)()
    annotations = await sync_to_async(Annotation.objects.filter(source="ai", study=cr).count)()
    assert links >= 1 and annotations == links
    done_events = await sync_to_async(
        SessionEvent.objects.filter(session_id=session.pk, type="ai.job.done").count
    )()
    assert done_events == 1
