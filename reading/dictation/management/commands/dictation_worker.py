"""Run the transcription service as its own process, fed through the channel layer.

    DICTATION_WORKER=external REDIS_URL=redis://... python manage.py dictation_worker

Web processes (with ``DICTATION_WORKER=external``) then hold no model: they send
each stored frame to the ``dictation-transcribe`` channel; this process batches
the streams, runs MedASR and sends partials and finals back through Redis.
Several workers may run: Redis hands each message to one of them, so one stream
should stay on one worker (run one per machine, or pin streams in front of it).
"""

from __future__ import annotations

import asyncio
import logging

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.management.base import BaseCommand, CommandError

from reading.dictation import transcription

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Transcribe live dictation from the channel layer (scale-out worker)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=0, help="concurrent batches")

    def handle(self, *args, **options):
        asyncio.run(self._run(options["workers"] or None))

    async def _run(self, workers):
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            raise CommandError("the dictation worker needs the Redis channel layer: set REDIS_URL")
        service = transcription.TranscriptionService(workers)
        await service.preload()
        if service.engine_error is not None:
            self.stderr.write(f"dictation worker: {service.engine_error}")
        self.stdout.write(
            f"dictation worker: listening on {transcription.TRANSCRIBE_CHANNEL!r} "
            f"({type(layer).__name__}, model {transcription.model_status()['name']!r})"
        )
        self.stdout.flush()
        service.start()
        try:
            while True:
                message = await layer.receive(transcription.TRANSCRIBE_CHANNEL)
                if message.get("type") in ("asr.audio", "asr.stop"):
                    service.submit(message)
        finally:
            await service.close()
