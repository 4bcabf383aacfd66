"""An AI analysis requested in a live session, run by a real Huey worker process.

Both participants see the job's progress, the streamed text and the findings; the
attending accepts one finding and rejects another, and the resident sees the
decisions. The server relays the worker's events (``reading.realtime``). The model
is a tiny random-weight MedGemma: assertions are about the pipeline, never words.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from reading.reading_sessions import services as session_services
from tests.ai.conftest import _seed, tiny_medgemma  # noqa: F401 - the model fixture
from tests.browser.conftest import (
    ARTIFACTS,
    ROOT,
    _server_env,
    session_cookie_for,
    start_server,
    stop_server,
)
from tests.browser.offloop import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE = "() => window.readingSession && window.readingSession.state().connection === 'live'"
RECORD = """() => {
  window.__ai = [];
  window.readingViewer.on('session-event', (e) => {
    if (e.type.startsWith('ai.')) window.__ai.push({ type: e.type, text: e.payload.text || '' });
  });
}"""
TOKENS = {"max_new_tokens": 160, "min_new_tokens": 160}


@pytest.fixture
def ai_stack(tiny_medgemma, transactional_db):  # noqa: F811 - the imported fixture
    """Daphne with the queue not inline, and one ``run_huey`` worker beside it."""
    env = {
        **_server_env(),
        "DJANGO_SETTINGS_MODULE": "tests.ai.worker_settings",
        "MEDGEMMA_MODEL": str(tiny_medgemma),
        "INFERENCE_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    server, url = start_server(env)
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "ai-browser-worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    yield url
    worker.terminate()
    worker.wait(timeout=15)
    stop_server(server)


def _until(page, expression, arg=None, timeout=20.0):
    """Poll a JS function until truthy (``wait_for_function`` evaluates strings, which the
    page's Content-Security-Policy forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def open_viewer(browser, url, user, path, *, ready_timeout=30.0, wait_for=()):
    """A new context of ``user`` on the viewer at ``path`` of the server ``url``, once the
    viewer is ready, each of ``wait_for`` holds and the AI panel is installed."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies([session_cookie_for(user, url)])
    page = context.new_page()
    page.set_default_timeout(20000)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(url + path)
    _until(
        page,
        "() => window.readingViewer && window.readingViewer.state().ready",
        timeout=ready_timeout,
    )
    for expression in wait_for:
        _until(page, expression)
    _until(page, "() => window.readingViewer.ai")
    return page


def _open(browser, url, user, path):
    page = open_viewer(browser, url, user, path, wait_for=(LIVE,))
    page.evaluate(RECORD)
    return page


def _jobs_done(page, count):
    _until(
        page,
        """(n) => { const s = window.readingViewer.ai.state();
            return s.jobs.length >= n && s.jobs.every((j) => ['done', 'failed'].includes(j.status)); }""",
        count,
        timeout=120,
    )


def test_ai_read_in_a_live_session(browser, ai_stack, attending, resident, shot):
    cr = in_thread(_seed, ("Chest radiograph",))["Chest radiograph PA"]
    session = in_thread(
        session_services.create_session, study=cr, host=attending, invite=[resident.username]
    )
    path = f"/viewer/{cr.study_instance_uid}/?session={session.pk}"
    host = _open(browser, ai_stack, attending, path)
    guest = _open(browser, ai_stack, resident, path)
    host.locator(".vw-dock-tab[data-panel=ai]").click()
    guest.locator(".vw-dock-tab[data-panel=ai]").click()

    # The button (and its K shortcut) read the series in view with the chosen task.
    host.locator(".ai-task").select_option("findings")
    host.locator(".ai-read").click()
    host.wait_for_selector(".ai-job")
    guest.wait_for_selector(".ai-job")  # the resident sees the queued job at once
    _jobs_done(host, 1)
    # Two more of a fixed length, so there are findings to decide on.
    series = host.evaluate(
        """(params) => window.readingViewer.ai.data.requestAnalysis('findings',
             window.readingViewer.state().viewports[0].series, '', params)
           .then((j) => j.series_instance_uid)""",
        TOKENS,
    )
    assert series == cr.series.get().series_instance_uid
    host.keyboard.press("k")  # the shortcut: one more read of the series in view
    _jobs_done(host, 3)
    _jobs_done(guest, 3)
    shot(host, "ai-session-host-done")

    for page in (host, guest):
        seen = page.evaluate("window.__ai")
        types = {e["type"] for e in seen}
        assert {"ai.job.progress", "ai.job.stream", "ai.finding", "ai.job.done"} <= types, types
        assert any(e["type"] == "ai.job.stream" and e["text"] for e in seen), "streamed text"
        assert page.locator(".ai-random").count() >= 1  # RANDOM WEIGHTS wherever it shows
        assert not page.errors, page.errors

    findings = host.locator(".ai-finding")
    assert findings.count() >= 2
    first = findings.nth(0).get_attribute("data-annotation")
    second = findings.nth(1).get_attribute("data-annotation")
    host.locator(f".ai-finding[data-annotation='{first}'] .ai-accept").click()
    host.locator(f".ai-finding[data-annotation='{second}'] .ai-reject").click()
    guest.wait_for_selector(f".ai-finding[data-annotation='{first}'][data-state=accepted]")
    guest.wait_for_selector(f".ai-finding[data-annotation='{second}'][data-state=rejected]")
    assert (
        "by Att" in guest.locator(f".ai-finding[data-annotation='{first}'] .ai-review").inner_text()
    )

    # An accepted finding goes to the report at the cursor, marked as coming from AI.
    host.evaluate(
        "() => { window.__insert = []; "
        "window.readingViewer.on('report-insert', (e) => window.__insert.push(e)); }"
    )
    host.locator(f".ai-finding[data-annotation='{first}'] .ai-insert").click()
    _until(host, "() => window.__insert.length")
    inserted = host.evaluate("window.__insert")
    assert inserted[0]["source"] == "ai" and inserted[0]["meta"]["annotation"] == first
    shot(guest, "ai-session-guest-reviewed")
