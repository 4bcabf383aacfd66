"""How long an analysis will take, said before it starts (the UI is honest about cost).

From the stored timings of past analyses on the same kind of device (this task
first, then any task: the cost is per image and per token, whatever the prompt),
else from the model's size and figures measured with ``bench/medgemma.py``
(docs/benchmarks.md). The device is the one the last analysis ran on (the
worker's, which the web server cannot see), else ``INFERENCE_DEVICE``, else CPU.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from django.conf import settings
from django.db.models import Q, Sum

from inference.preprocessing import MAX_SLICES
from reading.ai.models import AIJob, JobStatus, Task

PAST_JOBS = 10
FULL_PARAMETERS = 4.3e9  # MedGemma 1.5 4B
# Measured on the full-size random-weight model (bench/medgemma.py, docs/benchmarks.md):
# seconds per image (processor + vision tower + its 256 prompt tokens) and per generated
# token, at 4.3B parameters; scaled linearly with the parameter count.
PER_IMAGE_S = {"cpu": 110.0, "cuda": 0.05}
PER_TOKEN_S = {"cpu": 1.5, "cuda": 0.045}
BYTES_PER_PARAMETER = {"float32": 4, "float16": 2, "bfloat16": 2}


def device_kind() -> str:
    last = (
        AIJob.objects.filter(status=JobStatus.DONE)
        .exclude(device="")
        .order_by("-finished_at")
        .values_list("device", flat=True)
        .first()
    )
    if last:
        return "cuda" if last.startswith("cuda") else "cpu"
    preference = str(getattr(settings, "INFERENCE_DEVICE", "auto") or "auto").lower()
    return "cuda" if preference.startswith("cuda") else "cpu"


def model_parameters(source: str | None = None) -> float:
    """The configured model's parameter count, from its weight files' size (no loading)."""
    source = source if source is not None else getattr(settings, "MEDGEMMA_MODEL", "")
    path = Path(source or "").expanduser()
    if not source or not path.is_dir():
        return FULL_PARAMETERS
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return FULL_PARAMETERS
    dtype = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
    return size / BYTES_PER_PARAMETER.get(dtype, 4) if size else FULL_PARAMETERS


def image_count(study, series_uid: str, task: str) -> int:
    """Images the model will read: the series' frames, at most ``MAX_SLICES``; twice for a
    comparison (the prior too); none for an impression."""
    from reading.studies.models import Instance

    if task == Task.IMPRESSION:
        return 0
    frames = (
        Instance.objects.filter(
            series__study=study, series__series_instance_uid=series_uid, rows__isnull=False
        ).aggregate(n=Sum("number_of_frames"))["n"]
        or 0
    )
    count = max(1, min(int(frames), MAX_SLICES))
    return count * 2 if task == Task.COMPARE_PRIOR else count


def _past_rates(task: str, kind: str) -> tuple[list[float], list[float], int]:
    device = Q(device__startswith="cuda") if kind == "cuda" else ~Q(device__startswith="cuda")
    done = AIJob.objects.filter(device, status=JobStatus.DONE, images_used__gt=0).exclude(
        task=Task.IMPRESSION
    )
    jobs = list(done.filter(task=task).order_by("-finished_at")[:PAST_JOBS])
    if not jobs:
        jobs = list(done.order_by("-finished_at")[:PAST_JOBS])
    per_image, per_token = [], []
    for job in jobs:
        timings = (job.provenance or {}).get("timings") or {}
        before_first = sum(timings.get(k, 0) for k in ("prepare_images_s", "prompt_s", "prefill_s"))
        if before_first:
            per_image.append(before_first / job.images_used)
        if timings.get("seconds_per_token"):
            per_token.append(timings["seconds_per_token"])
    return per_image, per_token, len(jobs)


def model_state() -> dict:
    """Whether MedGemma is installed, without loading it: ``{installed, random_weights,
    instruction}``; ``instruction`` is the exact ``MEDGEMMA_MODEL=`` line when it is not."""
    from inference.errors import ModelNotInstalled
    from inference.loading import check_source, local_random_label

    try:
        found = check_source("medgemma", settings.MEDGEMMA_MODEL)
    except ModelNotInstalled as exc:
        return {"installed": False, "random_weights": False, "instruction": exc.instructions}
    random = isinstance(found, Path) and local_random_label(found)
    return {"installed": True, "random_weights": random, "instruction": ""}


def estimate(study, series_uid: str, task: str, max_new_tokens: int) -> dict:
    """``{seconds, device, images, tokens, basis, past_jobs, model}``; ``basis`` is ``past``
    or ``model size``; ``model`` is :func:`model_state`."""
    kind = device_kind()
    images = image_count(study, series_uid, task)
    per_image, per_token, past = _past_rates(task, kind)
    if per_image and per_token:
        image_s, token_s, basis = statistics.median(per_image), statistics.median(per_token), "past"
    else:
        scale = model_parameters() / FULL_PARAMETERS
        image_s, token_s, basis = PER_IMAGE_S[kind] * scale, PER_TOKEN_S[kind] * scale, "model size"
        past = 0
    seconds = images * image_s + max_new_tokens * token_s
    return {
        "seconds": round(seconds, 1),
        "device": kind,
        "images": images,
        "tokens": max_new_tokens,
        "basis": basis,
        "past_jobs": past,
        "model": model_state(),
    }
