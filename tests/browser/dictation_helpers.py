"""The dictation browser tests' helpers: the dictation panel's state, recording through the
fake microphone until a condition, and the stored audio compared with what was spoken."""

from __future__ import annotations

import io
import time
import wave

import numpy as np

from tests.browser.speech import RATE

FRAME = RATE // 10  # the capture worklet's frame: 100 ms


def until(page, predicate: str, arg=None, timeout: float = 20000):
    """Poll a JS function until it returns something truthy (``page.wait_for_function``
    polls with eval(), which the page's Content-Security-Policy refuses)."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        value = page.evaluate(predicate, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} ms: {predicate}")
        page.wait_for_timeout(100)


def dictation(page, expr="s"):
    return page.evaluate(
        f"() => {{ const s = window.readingViewer.dictation.state(); return {expr}; }}"
    )


def wait_dictation(page, condition, timeout=20000):
    return until(
        page,
        f"() => {{ const d = window.readingViewer && window.readingViewer.dictation;"
        f" if (!d) return false; const s = d.state(); return {condition}; }}",
        timeout=timeout,
    )


def open_viewer_page(page, *, session=False):
    try:
        until(page, "() => window.readingViewer && window.readingViewer.state().ready", 60000)
    except AssertionError as exc:
        error = page.evaluate("() => document.getElementById('rr-viewer')?.dataset.error || ''")
        raise AssertionError(
            f"the viewer did not start: {error!r}, page errors {page.errors}"
        ) from exc
    until(page, "() => window.readingViewer.state().viewports.some(v => v.imageId)")
    if session:
        until(
            page,
            "() => window.readingSession && window.readingSession.state().connection === 'live'",
        )
    return page


def record_until(page, samples, *, drop_at=None, shot=None):
    """Record (key D) until ``samples`` are captured; optionally drop the socket on the way."""
    page.keyboard.press("d")
    wait_dictation(page, "s.state === 'listening'")
    if drop_at:
        wait_dictation(page, f"s.samples >= {drop_at}")
        page.context.set_offline(True)
        page.evaluate("window.readingViewer.dictation.drop()")
        wait_dictation(page, "s.connection !== 'live'")
        page.wait_for_timeout(1200)  # frames pile up unacknowledged meanwhile
        assert dictation(page, "s.unacked") > 3
        page.context.set_offline(False)
        if shot:
            shot(page, "dictation-listening-reconnecting")
    wait_dictation(page, f"s.samples >= {samples}", timeout=30000)
    page.keyboard.press("d")
    wait_dictation(page, "s.state === 'idle'")
    wait_dictation(page, "s.connection === 'live' && s.unacked === 0", timeout=30000)


def origin(page) -> str:
    return page.url.split("/viewer/")[0]


def stored_utterances(page, study_uid):
    response = page.request.get(f"{origin(page)}/api/dictation/utterances/?study={study_uid}")
    assert response.ok, response.status
    body = response.json()
    return body.get("results", body)


def stored_audio(page, utterance) -> np.ndarray:
    url = utterance["audio_url"]
    response = page.request.get(url if "://" in url else origin(page) + url)
    assert response.ok, response.status
    with wave.open(io.BytesIO(response.body()), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def envelope(samples: np.ndarray, step: int = FRAME) -> np.ndarray:
    n = len(samples) // step
    x = samples[: n * step].astype(np.float64).reshape(n, step) / 32768.0
    return np.sqrt((x * x).mean(axis=1))


def looped_match(stored: np.ndarray, spoken: np.ndarray) -> float:
    """Best normalised correlation of the stored loudness envelope with the file's, over
    every offset into the looped file (the recording starts wherever the loop is)."""
    a = envelope(stored)
    b = envelope(spoken)
    reps = int(np.ceil(len(a) / len(b))) + 1
    looped = np.tile(b, reps)
    best = -1.0
    for shift in range(len(b)):
        w = looped[shift : shift + len(a)]
        if w.std() == 0 or a.std() == 0:
            continue
        best = max(best, float(np.corrcoef(a, w)[0, 1]))
    return best
