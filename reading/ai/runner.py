"""One attempt at one AI job: claim, read the images, run MedGemma, save through services.

Called by the Huey task (``reading.ai.tasks``) with the job id only. The model
work is the pure code of ``inference/``; this module turns DICOM files into
datasets on the way in and an ``AnalysisResult`` into findings on the way out.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings

from inference import prompts
from inference.errors import InferenceCancelled, ModelNotInstalled
from inference.preprocessing import CT_WINDOWS, MAX_SLICES, PreparedImage, prepare_series
from reading.ai import attempts, services
from reading.ai import findings as findings_mod
from reading.ai.errors import JobError, NoPrior, NoUsableImages, PermanentJobError
from reading.ai.models import AIJob, ErrorKind, JobStatus, Task

logger = logging.getLogger(__name__)

INFERENCE_TASK = {
    Task.FINDINGS: prompts.FINDINGS,
    Task.LOCALISE: prompts.LOCALISATION,
    Task.COMPARE_PRIOR: prompts.COMPARISON,
    Task.IMPRESSION: prompts.IMPRESSION,
}
SAVE_EVERY_S = 0.4  # progress is saved and broadcast at most this often


class LeaseLost(Exception):
    """Another attempt owns the job now: stop without writing anything."""


@dataclass
class Progress:
    """Throttled progress: the model's callbacks land here, the database sees a few a second."""

    job: AIJob
    cancel: threading.Event
    max_new_tokens: int
    text: str = ""
    tokens: int = 0
    stage: str = ""
    done: int = 0
    total: int = 0
    last_save: float = 0.0
    stage_started: float = field(default_factory=time.monotonic)
    lost: bool = False

    def on_progress(self, stage: str, done: int, total: int) -> None:
        new_stage = stage != self.stage
        if new_stage:
            self.stage_started = time.monotonic()
        self.stage, self.done, self.total = stage, done, total
        if stage == "tokens":
            self.tokens = done
            return  # flushed by on_token, which follows with the text
        self.flush(force=new_stage or done == total)

    def on_token(self, piece: str) -> None:
        self.text += piece
        self.flush(force=not self.text.strip(" ") or self.text == piece)

    def eta(self) -> float | None:
        elapsed = time.monotonic() - self.stage_started
        if self.done < 2 or not self.total:
            return None
        remaining = (self.total - self.done) * elapsed / self.done
        return round(remaining, 1)

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.cancel.is_set():
            raise InferenceCancelled("cancelled")
        if not force and now - self.last_save < SAVE_EVERY_S:
            return
        self.last_save = now
        status = JobStatus.RUNNING if self.stage in ("prompt", "tokens") else JobStatus.PREPARING
        provenance = {**(self.job.provenance or {}), "eta_seconds": self.eta()}
        ok = attempts.record_progress(
            self.job,
            status=status,
            stage=self.stage,
            progress_done=self.done,
            progress_total=self.total,
            text=self.text,
            tokens=self.tokens,
            provenance=provenance,
        )
        if not ok:
            self.lost = True
            self.cancel.set()
            raise LeaseLost()


class Heartbeat:
    """Renews the job's lease from a thread, so a long prefill (minutes on CPU) keeps it.

    Also turns a cancel request saved by another process into the engine's cancel event.
    """

    def __init__(self, job: AIJob, cancel: threading.Event):
        self.job, self.cancel = job, cancel
        self.stop = threading.Event()
        self.lost = False
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"ai-lease-{job.pk}")

    def _run(self) -> None:
        from django.db import close_old_connections

        interval = max(0.5, attempts.lease_seconds() / 4)
        try:
            while not self.stop.wait(interval):
                ours, cancel = attempts.heartbeat(self.job)
                if not ours:
                    self.lost = True
                if cancel or not ours:
                    self.cancel.set()
        finally:
            close_old_connections()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


def _read_series(study, series_uid: str) -> list:
    """The stored image instances of a series as pydicom datasets (non-images skipped)."""
    import pydicom

    from reading.studies import storage
    from reading.studies.models import Instance

    instances = Instance.objects.filter(
        series__study=study, series__series_instance_uid=series_uid, rows__isnull=False
    ).order_by("instance_number", "sop_instance_uid")
    datasets = []
    for instance in instances:
        try:
            datasets.append(pydicom.dcmread(storage.absolute(instance.file_path)))
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            logger.warning("ai: cannot read %s: %s", instance.sop_instance_uid, exc)
    return datasets


def _prepare(datasets, max_slices: int, on_progress, what: str):
    if not datasets:
        raise NoUsableImages(f"the {what} has no images the model can read")
    try:
        return prepare_series(datasets, max_slices, on_progress=on_progress)
    except (ValueError, AttributeError, NotImplementedError, RuntimeError) as exc:
        raise NoUsableImages(f"the {what}'s pixel data cannot be prepared: {exc}") from exc


def _windows(modality: str) -> list[str]:
    if modality == "CT":
        return [f"{name} {low:g}..{high:g} HU" for name, low, high in CT_WINDOWS]
    if modality == "MR":
        return ["series percentiles 0.5..99.5"]
    return ["dataset VOI LUT / window (PS3.3 C.11.2)"]


def _image_refs(images: list[PreparedImage], role: str) -> list[dict]:
    return [
        {
            "role": role,
            "series_instance_uid": image.source.series_instance_uid,
            "sop_instance_uid": image.source.sop_instance_uid,
            "frame": image.source.frame,
        }
        for image in images
    ]


def _analyse(job: AIJob, progress: Progress):
    from inference.loading import load_medgemma
    from inference.medgemma import analyze

    params = job.parameters or {}
    max_slices = int(params.get("max_slices", MAX_SLICES))
    engine = load_medgemma(settings.MEDGEMMA_MODEL, getattr(settings, "INFERENCE_DEVICE", "auto"))
    images: list[PreparedImage] = []
    prior: list[PreparedImage] = []
    modality = ""
    started = time.perf_counter()
    if job.task != Task.IMPRESSION:
        if not job.series_instance_uid:  # started by a worklist rule: the largest series
            largest = services.default_series(job.study)
            if largest is None:
                raise NoUsableImages("the study has no images")
            job.series_instance_uid = largest.series_instance_uid
            AIJob.objects.filter(pk=job.pk).update(series_instance_uid=job.series_instance_uid)
        series = _prepare(
            _read_series(job.study, job.series_instance_uid),
            max_slices,
            progress.on_progress,
            "series",
        )
        images, modality = series.images, series.modality
    if job.task == Task.COMPARE_PRIOR:
        if job.prior_study is None:
            raise NoPrior("the prior study is no longer in the archive")
        prior_series = services.default_series(job.prior_study, modality)
        if prior_series is None:
            raise NoPrior("the prior study has no images")
        prior = _prepare(
            _read_series(job.prior_study, prior_series.series_instance_uid),
            max_slices,
            progress.on_progress,
            "prior study",
        ).images
    prepare_s = time.perf_counter() - started
    result = analyze(
        engine,
        INFERENCE_TASK[job.task],
        images,
        modality=modality,
        prior=prior,
        findings=job.input_text,
        prior_when=str(job.prior_study.study_date or "") if job.prior_study else "",
        current_when=str(job.study.study_date or ""),
        max_new_tokens=int(params.get("max_new_tokens", 256)),
        min_new_tokens=int(params.get("min_new_tokens", 0)),
        on_token=progress.on_token,
        on_progress=progress.on_progress,
        cancel=progress.cancel,
    )
    refs = _image_refs(prior, "prior") + _image_refs(images, "current")
    return engine, result, images, prior, refs, modality, prepare_s


def run_job(job_id: str, *, final_attempt: bool = True) -> str:
    """Run one attempt; returns the job's status afterwards (or ``skipped``).

    Raises ``JobError`` after putting the job back in the queue when the error is
    retriable and this is not the last attempt (the Huey task then retries).
    """
    job = attempts.claim_job(job_id)
    if job is None:
        return "skipped"
    cancel = threading.Event()
    params = job.parameters or {}
    progress = Progress(job, cancel, int(params.get("max_new_tokens", 256)))
    try:
        with Heartbeat(job, cancel) as beat:
            engine, result, images, prior, refs, modality, prepare_s = _analyse(job, progress)
        if beat.lost:
            raise LeaseLost()
        outcome, found = findings_mod.build(
            job, engine, result, images, prior, refs, _windows(modality), prepare_s
        )
        done = attempts.complete_job(job, outcome, found)
        return done.status if done is not None else "skipped"
    except LeaseLost:
        logger.warning("ai job %s: attempt %s lost its lease", job_id, job.attempts)
        return "skipped"
    except InferenceCancelled:
        if progress.lost:
            return "skipped"
        attempts.mark_cancelled(job)
        return JobStatus.CANCELLED
    except ModelNotInstalled as exc:
        attempts.fail_job(job, ErrorKind.MODEL_NOT_INSTALLED, str(exc))
        return JobStatus.FAILED
    except PermanentJobError as exc:
        attempts.fail_job(job, exc.kind, str(exc))
        return JobStatus.FAILED
    except Exception as exc:  # anything else may pass: retry with back-off
        logger.exception("ai job %s: attempt %s failed", job_id, job.attempts)
        message = f"{type(exc).__name__}: {exc}"
        retry = not final_attempt and job.attempts < attempts.MAX_ATTEMPTS
        attempts.fail_job(job, ErrorKind.INFERENCE_ERROR, message, retry=retry)
        if retry:
            raise JobError(message) from exc
        return JobStatus.FAILED
