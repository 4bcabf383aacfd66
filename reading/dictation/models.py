"""Dictation streams, their utterances (one audio file each) and transcript segments.

A *stream* is one browser's dictation on one study (the client picks its UUID and
keeps it across reconnects): its ``last_seq`` makes each audio frame stored exactly
once. An *utterance* runs from the first frame to a ``stop`` and owns one WAV file
(16 kHz mono int16) under ``DATA_DIR/dictation/``. A *segment* is one final of the
transcriber, with its ops and CTC word timings relative to the utterance's start.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

SAMPLE_RATE = 16000


def group_for_stream(stream_id) -> str:
    """The channel-layer group of a stream's sockets (the speaker's reconnects share it)."""
    return f"dictation.{stream_id}"


class DictationStream(models.Model):
    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE)
    session = models.ForeignKey(
        "reading_sessions.ReadingSession", null=True, blank=True, on_delete=models.SET_NULL
    )
    last_seq = models.PositiveBigIntegerField(default=0)
    finals = models.PositiveIntegerField(default=0)  # n of the last final
    open_utterance = models.ForeignKey(
        "Utterance", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"dictation {self.id} by {self.user_id}"


class Utterance(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stream = models.ForeignKey(DictationStream, on_delete=models.CASCADE, related_name="utterances")
    study = models.ForeignKey("studies.Study", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    session = models.ForeignKey(
        "reading_sessions.ReadingSession", null=True, blank=True, on_delete=models.SET_NULL
    )
    samples = models.PositiveBigIntegerField(default=0)  # int16 samples stored
    first_seq = models.PositiveBigIntegerField(default=0)
    last_seq = models.PositiveBigIntegerField(default=0)
    audio = models.CharField(max_length=300, blank=True)  # path under DATA_DIR; "" once purged
    audio_purged_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["study", "-started_at"])]

    def __str__(self) -> str:
        return f"utterance {self.id} ({self.duration_s:.1f} s)"

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


class Segment(models.Model):
    utterance = models.ForeignKey(Utterance, on_delete=models.CASCADE, related_name="segments")
    n = models.PositiveIntegerField()  # per stream: the protocol's "n"
    segment = models.PositiveIntegerField()  # the transcriber's segment index
    text = models.TextField(blank=True)
    ops = models.JSONField(default=list)
    words = models.JSONField(default=list)  # [{"text", "start", "end"}] seconds in the utterance
    start = models.FloatField(default=0.0)
    end = models.FloatField(default=0.0)
    decoder = models.CharField(max_length=40, blank=True)  # greedy / kenlm-beam
    model = models.CharField(max_length=300, blank=True)
    random_weights = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["utterance", "start", "n"]
        constraints = [
            models.UniqueConstraint(fields=["utterance", "n"], name="dictation_segment_unique_n")
        ]

    def __str__(self) -> str:
        return f"{self.utterance_id} #{self.n}: {self.text[:60]}"
