"""Run the transcription service as its own process, fed through the channel layer.

    DICTATION_WORKER=external REDIS_URL=redis://... python manage.py dictation_worker

Web processes (with ``DICTATION_WORKER=external``) then hold no model: they send
each stored frame to the ``dictation-transcribe`` channel; this process batches
the streams, runs MedASR and sends partials and finals back through Redis.

Several workers: set ``DICTATION_WORKER_SHARDS=N`` on the web processes and the
workers alike and start worker k with ``--shard k`` (k = 0..N-1). Worker k
listens on ``dictation-transcribe.<k>`` and gets every frame of the streams
whose ``crc32(stream id) % N`` is k, and no other; every shard needs its worker.
"""

from __future__ import annotations

import asyncio
import logging

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reading.dictation import transcription

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Transcribe live dictation from the channel layer (scale-out worker)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=0, help="concurrent batches")
        parser.add_argument(
            "--shard", type=int, default=None, help="k of DICTATION_WORKER_SHARDS=N (0..N-1)"
        )

    def handle(self, *args, **options):
        shards = settings.DICTATION_WORKER_SHARDS
        shard = options["shard"]
        if shards > 1 and shard is None:
            raise CommandError(
                f"DICTATION_WORKER_SHARDS={shards}: start one worker per shard with --shard k "
                f"(k = 0..{shards - 1})"
            )
        if shard is not None and not 0 <= shard < shards:
            raise CommandError(f"--shard must be in 0..{shards - 1} (DICTATION_WORKER_SHARDS)")
        channel = transcription.channel_for_shard(shard if shards > 1 else None)
        asyncio.run(self._run(options["workers"] or None, channel))

    async def _run(self, workers, channel):
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            raise CommandError("the dictation worker needs the Redis channel layer: set REDIS_URL")
        service = transcription.TranscriptionService(workers)
        await service.preload()
        if service.engine_error is not None:
            self.stderr.write(f"dictation worker: {service.engine_error}")
        self.stdout.write(
            f"dictation worker: listening on {channel!r} "
            f"({type(layer).__name__}, model {transcription.model_status()['name']!r})"
        )
        self.stdout.flush()
        service.start()
        try:
            while True:
                message = await layer.receive(channel)
                if message.get("type") in ("asr.audio", "asr.stop"):
                    if message["stream"] not in service.streams:
                        # One line per stream taken up: which worker holds it (tests, logs).
                        self.stdout.write(f"dictation worker: stream {message['stream']}")
                        self.stdout.flush()
                    service.submit(message)
        finally:
            await service.close()
