"""The dictation socket: ``ws/dictation/<study uid>/?stream=<uuid>[&session=<uuid>]``.

Thin: connect authenticates and checks access (study; session accessible and on
this study), receive validates a frame, stores it through the services (exactly
once per ``seq``) and hands it to the transcription service; group handlers
forward what the service sends. docs/realtime.md "Dictation socket" is the protocol.
"""

from __future__ import annotations

import json
import struct
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from reading.dictation import services, transcription
from reading.dictation.models import group_for_stream
from reading.reading_sessions.models import group_for_user
from reading.realtime import off_the_shared_thread
from reading.sockets import GuardedSocket

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
HEADER = struct.Struct("<I")
MAX_TEXT_BYTES = 4096


class DictationConsumer(GuardedSocket, AsyncWebsocketConsumer):
    stream = None
    max_text_bytes = MAX_TEXT_BYTES

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        study_uid = self.scope["url_route"]["kwargs"]["study_uid"]
        try:
            connected = await database_sync_to_async(services.connect_stream)(
                user,
                study_uid,
                query.get("stream", [""])[0],
                query.get("session", [""])[0] or None,
            )
        except PermissionDenied:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        except Http404:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        self.user = user
        self.stream = connected
        self.acked = connected.acked
        self.utterance = connected.utterance
        await self.channel_layer.group_add(group_for_stream(connected.stream_id), self.channel_name)
        await self.channel_layer.group_add(group_for_user(user.pk), self.channel_name)
        await self.accept()
        await self._send(
            {
                "type": "ready",
                "stream": connected.stream_id,
                "acked": connected.acked,
                "utterance": connected.utterance,
                "model": transcription.model_status(),
                "limits": {
                    "sample_rate": 16000,
                    "max_frame_samples": services.MAX_FRAME_SAMPLES,
                },
            }
        )
        try:
            finals_seen = int(query.get("finals", [""])[0])
        except ValueError:
            return
        for message in await database_sync_to_async(services.finals_after)(
            connected.stream_id, finals_seen
        ):
            await self._send(message)

    async def disconnect(self, code):
        if self.stream is None:
            return
        await self.channel_layer.group_discard(
            group_for_stream(self.stream.stream_id), self.channel_name
        )
        await self.channel_layer.group_discard(group_for_user(self.user.pk), self.channel_name)

    # -- from the client ------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            await self._frame(bytes_data)
        elif text_data is not None:
            await self._text(text_data)

    async def _frame(self, data: bytes):
        if len(data) < HEADER.size + 2 or (len(data) - HEADER.size) % 2:
            await self._error("bad_frame", "a frame is a uint32 LE seq + int16 LE PCM samples.")
            return
        (seq,) = HEADER.unpack_from(data)
        pcm = data[HEADER.size :]
        if seq == 0:
            await self._error("bad_frame", "seq counts from 1.")
            return
        if len(pcm) // 2 > services.MAX_FRAME_SAMPLES:
            await self._error(
                "too_large", f"at most {services.MAX_FRAME_SAMPLES} samples (1 s) per frame."
            )
            return
        if seq <= self.acked:
            # A resend of a stored frame (the stored last_seq is never behind self.acked).
            await self._send({"type": "ack", "seq": seq})
            return
        stored = await off_the_shared_thread(services.store_frame)(self.stream.stream_id, seq, pcm)
        self.acked = stored.acked
        if stored.status == "gap":
            await self._send(
                {
                    "type": "error",
                    "code": "out_of_order",
                    "expected": stored.acked + 1,
                    "detail": f"expected seq {stored.acked + 1}, got {seq}; resend from there.",
                }
            )
            return
        await self._send({"type": "ack", "seq": seq})
        if stored.status == "stored":
            self.utterance = stored.utterance
            await transcription.submit(
                {
                    "type": "asr.audio",
                    "stream": self.stream.stream_id,
                    "utterance": stored.utterance,
                    "offset": stored.offset,
                    "pcm": pcm,
                    "session": self.stream.session_id,
                    "user": self.stream.user,
                }
            )

    async def _text(self, text: str):
        try:
            message = json.loads(text)
        except ValueError:
            await self._error("bad_message", "not JSON.")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await self._send({"type": "pong", "acked": self.acked})
        elif kind == "stop":
            closed = await off_the_shared_thread(services.stop_utterance)(self.stream.stream_id)
            utterance = closed[0] if closed else None
            await self._send({"type": "stopped", "utterance": utterance, "acked": self.acked})
            self.utterance = None
            if closed:
                await transcription.submit(
                    {
                        "type": "asr.stop",
                        "stream": self.stream.stream_id,
                        "utterance": utterance,
                        "offset": closed[1],
                        "session": self.stream.session_id,
                        "user": self.stream.user,
                    }
                )
        else:
            await self._error("unknown_type", "send binary audio frames, stop or ping.")

    async def _error(self, code: str, detail: str):
        await self._send({"type": "error", "code": code, "detail": detail})

    async def _send(self, message: dict):
        await self.send(text_data=json.dumps(message))

    # -- from the channel layer -----------------------------------------------------------

    async def dictation_message(self, event):
        await self._send(event["message"])

    async def user_disconnect(self, event):
        await self.close(code=CLOSE_UNAUTHENTICATED)

    user_deactivated = user_disconnect


class TranscriptionWorkerConsumer(AsyncConsumer):
    """For Channels' ``runworker dictation-transcribe`` (the management command
    ``dictation_worker`` does the same without an ASGI channel router)."""

    async def asr_audio(self, message):
        transcription.get_service().submit(message)

    asr_stop = asr_audio
