"""PostgreSQL + Redis: the transcription service as its own process (`dictation_worker`),
fed through the Redis channel layer; the test process, like a web process, holds no model."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from reading.dictation.models import Segment
from tests.dictation.conftest import frames, silence, speech

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def start_worker(tmp_path, name: str, extra_env: dict, *args: str):
    from tests.browser.conftest import _server_env

    env = {**_server_env(), "INFERENCE_DEVICE": "cpu", "OMP_NUM_THREADS": "1", **extra_env}
    path = tmp_path / f"{name}.log"
    log = open(path, "w")  # noqa: SIM115 - closed by stop_worker
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "dictation_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log, proc.log_path = log, path
    return proc


def wait_listening(*procs) -> None:
    deadline = time.monotonic() + 180  # each loads the model before it listens
    for proc in procs:
        while "listening" not in proc.log_path.read_text():
            assert proc.poll() is None, proc.log_path.read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.2)


def stop_worker(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    proc.log.close()
    print(proc.log_path.read_text()[-3000:])  # shown when the test fails


@pytest.fixture
def worker(transactional_db, tiny_medasr, settings, tmp_path):
    settings.DICTATION_WORKER = "external"
    settings.MEDASR_MODEL = str(tiny_medasr)
    env = {"DICTATION_WORKER": "external", "MEDASR_MODEL": str(tiny_medasr)}
    proc = start_worker(tmp_path, "worker", env)
    wait_listening(proc)
    yield proc
    stop_worker(proc)


@pytest.fixture
def two_shards(transactional_db, tiny_medasr, settings, tmp_path):
    settings.DICTATION_WORKER = "external"
    settings.DICTATION_WORKER_SHARDS = 2
    settings.MEDASR_MODEL = str(tiny_medasr)
    env = {
        "DICTATION_WORKER": "external",
        "DICTATION_WORKER_SHARDS": "2",
        "MEDASR_MODEL": str(tiny_medasr),
    }
    procs = [start_worker(tmp_path, f"shard{k}", env, "--shard", str(k)) for k in (0, 1)]
    try:
        wait_listening(*procs)
        yield procs
    finally:
        for proc in procs:
            stop_worker(proc)


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


def test_worker_refuses_a_missing_or_wrong_shard(settings):
    from django.core.management import CommandError, call_command

    settings.DICTATION_WORKER_SHARDS = 3
    with pytest.raises(CommandError, match="--shard k"):
        call_command("dictation_worker")
    with pytest.raises(CommandError, match="0..2"):
        call_command("dictation_worker", shard=3)


def stream_on_shard(shard: int, shards: int = 2) -> str:
    from reading.dictation.transcription import shard_for

    while True:
        candidate = str(uuid.uuid4())
        if shard_for(candidate, shards) == shard:
            return candidate


async def test_two_sharded_workers_each_hold_whole_streams(
    two_shards, dictate, attending, resident, ct_study
):
    """Two workers, two streams sent interleaved: each utterance is one final, from one worker."""
    streams = [stream_on_shard(0), stream_on_shard(1)]
    speakers = [
        dictate(attending if i == 0 else resident, ct_study, stream=s)
        for i, s in enumerate(streams)
    ]
    for speaker in speakers:
        assert (await speaker.connect())[0]
        assert (await speaker.recv())["type"] == "ready"
    audio = np.concatenate([speech(2.0, seed=1), silence(1.0)])
    chunks = [frames(audio), frames(audio)]
    for a, b in zip(*chunks, strict=True):  # interleaved, as two live speakers
        await speakers[0].send_bytes(a)
        await speakers[1].send_bytes(b)
    for speaker in speakers:
        final = await speaker.until("final", timeout=60)
        # The whole 2 s utterance is the stream's first final (a second worker holding some
        # of its frames would save finals of its own, below).
        assert final["segment"] == 0 and final["audio_end"] > 1.9, final
        await speaker.send({"type": "stop"})
        await speaker.until("stopped")
    logs = [p.log_path.read_text() for p in two_shards]
    for shard, stream in enumerate(streams):
        assert f"stream {stream}" in logs[shard]
        assert f"stream {stream}" not in logs[1 - shard]
    for speaker in speakers:
        finals = [m for m in speaker.seen if m["type"] == "final"]
        assert len(finals) == 1, finals
        await speaker.close()
