"""MedGemma through the product's queue: enqueue -> Huey worker -> annotation stored.

Run by ``python bench/medgemma.py --queue``. A fresh SQLite database and Huey
queue in a temporary ``DATA_DIR``; a synthetic 2500x2048 radiograph (and, on a
GPU, a 120-slice CT of which 85 slices are read) stored through ingest; the
full-size RANDOM-WEIGHT MedGemma 1.5 4B built in this process and handed to the
worker through ``inference.loading``'s process cache (what ``load_medgemma``
returns after a real load); a Huey consumer with one worker thread in this
process. Each analysis is ``services.create_job`` (the web request's path: the
task is enqueued on commit) and is timed until the job is done with its
findings stored. Prints the estimate the panel showed before the run beside it.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

SOURCE = "/bench/random-medgemma-1.5-4b"


def _setup(data_dir: Path, device: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="reading.settings",
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        MEDGEMMA_MODEL=SOURCE,
        INFERENCE_DEVICE=device,
        HUEY_WORKERS="1",
    )
    for name in ("DATABASE_URL", "STORAGE_DIR", "SQLITE_PATH", "REDIS_URL", "HUEY_IMMEDIATE"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def _store(datasets) -> str:
    import io

    from reading.studies.services import ingest_instance

    for ds in datasets:
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        assert ingest_instance(buffer.getvalue()).ok
    return str(datasets[0].StudyInstanceUID)


def _wait(job_id, timeout: float = 6 * 3600):
    from reading.ai.models import AIJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = AIJob.objects.get(pk=job_id)
        if job.status in ("failed", "cancelled"):
            raise RuntimeError(f"job {job.status}: {job.error}")
        # Findings are saved in the same transaction as "done": both or neither.
        if job.status == "done":
            return job
        time.sleep(0.1)
    raise TimeoutError("the job did not finish")


def _memory(device: str) -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    text = f"peak RSS {rss:.1f} GB"
    if device.startswith("cuda"):
        import torch

        text += f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    return text


def run(device: str, dtype, tokens: int, with_ct: bool) -> None:
    from bench.medgemma import build, synthetic_ct, synthetic_radiograph

    data_dir = Path(tempfile.mkdtemp(prefix="bench-medgemma-queue-"))
    _setup(data_dir, device)
    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    from inference import loading
    from reading.accounts.models import User
    from reading.ai import services
    from reading.annotations.models import Annotation
    from reading.studies.models import Study

    user = User.objects.create(username="bench", role="attending", display_name="Bench")
    cases = [("radiograph", "findings", _store([synthetic_radiograph()]))]
    if with_ct:
        cases.append(("85-slice CT", "findings", _store(synthetic_ct())))

    start = time.perf_counter()
    engine = build(device, dtype, None)
    loading._cache[("medgemma", settings.MEDGEMMA_MODEL, settings.INFERENCE_DEVICE)] = engine
    print(
        f"  queue: built {engine.info.parameters / 1e9:.2f}B parameters ({engine.info.dtype}) "
        f"in {time.perf_counter() - start:.0f} s; Huey on SQLite, 1 worker thread; {_memory(device)}"
    )
    consumer = HUEY.create_consumer(workers=1, worker_type="thread", periodic=False)
    consumer.start()
    try:
        for name, task, study_uid in cases:
            study = Study.objects.get(study_instance_uid=study_uid)
            series = study.series.get().series_instance_uid
            params = {"max_new_tokens": tokens, "min_new_tokens": tokens, "max_slices": 85}
            t0 = time.perf_counter()
            job = services.create_job(
                study, task=task, series_uid=series, requested_by=user, parameters=params
            )
            guess = job.provenance["estimate"]
            done = _wait(job.pk)
            wall = time.perf_counter() - t0
            timings = (done.provenance or {}).get("timings", {})
            decode = timings.get("decode_s", 0.0)
            stored = Annotation.objects.filter(ai_link__job=done).count()
            picked = (done.started_at - done.created_at).total_seconds()
            print(
                f"  queue {name} ({task}): enqueue -> {stored} annotation(s) stored "
                f"**{wall:.1f} s**; picked up after {picked:.2f} s; images "
                f"{timings.get('prepare_images_s', 0):.2f} s, processor "
                f"{timings.get('prompt_s', 0):.2f} s, prefill incl. vision "
                f"{timings.get('prefill_s', 0):.1f} s, {done.tokens} tokens in {decode:.1f} s "
                f"after the first ({(done.tokens - 1) / decode if decode else 0:.2f} tok/s); "
                f"estimate shown before: {guess['seconds']:.0f} s ({guess['basis']})"
            )
    finally:
        consumer.stop(graceful=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"  queue: {_memory(device)}")
