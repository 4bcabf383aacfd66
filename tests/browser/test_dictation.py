"""Live dictation end to end: Chromium's fake microphone plays a WAV spoken by espeak-ng,
the viewer streams it over ``ws/dictation/`` to a Daphne server running a tiny
random-weight MedASR, inside a live reading session with a second participant.

Random weights: the transcript is noise, so the assertions are on behaviour (audio stored
once and whole, transcripts reaching the other browser and the report), never on words.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from reading.devserver import CHROMIUM, CHROMIUM_ARGS, ROOT
from reading.reading_sessions import services
from reading.studies.models import Study
from tests.browser.conftest import _server_env, session_cookie_for, start_server, stop_server
from tests.browser.dictation_helpers import (
    FRAME,
    dictation,
    looped_match,
    open_viewer_page,
    origin,
    record_until,
    stored_audio,
    stored_utterances,
    until,
    wait_dictation,
)
from tests.browser.offloop import in_thread
from tests.browser.speech import RATE, read_wav, rms, spoken_wav
from tests.browser.viewer_helpers import (
    make_study,
)

pytestmark = pytest.mark.browser

SPOKEN = "No acute cardiopulmonary process. The heart size is normal."


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """The WAV the fake microphone plays (16 kHz mono int16) and its samples."""
    path = spoken_wav(SPOKEN, tmp_path_factory.mktemp("speech") / "speech.wav")
    samples, rate = read_wav(path)
    assert rate == RATE and len(samples) > RATE
    return path, samples


@pytest.fixture(scope="module")
def browser(playwright_instance, speech):
    """Chromium whose microphone is the WAV (looped), with permission granted."""
    path, _ = speech
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={path}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=args
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def live_url(django_db_setup, django_db_blocker, tmp_path_factory):
    """A server with a tiny random-weight MedASR (``MEDASR_MODEL``), as ``make run`` would."""
    from inference.tiny import build_tiny_medasr

    model = build_tiny_medasr(tmp_path_factory.mktemp("medasr"))
    with django_db_blocker.unblock():
        proc, url = start_server({**_server_env(), "MEDASR_MODEL": str(model)})
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def no_model_url(django_db_setup, django_db_blocker):
    """A server with no MedASR installed."""
    env = _server_env()
    env.pop("MEDASR_MODEL", None)
    with django_db_blocker.unblock():
        proc, url = start_server(env)
    yield url
    stop_server(proc)


def test_dictation_in_session_stores_audio_and_reaches_guest(
    login_page, attending, resident, speech, shot
):
    _, spoken = speech
    study_uid, _, _ = make_study(n=4, size=64)
    study = Study.objects.get(study_instance_uid=study_uid)
    session = in_thread(services.create_session, study=study, host=attending, title="Dictation")

    path = f"/viewer/{study_uid}/?session={session.pk}"
    host = open_viewer_page(login_page(attending, path), session=True)
    guest = open_viewer_page(login_page(resident, path), session=True)
    for page in (host, guest):
        wait_dictation(page, "s.connection === 'live' && s.model")
    assert dictation(host, "s.model.installed && s.model.random_weights") is True
    host.locator('.vw-dock-tab[data-panel="dictation"]').click()
    assert host.locator(".rr-dict-random").is_visible()
    assert "random weights" in host.locator(".rr-dict-random").text_content()
    host.evaluate(
        """() => { window.__report = [];
        for (const type of ['report-insert', 'report-command', 'dictation-state']) {
          window.readingViewer.on(type, (d) => window.__report.push({ type, state: d.state,
            text: d.text, op: d.op, source: d.source }));
        } }"""
    )

    # Dictate two loops of the file; the socket drops mid-sentence and comes back.
    target = 2 * len(spoken)
    record_until(host, target, drop_at=len(spoken) // 2, shot=shot)
    shot(host, "dictation-host-after-stop")
    state = dictation(host)
    assert state["framesResent"] > 0  # the frames of the gap went again after the reconnect
    assert state["acked"] == state["seq"]

    # Stored once and whole: exactly the samples captured, the file's loudness and shape.
    utterances = stored_utterances(host, study_uid)
    assert len(utterances) == 1, utterances
    stored = stored_audio(host, utterances[0])
    assert len(stored) == state["samples"]
    assert target <= len(stored) <= target + 10 * FRAME  # the stop key, under load
    assert abs(len(stored) / RATE - utterances[0]["duration_s"]) < 0.05
    file_rms, stored_rms = rms(spoken), rms(stored)
    assert 0.75 * file_rms < stored_rms < 1.33 * file_rms, (file_rms, stored_rms)
    assert looped_match(stored, spoken) > 0.8

    # Transcripts: the speaker's finals (noise, from random weights) reach the guest's panel,
    # the same text on both sides, with the speaker's name.
    wait_dictation(host, "s.finals >= 1", timeout=60000)
    wait_dictation(guest, "s.remote.some(r => r.finals >= 1)", timeout=30000)
    host_text = dictation(host, "s.transcript.map(l => l.final).join(' ')")
    remote = dictation(guest, "s.remote")
    assert [r["username"] for r in remote] == [attending.username]
    guest_text = " ".join(x["text"] for x in remote[0]["lines"] if x["final"] and x["text"])
    assert guest_text == host_text.strip()
    assert guest.locator(".rr-dict-speaker .rr-dict-name").text_content() == attending.display_name
    guest.locator('.vw-dock-tab[data-panel="dictation"]').click()
    shot(guest, "dictation-guest-sees-host")
    assert dictation(guest, "s.finals") == 0  # the guest dictated nothing

    # The speaker's browser hands each final to the report, op by op, tagged as dictation.
    shot(host, "dictation-host-finals")
    events = host.evaluate("() => window.__report")
    states = [e["state"] for e in events if e["type"] == "dictation-state"]
    assert "listening" in states and states[-1] == "idle", events
    edits = [e for e in events if e["type"] != "dictation-state"]
    inserts = [e["text"] for e in edits if e["type"] == "report-insert"]
    if host_text.strip():
        assert edits and all(e["source"] == "dictation" for e in edits)
        assert inserts
    # With the report editor in the viewer, the dictated text lands in the study's draft.
    if inserts and host.evaluate("() => Boolean(window.readingViewer.report)"):
        longest = max(inserts, key=len)
        url = f"{origin(host)}/api/studies/{study_uid}/report/"
        deadline = time.monotonic() + 20
        text = None
        while time.monotonic() < deadline:
            response = host.request.get(url)
            text = response.json().get("text", "") if response.ok else None
            if text and longest in text:
                break
            host.wait_for_timeout(250)
        assert text and longest in text, (longest, text)
        host.locator('.vw-dock-tab[data-panel="report"]').click()
        shot(host, "dictation-host-report")
    assert host.errors == [] and guest.errors == []


def test_no_model_says_how_to_install_and_still_records(
    browser, no_model_url, attending, speech, shot, transactional_db
):
    _, spoken = speech
    study_uid, _, _ = make_study(n=4, size=64)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        context.add_cookies([session_cookie_for(attending, no_model_url)])
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"{no_model_url}/viewer/{study_uid}/")
        open_viewer_page(page)
        wait_dictation(page, "s.connection === 'live' && s.model")
        # The panel's tab is shown or asks for attention; the panel says what to do.
        tab = page.locator('.vw-dock-tab[data-panel="dictation"]')
        assert {"on", "attention"} & set(tab.get_attribute("class").split())
        tab.click()
        instruction = page.locator(".rr-dict-instruction")
        assert instruction.is_visible()
        assert "MEDASR_MODEL=" in instruction.text_content()
        assert dictation(page, "s.model.installed") is False
        shot(page, "dictation-no-model")
        page.keyboard.press("?")
        help_text = page.locator(".vw-help-card").text_content()
        assert "Dictation: start / stop" in help_text and "Dictation: hold to talk" in help_text
        shot(page, "dictation-help")
        page.keyboard.press("Escape")

        # The rest of the page works (scrolling), and audio is still recorded and kept.
        before = page.evaluate("() => window.readingViewer.state().viewports[0].slice")
        page.keyboard.press("ArrowDown")
        until(page, "(b) => window.readingViewer.state().viewports[0].slice !== b", before)
        record_until(page, len(spoken) // 2)
        utterances = stored_utterances(page, study_uid)
        assert len(utterances) == 1
        assert len(stored_audio(page, utterances[0])) == dictation(page, "s.samples")

        # Push-to-talk: hold ` to dictate, release to stop; another utterance is kept.
        before = dictation(page, "s.samples")
        page.keyboard.down("Backquote")
        wait_dictation(page, "s.state === 'listening'")
        wait_dictation(page, f"s.samples >= {before + RATE}")
        page.keyboard.up("Backquote")
        wait_dictation(page, "s.state === 'idle' && s.unacked === 0")
        assert len(stored_utterances(page, study_uid)) == 2

        # Signed out elsewhere: the socket is refused at the handshake (1006 in a browser);
        # the panel finds out over HTTP and says so instead of retrying for ever.
        page.context.clear_cookies()
        page.evaluate("() => window.readingViewer.dictation.drop()")
        wait_dictation(page, "s.connection === 'closed'", timeout=30000)
        assert "reload the page" in page.locator(".rr-dict-connection").text_content()
        assert page.locator('[data-action="dictation-toggle"]').is_disabled()
        shot(page, "dictation-signed-out")
        assert page.errors == []
    finally:
        context.close()


PROBE_SOCKET = """(uid) => new Promise((resolve) => {
  const url = `ws://${location.host}/ws/dictation/${uid}/?stream=${crypto.randomUUID()}`;
  const ws = new WebSocket(url);
  const seen = { opened: false, messages: [] };
  ws.onopen = () => { seen.opened = true; };
  ws.onmessage = (e) => { seen.messages.push(JSON.parse(e.data).type); ws.close(); };
  ws.onclose = (e) => resolve({ ...seen, code: e.code });
})"""


def test_outsider_dictation_socket_refused(
    browser, live_url, attending, outsider, transactional_db
):
    """The outsider's socket is refused at the handshake (the browser sees no ``ready``);
    the attending's, on the same study, opens: the probe can tell them apart."""
    study_uid, _, _ = make_study(n=2, size=32)
    seen = {}
    for user in (attending, outsider):
        context = browser.new_context()
        try:
            context.add_cookies([session_cookie_for(user, live_url)])
            page = context.new_page()
            page.goto(f"{live_url}/")
            seen[user.username] = page.evaluate(PROBE_SOCKET, study_uid)
            listing = page.request.get(f"{live_url}/api/dictation/utterances/?study={study_uid}")
            seen[user.username]["listing"] = listing.status
        finally:
            context.close()
    assert seen[attending.username]["opened"] and seen[attending.username]["messages"] == ["ready"]
    assert seen[attending.username]["listing"] == 200
    refused = seen[outsider.username]
    # Channels refuses before accepting: the browser gets 1006, not the consumer's 4403.
    assert not refused["opened"] and refused["messages"] == [] and refused["code"] != 1000
    assert refused["listing"] in (403, 404)


def test_final_ops_become_report_edits_in_order():
    """A chest-CT final as MedASR writes it (markers, a section header, a spoken command, an
    unknown marker) through the server's op parser, then the viewer's ``reportActions``."""
    from inference.commands import capitalise, parse_words

    node = shutil.which("node")
    assert node is not None, "node is needed (it builds the viewer too)"
    text = (
        "[FINDINGS] no acute cardiopulmonary process {period} {new paragraph} heart size "
        "{open quote}normal{close quote} {colon} next field {blorp} [IMPRESSION] clear lungs {period}"
    )
    words = text.split(" ")
    ops, _ = capitalise(parse_words(words))
    final = {"type": "final", "stream": "s", "utterance": "u", "segment": 0, "n": 1}
    final["ops"] = [op.as_dict() for op in ops]
    module = ROOT / "frontend" / "src" / "dictation" / "report_ops.js"
    script = (
        f"import({json.dumps(module.as_uri())}).then((m) => "
        f"console.log(JSON.stringify(m.reportActions({json.dumps(final)}))))"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    actions = [
        (kind, {k: v for k, v in d.items() if k != "meta"}, d["meta"])
        for kind, d in json.loads(out.stdout)
    ]
    inserts = [
        (d["text"], meta["join"], meta.get("marker", False))
        for kind, d, meta in actions
        if kind == "report-insert"
    ]
    commands = [(d["op"], d.get("name")) for kind, d, _ in actions if kind == "report-command"]
    assert [kind for kind, _, _ in actions] == [
        "report-command",
        "report-insert",
        "report-command",
        "report-insert",
        "report-command",
        "report-insert",
    ]
    assert commands == [("section", "FINDINGS"), ("next_field", None), ("section", "IMPRESSION")]
    assert inserts == [
        ('No acute cardiopulmonary process.\n\nHeart size "normal":', "space", False),
        ("{blorp}", "space", True),
        ("Clear lungs.", "space", False),
    ]
    assert all(d["source"] == "dictation" for _, d, _ in actions)
    assert all(meta["utterance"] == "u" and meta["stream"] == "s" for _, _, meta in actions)
