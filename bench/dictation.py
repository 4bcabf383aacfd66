"""Live dictation end to end: real WebSockets on loopback into Daphne, full-size MedASR.

    python bench/dictation.py                          # embedded, 1/4/8 streams, 20 s each
    python bench/dictation.py --streams 1 4 --seconds 15 --modes embedded redis
    python bench/dictation.py --streams 4 --modes redis --shards 2   # two sharded workers

The model is a full-size, RANDOM-WEIGHT ``LasrForCTC`` (the published encoder
configuration, 105M parameters; built as in ``bench/asr.py``): its compute is
the real model's, its words are noise. A temporary data folder gets a SQLite
database with one reader and one CT study; a Daphne process serves it
(``embedded``: transcription inside Daphne; ``redis``: Daphne holds no model and
``manage.py dictation_worker`` transcribes, over the Redis channel layer at
``REDIS_URL``). N clients each send a synthetic dictation (speech-like sound,
4-8 s utterances with pauses) as 100 ms frames in real time.

Partial latency = arrival of a partial - the moment the client sent the frame
that holds the partial's last audio (``audio_end``). RTF = CPU seconds of the
transcribing process / seconds of audio (all streams). "behind" = the last
final's arrival - the last frame sent (the flush after ``stop``), worst stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.asr import build_model, synthetic_dictation  # noqa: E402

RATE = 16000
FRAME_S = 0.1


def setup_data(data_dir: Path, env: dict) -> tuple[str, str]:
    """Migrate a fresh database; one attending, one CT study; return (cookie, study uid)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from reading.accounts.models import User
    from reading.studies.services import ingest_instance
    from tests.dicom_factory import make_ct_series, to_bytes

    call_command("migrate", verbosity=0)
    user = User.objects.create(username="bench", role="attending", display_name="Bench")
    datasets = make_ct_series(1)
    assert ingest_instance(to_bytes(datasets[0])).ok
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, str(datasets[0].StudyInstanceUID)


async def one_stream(url: str, cookie: str, audio: np.ndarray, result: dict) -> None:
    import websockets

    sent: list[float] = []
    partials, finals = [], []
    origin = "http://" + url.split("/")[2]
    async with websockets.connect(
        url, additional_headers={"Cookie": f"sessionid={cookie}", "Origin": origin}
    ) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready" and ready["model"]["installed"], ready
        done = asyncio.Event()
        lags = []

        async def reader():
            async for raw in ws:
                message = json.loads(raw)
                now = time.perf_counter()
                kind = message["type"]
                if kind in ("partial", "final"):
                    frame = max(0, int(np.ceil(message["audio_end"] / FRAME_S - 1e-6)) - 1)
                    if frame < len(sent):
                        (partials if kind == "partial" else finals).append(now - sent[frame])
                    result["last_final"] = now
                elif kind == "lag":
                    lags.append(message["behind_s"])
                elif kind == "stopped":
                    result["stopped"] = now
                if (
                    kind == "final"
                    and "stopped" in result
                    and message.get("audio_end", 0) >= (len(audio) / RATE - 1.0)
                ):
                    done.set()

        task = asyncio.create_task(reader())
        n = int(FRAME_S * RATE)
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(audio), n)):
            pcm = (audio[offset : offset + n] * 32767).astype("<i2").tobytes()
            await asyncio.sleep(max(0.0, start + i * FRAME_S - time.perf_counter()))
            sent.append(time.perf_counter())
            await ws.send(struct.pack("<I", i + 1) + pcm)
        result["last_sent"] = time.perf_counter()
        await ws.send(json.dumps({"type": "stop"}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=120)
        await asyncio.sleep(0.5)
        task.cancel()
    result.update(partials=partials, finals=finals, lags=lags)


async def run(base: str, cookie: str, study: str, streams: int, seconds: float) -> list[dict]:
    audios = [synthetic_dictation(seconds, seed) for seed in range(streams)]
    results = [{} for _ in range(streams)]
    await asyncio.gather(
        *[
            one_stream(f"{base}/ws/dictation/{study}/?stream={uuid.uuid4()}", cookie, a, r)
            for a, r in zip(audios, results, strict=True)
        ]
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--modes", nargs="+", default=["embedded"], help="embedded redis")
    parser.add_argument("--precision", default="fp32", help="fp32 or int8")
    parser.add_argument("--shards", type=int, default=1, help="redis: workers (--shard k)")
    args = parser.parse_args()

    import psutil

    from reading.devserver import start_daphne

    tmp = Path(tempfile.mkdtemp(prefix="bench-dictation-"))
    model = build_model(tmp / "medasr-full-random")
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reading.settings",
        "DATA_DIR": str(tmp / "data"),
        "MEDASR_MODEL": str(model),
        "MEDASR_PRECISION": args.precision,
        "INFERENCE_DEVICE": os.environ.get("INFERENCE_DEVICE", "cpu"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    base_env.pop("DATABASE_URL", None)
    (tmp / "data").mkdir()
    cookie, study = setup_data(tmp / "data", {**base_env, "REDIS_URL": ""})
    print(
        f"bench/dictation.py: {os.cpu_count()} CPUs, {args.precision}, RANDOM-WEIGHT full-size "
        f"MedASR, {args.seconds:g} s per stream, {int(FRAME_S * 1000)} ms frames"
    )
    for mode in args.modes:
        env = dict(base_env)
        workers = []
        if mode == "redis":
            redis = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
            env.update(
                DICTATION_WORKER="external",
                REDIS_URL=redis,
                DICTATION_WORKER_SHARDS=str(args.shards),
            )
            for k in range(args.shards):
                shard = ["--shard", str(k)] if args.shards > 1 else []
                log = open(tmp / f"worker{k}.log", "w")  # noqa: SIM115 - lives with the worker
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "manage.py", "dictation_worker", *shard],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            for k, worker in enumerate(workers):
                while "listening" not in (tmp / f"worker{k}.log").read_text():
                    assert worker.poll() is None, (tmp / f"worker{k}.log").read_text()
                    time.sleep(0.5)
        else:
            env.update(DICTATION_WORKER="embedded", REDIS_URL="")
        daphne, port = start_daphne(env, log_path=tmp / f"daphne-{mode}.log")
        base = f"ws://127.0.0.1:{port}"
        busy = [psutil.Process(w.pid) for w in workers] or [psutil.Process(daphne.pid)]
        try:
            asyncio.run(run(base, cookie, study, 1, 3.0))  # warm-up: loads the model
            for n in args.streams:
                cpu0 = sum(sum(b.cpu_times()[:2]) for b in busy)
                results = asyncio.run(run(base, cookie, study, n, args.seconds))
                cpu = sum(sum(b.cpu_times()[:2]) for b in busy) - cpu0
                partials = [x for r in results for x in r["partials"]]
                finals = [x for r in results for x in r["finals"]]
                behind = max(r.get("last_final", 0) - r["last_sent"] for r in results)
                lag = max((max(r["lags"]) for r in results if r["lags"]), default=0.0)
                p50 = statistics.median(partials) if partials else float("nan")
                p95 = float(np.percentile(partials, 95)) if partials else float("nan")
                f95 = float(np.percentile(finals, 95)) if finals else float("nan")
                print(
                    f"  [{mode}] {n} stream(s): partials {len(partials)}, latency p50 {p50:.2f} s "
                    f"p95 {p95:.2f} s; finals {len(finals)} p95 {f95:.2f} s; RTF (CPU s / audio s) "
                    f"{cpu / (n * args.seconds):.3f}; behind at stop {behind:.1f} s; "
                    f"max lag reported {lag:.1f} s"
                )
        finally:
            daphne.terminate()
            daphne.wait(timeout=10)
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=10)


if __name__ == "__main__":
    main()
