"""MedASR streaming transcription: 16 kHz PCM chunks in, partial and final segments out.

The model is a Conformer-CTC encoder that attends over its whole input, so live
partials mean re-decoding audio. The transcriber keeps one *open segment*: the
audio since the last final. Every ``step_s`` of audio it emits a partial; it
decodes only the *trailing* part of the segment (what the previous partials have
not fixed yet, plus ``partial_context_s`` of left context) and stitches the new
words onto the words earlier partials fixed, so a partial costs about
``step_s + partial_context_s + partial_right_s`` of audio however long the
segment is. Finals always decode their whole segment in one pass (full-window
quality, and identical to decoding with whole-segment partials: partials never
feed a final). The caller may widen the partial interval or skip a partial under
load (:meth:`StreamingTranscriber.feed_requests`); finals are never skipped.
A segment closes (a final) at a pause found by an energy detector,
when it reaches ``window_s`` (cut at a word boundary the model has seen right
context for), or on :meth:`StreamingTranscriber.finish`. A final is never
revised, and memory is bounded by the window, whatever the dictation's length.

All decisions are taken at fixed positions of the audio stream (10 ms blocks,
step boundaries), never at chunk boundaries, so chunks of 10 ms or of 5 s give
the same finals. Decoding requests are yielded by a generator, which lets
:func:`inference.asr_batch.feed_many` decode several streams' requests in one batched
forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from inference.asr_engine import AsrEngine, Word
from inference.asr_protocol import StreamSettings, TranscriptEvent, to_float32
from inference.commands import DEFAULT_COMMANDS, Command, capitalise, parse_words, render

BLOCK = 160  # 10 ms: the unit of pause detection


@dataclass
class _State:
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    audio_start: int = 0  # absolute sample index of audio[0]
    blocks_done: int = 0  # absolute index of the next 10 ms block to classify
    seg_start: int | None = None  # absolute sample where the open segment starts
    last_speech_end: int = 0
    next_step: int = 0
    segment: int = 0
    peak_buffer: int = 0
    total: int = 0  # samples received
    closed_at: int = 0  # end of the last final: the next segment never overlaps it
    fixed: list = field(default_factory=list)  # words of the open segment partials fixed
    fixed_until: int = 0  # absolute sample: audio before it needs no partial re-decode


Request = Generator[np.ndarray, np.ndarray, list[TranscriptEvent]]


class StreamingTranscriber:
    """One live dictation stream. Not thread-safe: one owner feeds it.

    >>> t = StreamingTranscriber(engine)
    >>> events = t.feed(chunk)   # int16 or float PCM at 16 kHz, any length
    >>> events += t.finish()
    """

    def __init__(
        self,
        engine: AsrEngine,
        settings: StreamSettings | None = None,
        commands: tuple[Command, ...] = DEFAULT_COMMANDS,
    ):
        self.engine = engine
        self.settings = settings or StreamSettings()
        self.commands = commands
        self._s = _State()
        rate = engine.sample_rate
        self._step = max(BLOCK, int(round(self.settings.step_s * rate / BLOCK)) * BLOCK)
        self._partial_step = self._step
        self._window = int(self.settings.window_s * rate)
        self._pause_blocks = max(1, int(round(self.settings.pause_s * rate / BLOCK)))
        self._preroll = int(self.settings.preroll_s * rate)
        self._threshold = 10 ** (self.settings.silence_dbfs / 20)
        self.finished = False
        self.sentence_start = True

    # -- public API -------------------------------------------------------------------------

    @property
    def position_s(self) -> float:
        return self._s.total / self.engine.sample_rate

    @property
    def buffered_samples(self) -> int:
        """Audio held right now (bounded by window + pre-roll + one chunk)."""
        return len(self._s.audio)

    @property
    def peak_buffered_samples(self) -> int:
        return self._s.peak_buffer

    def set_partial_interval(self, seconds: float) -> None:
        """Audio between partials (at least ``step_s``): widened by a busy caller.

        Finals do not depend on it; they are taken at the same positions whatever it is.
        """
        rate = self.engine.sample_rate
        self._partial_step = max(self._step, int(round(seconds * rate / BLOCK)) * BLOCK)

    def feed(self, chunk, partial: bool = True) -> list[TranscriptEvent]:
        return _drive_one(self.engine, self.feed_requests(chunk, partial))

    def finish(self) -> list[TranscriptEvent]:
        return _drive_one(self.engine, self.finish_requests())

    # -- request generators (one decode request per yield) ---------------------------------

    def feed_requests(self, chunk, partial: bool = True) -> Request:
        """Requests for one chunk; ``partial=False`` skips this chunk's partial (the
        caller has more audio of this stream waiting: the next chunk's is fresher)."""
        if self.finished:
            raise RuntimeError("stream already finished")
        samples = to_float32(chunk)
        s = self._s
        s.audio = np.concatenate([s.audio, samples]) if len(s.audio) else samples.copy()
        s.peak_buffer = max(s.peak_buffer, len(s.audio))
        s.total += len(samples)
        events: list[TranscriptEvent] = []
        end = s.audio_start + len(s.audio)
        partial_at: int | None = None
        while (s.blocks_done + 1) * BLOCK <= end:
            block_start = s.blocks_done * BLOCK
            block = s.audio[block_start - s.audio_start : block_start - s.audio_start + BLOCK]
            s.blocks_done += 1
            block_end = block_start + BLOCK
            speech = float(np.sqrt(np.mean(block.astype(np.float64) ** 2))) > self._threshold
            if speech:
                if s.seg_start is None:
                    s.seg_start = max(s.audio_start, block_start - self._preroll, s.closed_at)
                    s.next_step = s.seg_start + self._partial_step
                    s.fixed, s.fixed_until = [], s.seg_start
                s.last_speech_end = block_end
            if s.seg_start is None:
                self._drop_before(block_end - self._preroll)
                continue
            silent_blocks = (block_end - s.last_speech_end) // BLOCK
            if silent_blocks >= self._pause_blocks:
                close = s.last_speech_end + (self._pause_blocks // 2) * BLOCK
                event = yield from self._final(close, "pause")
                events.append(event)
                partial_at = None
                continue
            if block_end - s.seg_start >= self._window:
                events.extend((yield from self._cut_window(block_end)))
                partial_at = None
                continue
            if block_end >= s.next_step:
                partial_at = block_end
                s.next_step = block_end + self._partial_step
        if partial and partial_at is not None and s.seg_start is not None:
            # Coalesced: only the latest step boundary crossed in this chunk is decoded.
            events.append((yield from self._partial(partial_at)))
        return events

    def finish_requests(self) -> Request:
        s = self._s
        events: list[TranscriptEvent] = []
        if s.seg_start is not None:
            end = s.audio_start + len(s.audio)
            close = min(end, s.last_speech_end + (self._pause_blocks // 2) * BLOCK)
            events.append((yield from self._final(close, "finish")))
        self.finished = True
        s.audio = np.zeros(0, np.float32)
        return events

    # -- internals ---------------------------------------------------------------------------

    def _slice(self, start: int, end: int) -> np.ndarray:
        s = self._s
        return s.audio[start - s.audio_start : end - s.audio_start]

    def _drop_before(self, sample: int) -> None:
        s = self._s
        if sample > s.audio_start:
            cut = min(sample - s.audio_start, len(s.audio))
            s.audio = s.audio[cut:]
            s.audio_start += cut

    def _decode_event(self, kind: str, start: int, end: int, reason: str = "") -> Request:
        logprobs = yield self._slice(start, end)
        return self._event(kind, logprobs, start, end, reason)

    def _partial(self, end: int) -> Request:
        """A partial of the open segment up to ``end``, decoding only its trailing part."""
        s = self._s
        context = self.settings.partial_context_s
        if context is None:
            return (yield from self._decode_event("partial", s.seg_start, end))
        engine, rate = self.engine, self.engine.sample_rate
        # On the segment's 40 ms frame grid, so word times match a whole-segment decode's.
        back = max(0, s.fixed_until - int(context * rate) - s.seg_start)
        start = s.seg_start + back // engine.frame_samples * engine.frame_samples
        logprobs = yield self._slice(start, end)
        words = engine.words(logprobs.argmax(-1), offset_s=start / rate)
        # Words centred in the context were fixed by an earlier partial; keep those.
        boundary = s.fixed_until / rate
        after = s.fixed[-1].end if s.fixed else 0.0
        new = [w for w in words if (w.start + w.end) / 2 >= boundary and w.start >= after]
        limit = end / rate - self.settings.partial_right_s
        settled = [w for w in new if w.end <= limit]
        cut = min(limit, new[len(settled)].start) if len(settled) < len(new) else limit
        if settled:
            cut = max(cut, settled[-1].end)
        # A word still growing holds the cut back at most partial_right_s more: the trailing
        # decode stays short (a partial may mis-join that word; the final will not).
        cut = max(cut, limit - self.settings.partial_right_s)
        s.fixed = s.fixed + settled
        s.fixed_until = max(s.fixed_until, int(cut * rate))
        return self._event("partial", None, s.seg_start, end, words=s.fixed + new[len(settled) :])

    def _event(
        self,
        kind: str,
        logprobs: np.ndarray | None,
        start: int,
        end: int,
        reason: str = "",
        words: list[Word] | None = None,
    ):
        rate = self.engine.sample_rate
        decoder = "greedy"
        if words is not None:
            pass
        elif kind == "final" and self.engine.beam is not None:
            words = self.engine.words(self.engine.beam.decode(logprobs), offset_s=start / rate)
            decoder = self.engine.beam.name
        else:
            words = self.engine.words(logprobs.argmax(-1), offset_s=start / rate)
        raw = parse_words([w.text for w in words], self.commands)
        # Capitalisation follows the sentence across finals; a partial does not move it.
        ops, sentence_start = capitalise(raw, self.sentence_start)
        if kind == "final":
            self.sentence_start = sentence_start
        if words:
            t0, t1 = words[0].start, words[-1].end
        else:
            t0 = t1 = start / rate
        return TranscriptEvent(
            type=kind,
            segment=self._s.segment,
            text=render(ops, sentence_start=False),
            ops=ops,
            words=words,
            start=t0,
            end=min(t1, end / rate),
            audio_start=start / rate,
            audio_end=end / rate,
            reason=reason,
            decoder=decoder,
        )

    def _final(self, close: int, reason: str) -> Request:
        s = self._s
        event = yield from self._decode_event("final", s.seg_start, close, reason)
        s.segment += 1
        s.seg_start = None
        s.closed_at = close
        self._drop_before(close - self._preroll)
        return event

    def _cut_window(self, end: int) -> Request:
        """The open segment filled the window: finalise the words the model heard context for."""
        s = self._s
        engine = self.engine
        start = s.seg_start
        logprobs = yield self._slice(start, end)
        ids = logprobs.argmax(-1)
        words = engine.words(ids)
        limit = len(ids) * engine.frame_s - self.settings.right_context_s
        keep = [w for w in words if w.end <= limit]
        cut_s = limit
        if keep and len(keep) < len(words):
            # Cut in the gap between the last kept word and the next one.
            cut_s = (keep[-1].end + words[len(keep)].start) / 2
        cut = start + int(math.floor(cut_s / engine.frame_s)) * engine.frame_samples
        cut = max(start + engine.frame_samples, min(cut, end))
        cut_frames = (cut - start) // engine.frame_samples
        event = self._event("final", logprobs[:cut_frames], start, cut, "window")
        s.segment += 1
        s.seg_start = cut
        s.next_step = end + self._partial_step
        s.fixed, s.fixed_until = [], cut
        self._drop_before(cut)
        return [event]


def _drive_one(engine: AsrEngine, generator: Request) -> list[TranscriptEvent]:
    try:
        request = next(generator)
        while True:
            request = generator.send(engine.logprobs_batch([request])[0])
    except StopIteration as stop:
        return stop.value
