"""Streaming transcriber on synthetic audio with a tiny random-weight LasrForCTC.

The weights are random, so these tests assert on the protocol, the timing and
the memory bound, never on words.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference.asr_batch import feed_many, transcribe
from inference.asr_protocol import StreamSettings, to_float32
from inference.medasr import StreamingTranscriber
from tests.inference.conftest import RATE, silence, tone


def dictation() -> np.ndarray:
    # Three utterances separated by 1 s pauses, then one 11 s utterance longer than the window.
    return np.concatenate(
        [
            silence(0.5),
            tone(1.5, 1),
            silence(1.0),
            tone(2.0, 2),
            silence(1.0),
            tone(11.0, 3),
            silence(0.3),
        ]
    )


# The dictation above is designed around an 8 s window and 0.5 s partials.
SETTINGS = StreamSettings(window_s=8.0, step_s=0.5)


def run(engine, audio, chunk: int, settings=SETTINGS):
    transcriber = StreamingTranscriber(engine, settings)
    events = []
    for i in range(0, len(audio), chunk):
        events += transcriber.feed(audio[i : i + chunk])
    events += transcriber.finish()
    return transcriber, events


def finals(events):
    return [e for e in events if e.type == "final"]


def signature(event):
    return (
        event.segment,
        event.reason,
        event.text,
        [(w.text, round(w.start, 4), round(w.end, 4)) for w in event.words],
        round(event.audio_start, 4),
        round(event.audio_end, 4),
    )


def test_chunk_sizes_from_10ms_to_5s_give_the_same_finals(asr_engine):
    audio = dictation()
    results = {}
    for chunk in (160, 800, 4000, 16000, 80000):  # 10 ms, 50 ms, 250 ms, 1 s, 5 s
        _, events = run(asr_engine, audio, chunk)
        results[chunk] = [signature(e) for e in finals(events)]
    reference = results[160]
    assert len(reference) == 4
    for chunk, result in results.items():
        assert result == reference, f"chunk of {chunk} samples differs"


def test_partial_final_protocol(asr_engine):
    _, events = run(asr_engine, dictation(), 1600)
    closed = set()
    for event in events:
        # Nothing is ever said about a segment once it is final.
        assert event.segment not in closed
        if event.type == "final":
            closed.add(event.segment)
    assert sorted(closed) == list(range(len(closed)))
    partials = [e for e in events if e.type == "partial"]
    assert partials, "partials are sent while speaking"
    for segment in closed:
        assert any(p.segment == segment for p in partials)
    # Finals tile the audio in order without overlap.
    spans = [(e.audio_start, e.audio_end) for e in finals(events)]
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 1e-9
    # A partial covers the open segment up to a step boundary, never beyond the audio.
    for p in partials:
        assert p.audio_end <= len(dictation()) / RATE + 1e-9
        assert p.audio_end > p.audio_start


def test_times_come_from_40ms_ctc_frames(asr_engine):
    assert asr_engine.frame_s == pytest.approx(0.04)
    _, events = run(asr_engine, dictation(), 4000)
    for event in events:
        assert event.audio_start - 1e-9 <= event.start <= event.end <= event.audio_end + 1e-9
        for word in event.words:
            offset = (word.start - event.audio_start) / 0.04
            assert offset == pytest.approx(round(offset), abs=1e-6)
            assert word.end > word.start
            assert event.audio_start - 1e-9 <= word.start <= event.audio_end + 1e-9


def test_pauses_close_segments(asr_engine):
    _, events = run(asr_engine, dictation(), 1600)
    closed = finals(events)
    assert [e.reason for e in closed] == ["pause", "pause", "window", "finish"]
    # Each utterance's segment brackets it: (0.5..2.0), (3.0..5.0).
    first, second = closed[0], closed[1]
    assert first.audio_start <= 0.5 and 2.0 <= first.audio_end < 3.0
    assert 2.0 < second.audio_start <= 3.0 and 5.0 <= second.audio_end < 6.0


def test_a_short_pause_does_not_split(asr_engine):
    audio = np.concatenate([tone(1.0), silence(0.3), tone(1.0), silence(1.0)])
    _, events = run(asr_engine, audio, 1600, StreamSettings(window_s=8.0, step_s=0.5, pause_s=0.6))
    assert [e.reason for e in finals(events)] == ["pause"]
    _, events = run(asr_engine, audio, 1600, StreamSettings(window_s=8.0, step_s=0.5, pause_s=0.2))
    assert [e.reason for e in finals(events)] == ["pause", "pause"]


def test_speech_resuming_right_after_a_pause_does_not_overlap_the_final(asr_engine):
    # A 0.4 s pause closes the segment at 1.2 s (decided at 1.4 s); speech resumes at
    # 1.45 s, and its 0.3 s pre-roll would reach back to 1.15 s.
    audio = np.concatenate([tone(1.0), silence(0.45), tone(1.0), silence(1.0)])
    _, events = run(asr_engine, audio, 1600, StreamSettings(window_s=8.0, pause_s=0.4))
    first, second = finals(events)
    assert second.audio_start >= first.audio_end
    assert second.audio_start == pytest.approx(first.audio_end)


def test_silence_alone_produces_nothing(asr_engine):
    _, events = run(asr_engine, silence(3.0), 1600)
    assert events == []


def test_window_full_cuts_within_the_window(asr_engine):
    settings = StreamSettings(window_s=4.0, step_s=0.5)
    _, events = run(asr_engine, tone(10.0), 1600, settings)
    closed = finals(events)
    assert [e.reason for e in closed][:-1] == ["window"] * (len(closed) - 1)
    assert len(closed) >= 3
    for event in closed:
        assert event.audio_end - event.audio_start <= 4.0 + 1e-9
    assert closed[-1].audio_end == pytest.approx(10.0, abs=0.05)


def test_partials_follow_the_step_setting(asr_engine):
    for step, expected in ((0.5, 8), (1.0, 4)):
        _, events = run(
            asr_engine, np.concatenate([tone(4.2), silence(1.0)]), 160, StreamSettings(step_s=step)
        )
        partials = [e for e in events if e.type == "partial"]
        assert abs(len(partials) - expected) <= 1
        ends = [p.audio_end for p in partials]
        assert all(
            b - a == pytest.approx(step, abs=0.011) for a, b in zip(ends, ends[1:], strict=False)
        )


def test_int16_float_and_bytes_agree(asr_engine):
    audio = np.concatenate([tone(1.5), silence(1.0)])
    as_int16 = np.round(audio * 32767).astype(np.int16)
    _, from_float = run(asr_engine, as_int16.astype(np.float32) / 32768.0, 1600)
    _, from_int16 = run(asr_engine, as_int16, 1600)
    transcriber = StreamingTranscriber(asr_engine, SETTINGS)
    from_bytes = transcriber.feed(as_int16.tobytes()) + transcriber.finish()
    assert [signature(e) for e in finals(from_float)] == [signature(e) for e in finals(from_int16)]
    assert [signature(e) for e in finals(from_bytes)] == [signature(e) for e in finals(from_int16)]
    with pytest.raises(TypeError):
        to_float32(np.zeros(10, np.int32))


def test_long_dictation_in_bounded_memory(asr_engine):
    """Three minutes of dictation: the buffer never exceeds window + pre-roll + one chunk."""
    settings = StreamSettings(window_s=6.0, step_s=2.0)
    transcriber = StreamingTranscriber(asr_engine, settings)
    chunk = RATE  # 1 s
    peak = 0
    reasons: dict[str, int] = {}
    for second in range(180):
        piece = tone(1.0, seed=second) if second % 10 < 7 else silence(1.0, seed=second)
        for event in finals(transcriber.feed(piece)):
            reasons[event.reason] = reasons.get(event.reason, 0) + 1
        peak = max(peak, transcriber.buffered_samples)
    assert transcriber.finish() == []
    bound = int((settings.window_s + settings.preroll_s) * RATE) + chunk
    assert transcriber.peak_buffered_samples <= bound
    assert peak <= bound
    # Each 7 s utterance overflows the 6 s window once, then closes at its pause.
    assert reasons == {"window": 18, "pause": 18}
    assert transcriber.position_s == pytest.approx(180.0)


def test_batched_streams_match_single_streams(asr_engine):
    streams = [
        np.concatenate([silence(0.2), tone(1.2, 5), silence(0.8), tone(0.7, 6), silence(0.9)]),
        np.concatenate([tone(2.5, 7), silence(0.7)]),
        np.concatenate([silence(1.0), tone(0.6, 8), silence(1.6)]),
    ]
    singles = [[signature(e) for e in run(asr_engine, a, 800)[1]] for a in streams]
    transcribers = [StreamingTranscriber(asr_engine, SETTINGS) for _ in streams]
    batched = [[] for _ in streams]
    for i in range(0, max(len(a) for a in streams), 800):
        work = [(t, a[i : i + 800]) for t, a in zip(transcribers, streams, strict=True)]
        for out, events in zip(batched, feed_many(asr_engine, work), strict=True):
            out += events
    for out, events in zip(
        batched, feed_many(asr_engine, [(t, None) for t in transcribers]), strict=True
    ):
        out += events
    assert [[signature(e) for e in b] for b in batched] == singles


def test_offline_transcribe_uses_the_same_path(asr_engine):
    audio = dictation()
    offline = transcribe(asr_engine, audio, SETTINGS)
    _, events = run(asr_engine, audio, 1600)
    assert [signature(e) for e in offline] == [signature(e) for e in finals(events)]


def test_events_serialise(asr_engine):
    _, events = run(asr_engine, np.concatenate([tone(1.0), silence(1.0)]), 1600)
    payload = events[-1].as_dict()
    assert payload["type"] == "final" and payload["reason"] == "pause"
    assert set(payload) >= {"text", "ops", "words", "start", "end", "segment"}


def test_settings_are_validated():
    with pytest.raises(ValueError):
        StreamSettings(window_s=1.0, step_s=2.0)
    with pytest.raises(ValueError):
        StreamSettings(window_s=2.0, right_context_s=1.0)


class Counting:
    """The engine, counting the samples it decodes."""

    def __init__(self, engine):
        self.engine = engine
        self.samples = 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def logprobs_batch(self, audios):
        self.samples += sum(len(a) for a in audios)
        return self.engine.logprobs_batch(audios)


def test_trailing_window_partials_keep_the_finals_and_cost_less(asr_engine):
    """Partials decode only their trailing audio; finals are those of whole-segment partials."""
    audio = dictation()
    whole = StreamSettings(window_s=8.0, step_s=0.5, partial_context_s=None)
    costs, results = {}, {}
    for name, settings in (("whole", whole), ("trailing", SETTINGS)):
        counting = Counting(asr_engine)
        transcriber = StreamingTranscriber(counting, settings)
        events = []
        for i in range(0, len(audio), 1600):
            events += transcriber.feed(audio[i : i + 1600])
        events += transcriber.finish()
        costs[name], results[name] = counting.samples, events
    assert [signature(e) for e in finals(results["trailing"])] == [
        signature(e) for e in finals(results["whole"])
    ]
    partials = {k: [e for e in v if e.type == "partial"] for k, v in results.items()}
    assert [(p.segment, p.audio_start, p.audio_end) for p in partials["trailing"]] == [
        (p.segment, p.audio_start, p.audio_end) for p in partials["whole"]
    ]
    # The 8 s window re-decoded every 0.5 s costs far more than ~1.5 s trailing windows.
    assert costs["trailing"] < 0.6 * costs["whole"], costs
    # A partial's words are in time order, within its segment, on the segment's frame grid.
    for p in partials["trailing"]:
        starts = [w.start for w in p.words]
        assert starts == sorted(starts)
        for word in p.words:
            assert p.audio_start - 1e-9 <= word.start < word.end <= p.audio_end + 1e-9
            offset = (word.start - p.audio_start) / 0.04
            assert offset == pytest.approx(round(offset), abs=1e-6)


def test_first_partial_of_a_segment_is_the_whole_segment_decode(asr_engine):
    audio = np.concatenate([tone(1.2, 4), silence(1.0)])
    whole = StreamSettings(step_s=1.0, partial_context_s=None)
    first = {}
    for name, settings in (("whole", whole), ("trailing", StreamSettings(step_s=1.0))):
        _, events = run(asr_engine, audio, 1600, settings)
        first[name] = signature(next(e for e in events if e.type == "partial"))
    assert first["trailing"] == first["whole"]


def test_under_load_partials_are_coalesced_but_no_final_or_audio_is_lost(asr_engine):
    """A busy caller skips partials and widens their interval: finals stay the same."""
    audio = dictation()
    _, reference = run(asr_engine, audio, 1600)
    transcriber = StreamingTranscriber(asr_engine, SETTINGS)
    transcriber.set_partial_interval(2.0)  # the pool is busy: 4 steps apart
    events = []
    for n, i in enumerate(range(0, len(audio), 1600)):
        # ...and every other chunk has more audio waiting behind it: no partial for it.
        events += transcriber.feed(audio[i : i + 1600], partial=n % 2 == 1)
    events += transcriber.finish()
    assert [signature(e) for e in finals(events)] == [signature(e) for e in finals(reference)]
    loaded = [e for e in events if e.type == "partial"]
    normal = [e for e in reference if e.type == "partial"]
    assert 0 < len(loaded) < len(normal) / 2
    ends = [p.audio_end for p in loaded if p.segment == loaded[0].segment]
    assert all(b - a >= 2.0 - 1e-9 for a, b in zip(ends, ends[1:], strict=False))
    # The finals still tile the whole dictation.
    assert finals(events)[-1].audio_end >= len(audio) / RATE - 0.35


def test_batches_are_grouped_by_length():
    from inference.asr_engine import length_groups

    assert length_groups([16000, 96000, 17000, 24000, 95000]) == [[0, 2], [3], [4, 1]]
    assert length_groups([]) == []


def test_short_work_of_a_batch_is_reported_before_long_finals(asr_engine):
    long_final = StreamingTranscriber(asr_engine, SETTINGS)
    short_partial = StreamingTranscriber(asr_engine, SETTINGS)
    done = []
    work = [
        (long_final, np.concatenate([tone(6.0, 1), silence(1.0)])),
        (short_partial, tone(1.1, 2)),
    ]
    results = feed_many(asr_engine, work, on_done=lambda i, events: done.append((i, events)))
    assert [i for i, _ in done] == [1, 0]
    assert [e.type for e in done[0][1]] == ["partial"] and done[1][1][-1].type == "final"
    assert [events for _, events in sorted(done, key=lambda d: d[0])] == results
