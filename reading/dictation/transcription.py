"""The transcription service: audio of every live dictation in, partials and finals out.

One :class:`TranscriptionService` per process runs on that process's event loop:
inside each web process (``DICTATION_WORKER=embedded``, the default) or in
``python manage.py dictation_worker`` fed through the Redis channel layer
(``external``: web processes hold no model). With ``DICTATION_WORKER_SHARDS=N``
external workers are started with ``--shard 0..N-1`` and each listens on its own
channel ``dictation-transcribe.<k>``; a stream always goes to shard
``crc32(stream id) % N``, so one worker holds the whole of each stream (a shared
channel would deal one stream's frames out to several workers). Inference never runs on the event
loop: ``DICTATION_WORKERS`` worker tasks each take a batch of the streams that have
audio waiting (round-robin, so every speaker gets a turn), run one
:func:`inference.asr_batch.feed_many` in a thread pool, and deliver the events. A
stream that waited gets all its audio at once: its partials coalesce (one decode
for the newest position), and a stream with more audio queued behind the batch
gets no partial at all this round (the next one is fresher). The partial
interval also widens with the pool's recent busy fraction (``TARGET_BUSY``), up
to ``MAX_PARTIAL_STRETCH`` times ``step_s``. Finals are never skipped and no audio
is dropped; when a stream is more than ``streams.LAG_REPORT_S`` behind, the speaker
is told (``lag``). One stream's state (its queue, open utterance, lag) and what its
events become (saved finals, partials) live in :mod:`reading.dictation.streams`. Torch gets ``cores // workers`` threads (by default one worker
per core, one thread each): two one-thread batches on two cores beat one
two-thread batch on these short inputs, and do not spin-wait on a busy machine.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer
from django.conf import settings

from reading.dictation import streams
from reading.dictation.models import SAMPLE_RATE
from reading.dictation.streams import Stream

log = logging.getLogger(__name__)

TRANSCRIBE_CHANNEL = "dictation-transcribe"  # the external worker's named channel (one shard)
MAX_FEED_S = 8.0  # audio one stream may take in one round (fairness)
MAX_BATCH = 8  # streams in one forward pass
BUSY_WINDOW_S = 5.0  # the pool's busy fraction is measured over this much wall time
TARGET_BUSY = 0.5  # above it, partials are spaced out in proportion
MAX_PARTIAL_STRETCH = 4.0


def model_status() -> dict:
    """What the ``ready`` message says about MedASR, without loading it."""
    from inference.errors import ModelNotInstalled
    from inference.loading import check_source, local_random_label

    source = settings.MEDASR_MODEL
    status = {
        "installed": False,
        "random_weights": False,
        "name": source,
        "instruction": "",
        "precision": settings.MEDASR_PRECISION,
        "lm": False,
    }
    try:
        checked = check_source("medasr", source)
    except ModelNotInstalled as exc:
        status["instruction"] = exc.instructions
        return status
    status["installed"] = True
    if not isinstance(checked, str):
        from inference.ctc_decoding import find_lm

        status["random_weights"] = local_random_label(checked)
        status["lm"] = find_lm(checked) is not None
    return status


def load_engine(threads: int = 0):
    """The process's MedASR engine (raises ModelNotInstalled); ``threads``: torch's
    intra-op threads for the process (0: leave them)."""
    from inference.loading import load_asr

    quantize = "int8" if settings.MEDASR_PRECISION == "int8" else ""
    engine = load_asr(settings.MEDASR_MODEL, device=settings.INFERENCE_DEVICE, quantize=quantize)
    if threads:
        import torch

        torch.set_num_threads(min(threads, torch.get_num_threads()))  # only ever fewer
    return engine


class TranscriptionService:
    """The pool: worker tasks that take batches of streams round-robin and run MedASR
    on them in threads (the streams' own state and output: :mod:`.streams`)."""

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or settings.DICTATION_WORKERS or os.cpu_count() or 1)
        self.streams: dict[str, Stream] = {}
        self.order: deque[str] = deque()  # round-robin
        self.wake = asyncio.Event()
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="dictation-asr")
        self.engine = None
        self.engine_error = None
        self.tasks: list[asyncio.Task] = []
        self.layer = get_channel_layer()
        self.batches: deque[tuple[float, float]] = deque()  # (finished at, seconds)

    # -- load --------------------------------------------------------------------------

    def busy_fraction(self, now: float | None = None) -> float:
        """Share of the pool's time spent in inference over the last BUSY_WINDOW_S."""
        now = time.monotonic() if now is None else now
        while self.batches and self.batches[0][0] < now - BUSY_WINDOW_S:
            self.batches.popleft()
        return sum(took for _, took in self.batches) / (BUSY_WINDOW_S * self.workers)

    def partial_stretch(self) -> float:
        """How many steps apart partials are now (1 when the pool has room)."""
        return min(MAX_PARTIAL_STRETCH, max(1.0, self.busy_fraction() / TARGET_BUSY))

    # -- input -------------------------------------------------------------------------

    def submit(self, message: dict) -> None:
        """Queue an ``asr.audio`` or ``asr.stop`` message (see consumers)."""
        if not self.tasks:
            self.start()
        sid = message["stream"]
        stream = self.streams.get(sid)
        if stream is None:
            stream = self.streams[sid] = Stream(sid, message["user"], message.get("session"))
            self.order.append(sid)
        stream.queue(message)
        self.wake.set()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._worker()) for _ in range(self.workers)]

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- the workers -------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                self.wake.clear()
                await self.wake.wait()
                continue
            try:
                await self._run(batch)
            except Exception:  # noqa: BLE001 - one bad batch must not stop dictation
                log.exception("transcription batch failed")
            finally:
                for stream, *_ in batch:
                    stream.busy = False
                if any(s.items for s in self.streams.values()):
                    self.wake.set()

    def _take(self) -> list:
        """Up to MAX_BATCH idle streams with work, in round-robin order; for each,
        the audio of one utterance (up to MAX_FEED_S) or its stop."""
        batch = []
        limit = int(MAX_FEED_S * SAMPLE_RATE)
        for _ in range(len(self.order)):
            sid = self.order[0]
            self.order.rotate(-1)
            stream = self.streams[sid]
            if stream.busy or not stream.items:
                continue
            work = stream.take_work(limit)
            if work is None:
                continue
            stream.busy = True
            batch.append((stream, *work))
            if len(batch) >= MAX_BATCH:
                break
        return batch

    async def _run(self, batch) -> None:
        loop = asyncio.get_running_loop()
        if self.engine is None and self.engine_error is None:
            await self._load(loop)
        if self.engine is None:
            for stream, *_ in batch:
                await self._model_missing(stream)
            return
        from inference.asr_batch import feed_many
        from inference.medasr import StreamingTranscriber

        jobs, order = [], []
        stretch = self.partial_stretch()
        for stream, utterance, work in batch:
            stream.open_utterance(utterance, lambda: StreamingTranscriber(self.engine))
            chunk = None if work is None else stream.contiguous(work)
            if chunk is not None and len(chunk) == 0:
                continue
            transcriber = stream.transcriber
            transcriber.set_partial_interval(transcriber.settings.step_s * stretch)
            # More of this utterance already waiting: its next round gives a fresher partial.
            jobs.append((transcriber, chunk, not stream.has_more_audio(utterance)))
            order.append((stream, utterance, work is None))
        if not jobs:
            return
        started = time.monotonic()
        done: asyncio.Queue = asyncio.Queue()

        def on_done(index, events):  # in the pool's thread
            loop.call_soon_threadsafe(done.put_nowait, (index, events))

        future = loop.run_in_executor(self.pool, feed_many, self.engine, jobs, on_done)
        # Each stream's events go out as soon as its own decodes are done (a partial does
        # not wait for another speaker's long final in the same batch).
        while True:
            getter = asyncio.ensure_future(done.get())
            finished, _ = await asyncio.wait({getter, future}, return_when="FIRST_COMPLETED")
            if getter not in finished:
                getter.cancel()
                break
            await self._deliver_all(order[getter.result()[0]], getter.result()[1])
        self.batches.append((time.monotonic(), time.monotonic() - started))
        future.result()  # a failed batch raises here
        while not done.empty():
            index, events = done.get_nowait()
            await self._deliver_all(order[index], events)
        await self._report_lag()

    async def _deliver_all(self, job, events) -> None:
        stream, utterance, finished = job
        for event in events:
            await self._deliver(stream, utterance, event)
        if finished:
            stream.close_utterance()

    async def preload(self) -> None:
        """Load the model now (a worker does it before it listens), not on the first audio."""
        await self._load(asyncio.get_running_loop())

    async def _load(self, loop) -> None:
        from inference.errors import ModelNotInstalled

        try:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            self.engine = await loop.run_in_executor(self.pool, load_engine, threads)
        except ModelNotInstalled as exc:
            self.engine_error = exc

    # -- output ------------------------------------------------------------------------

    async def _deliver(self, stream: Stream, utterance: str, event) -> None:
        await streams.deliver(self.layer, stream, utterance, event, self.engine.info)

    async def _model_missing(self, stream: Stream) -> None:
        stream.drop_audio()
        if stream.warned:
            return
        stream.warned = True
        await streams.send(self.layer, stream.id, streams.model_missing_message(self.engine_error))

    async def _report_lag(self) -> None:
        now = time.monotonic()
        for stream in list(self.streams.values()):
            message = stream.lag_message(now)
            if message is not None:
                await streams.send(self.layer, stream.id, message)
            if stream.idle:
                # Forget it (a new message re-creates it).
                self.streams.pop(stream.id, None)
                if stream.id in self.order:
                    self.order.remove(stream.id)


# One service per event loop: Daphne's, the worker's, or a test's.
_services: dict[int, TranscriptionService] = {}


def get_service() -> TranscriptionService:
    loop = asyncio.get_running_loop()
    service = _services.get(id(loop))
    if service is None or service.layer is not get_channel_layer():
        service = _services[id(loop)] = TranscriptionService()
    return service


async def close_services() -> None:
    for key, service in list(_services.items()):
        await service.close()
        _services.pop(key, None)


def shard_for(stream_id: str, shards: int) -> int:
    """The worker shard of a stream: stable across processes and restarts (unlike hash())."""
    return zlib.crc32(stream_id.encode()) % max(1, shards)


def channel_for_shard(shard: int | None) -> str:
    """The named channel an external worker listens on (``None``: the only worker)."""
    return TRANSCRIBE_CHANNEL if shard is None else f"{TRANSCRIBE_CHANNEL}.{shard}"


def channel_for_stream(stream_id: str) -> str:
    shards = settings.DICTATION_WORKER_SHARDS
    return channel_for_shard(shard_for(stream_id, shards) if shards > 1 else None)


async def submit(message: dict) -> None:
    """From a dictation socket: to this process's service, or the stream's external worker."""
    if settings.DICTATION_WORKER == "external":
        await get_channel_layer().send(channel_for_stream(message["stream"]), message)
    else:
        get_service().submit(message)
