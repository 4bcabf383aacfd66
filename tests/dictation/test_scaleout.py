"""PostgreSQL + Redis: the transcription service as its own process (`dictation_worker`),
fed through the Redis channel layer; the test process, like a web process, holds no model."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from reading.dictation.models import Segment
from tests.dictation.conftest import frames, silence, speech

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db, tiny_medasr, settings, tmp_path):
    from tests.browser.conftest import _server_env

    settings.DICTATION_WORKER = "external"
    settings.MEDASR_MODEL = str(tiny_medasr)
    env = {
        **_server_env(),
        "DICTATION_WORKER": "external",
        "MEDASR_MODEL": str(tiny_medasr),
        "INFERENCE_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "dictation_worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180  # it loads the model before it listens
    while "listening" not in (tmp_path / "worker.log").read_text():
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()
        assert time.monotonic() < deadline, "worker did not start"
        time.sleep(0.2)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    print((tmp_path / "worker.log").read_text()[-3000:])  # shown when the test fails


async def test_separate_worker_transcribes_over_redis(
    worker, dictate, attending, resident, ct_study, session
):
    from inference import loading
    from tests.dictation.conftest import Socket

    # Earlier tests of the run may have loaded MedASR here; this one must load none.
    before = {key for key in loading._cache if key[0] == "medasr"}
    guest = Socket(resident, f"/ws/sessions/{session.pk}/")
    assert (await guest.connect())[0]
    speaker = dictate(attending, ct_study, session=session)
    assert (await speaker.connect())[0]
    ready = await speaker.recv()
    assert ready["model"]["installed"] is True
    audio = np.concatenate([speech(1.5), silence(1.0)])
    for chunk in frames(audio):
        await speaker.send_bytes(chunk)
    partial = await speaker.until("partial", timeout=60)
    final = await speaker.until("final", timeout=30)
    assert final["utterance"] == partial["utterance"]
    assert (await guest.until("dictation.partial", timeout=30))["seq"] is None
    assert (await guest.until("dictation.final", timeout=30))["payload"]["id"] == final["id"]
    assert await sync_to_async(Segment.objects.filter(pk=final["id"]).exists)()
    loaded = {key for key in loading._cache if key[0] == "medasr"}
    assert loaded == before  # the worker transcribed: no model loaded in this process
    await speaker.close()
    await guest.close()
