"""Live session latency end to end in two headless browsers: host draws, guest sees it.

    python bench/session_latency.py                     # 20 annotations, 20 pages
    python bench/session_latency.py --annotations 40 --pages 40

Builds a small CT (48 slices of 256x256, ``reading.studies.demo``) in a temporary
DATA_DIR (the embedded default: SQLite and the in-memory channel layer), creates a host
(attending) and a guest (resident) and a session, starts Daphne and opens the viewer
with ``?session=<id>`` in two contexts of Debian's Chromium (headless). Times are
``performance.timeOrigin + performance.now()`` in each page (one machine, one clock):

* annotation: from the moment Cornerstone reports the host's length measurement
  complete (mouse up) to the moment the guest's viewer has it on its image
  (``viewer.applyAnnotation`` resolved), with the stages between them: the host's
  wait before the POST, the POST round trip, the event's arrival on the guest's
  socket, and the guest applying it;
* paging: from the presenter's ArrowDown keydown to the follower's viewport drawing
  that slice (Cornerstone's IMAGE_RENDERED on the follower at the presenter's index).

Drawn one at a time (the next starts after the guest has the last), so these are
quiet-path latencies. The aim (issue 12): annotation p95 < 150 ms on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.viewer import session_cookie  # noqa: E402
from reading.devserver import CHROMIUM, CHROMIUM_ARGS, start_daphne, stop  # noqa: E402

NOW = "(performance.timeOrigin + performance.now())"

# Guest: when each annotation.created reached the socket (before any parsing by the app).
GUEST_INIT = f"""
window.__rrWs = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {{
  constructor(...args) {{
    super(...args);
    this.addEventListener('message', (e) => {{
      if (typeof e.data === 'string' && e.data.includes('"annotation.created"')) {{
        try {{ window.__rrWs.push({{id: JSON.parse(e.data).payload.id, t: {NOW}}}); }} catch {{}}
      }}
    }});
  }}
}};
"""

# Host: the POSTs of new annotations, sent and answered.
HOST_INIT = f"""
window.__rrPosts = [];
const nativeFetch = window.fetch;
window.fetch = async (url, init) => {{
  const post = init && init.method === 'POST' && String(url).endsWith('/annotations/');
  const sent = {NOW};
  const response = await nativeFetch(url, init);
  if (post) window.__rrPosts.push({{sent, answered: {NOW}, status: response.status}});
  return response;
}};
"""

HOOK_HOST = f"""() => {{
  const sync = window.readingViewer.annotations;
  const original = sync._onCompleted.bind(sync);
  window.__rrCompleted = [];
  sync._onCompleted = (annotation) => {{ window.__rrCompleted.push({NOW}); return original(annotation); }};
  window.__rrKeys = [];
  window.addEventListener('keydown', (e) => {{ if (e.key === 'ArrowDown') window.__rrKeys.push({NOW}); }}, true);
}}"""

HOOK_GUEST = f"""() => {{
  const viewer = window.readingViewer;
  const original = viewer.applyAnnotation.bind(viewer);
  window.__rrApplied = [];
  viewer.applyAnnotation = async (record) => {{
    const result = await original(record);
    window.__rrApplied.push({{id: record.id, t: {NOW}}});
    return result;
  }};
  window.__rrRendered = [];
  const vp = viewer.renderingEngine.getViewport('vp-0');
  vp.element.addEventListener('CORNERSTONE_IMAGE_RENDERED', () =>
    window.__rrRendered.push({{index: vp.getCurrentImageIdIndex(), t: {NOW}}}));
}}"""

LIVE = "window.readingSession && window.readingSession.state().connection === 'live'"


def setup_data(slices: int):
    import django

    django.setup()
    from django.core.management import call_command

    from reading.accounts.models import User
    from reading.reading_sessions import services
    from reading.studies.demo import DemoScale, demo_studies
    from reading.studies.models import Study
    from reading.studies.services import ingest_instance

    call_command("migrate", verbosity=0)
    host = User.objects.create_user("host", password="bench-password", role="attending")
    host.display_name = "Host Reader"
    host.save()
    guest = User.objects.create_user("guest", password="bench-password", role="resident")
    study = demo_studies(DemoScale(ct_slices=slices, ct_size=256))[0]
    result = None
    for instance in study.instances:
        result = ingest_instance(instance.build(), name=instance.name)
        if not result.ok:
            raise SystemExit(f"ingest failed: {result.reason}")
    row = Study.objects.get(study_instance_uid=result.study_instance_uid)
    session = services.create_session(study=row, host=host, title="Latency bench")
    services.invite_users(session, by=host, usernames=[guest.username])
    return result.study_instance_uid, session.pk, host, guest


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    return (
        f"{name}: median {statistics.median(values):.0f} ms, p95 {pct(values, 0.95):.0f} ms, "
        f"max {max(values):.0f} ms (n={len(values)})"
    )


def open_viewer(browser, base, cookie, path, init_script):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.add_cookies([cookie])
    context.add_init_script(init_script)
    page = context.new_page()
    page.goto(base + path)
    page.wait_for_function(
        "window.readingViewer && window.readingViewer.state().ready", timeout=60_000
    )
    page.wait_for_function(LIVE, timeout=30_000)
    return page


def draw_length(page, x0: float, x1: float, y: float) -> None:
    box = page.locator(".vw-cell .vw-element").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y, steps=6)
    page.mouse.up()


def measure_annotations(host, guest, count: int) -> dict[str, list[float]]:
    host.keyboard.press("l")
    for _ in range(count):
        before = guest.evaluate("window.__rrApplied.length")
        # One per slice, so that the next starts on clear image (not on a text box).
        draw_length(host, 0.3, 0.6, 0.5)
        guest.wait_for_function(f"window.__rrApplied.length > {before}", timeout=30_000)
        host.wait_for_timeout(150)
        host.keyboard.press("ArrowUp")  # from the middle slice towards the first
        host.wait_for_timeout(150)
    completed = host.evaluate("window.__rrCompleted")
    posts = host.evaluate("window.__rrPosts")
    ws = guest.evaluate("window.__rrWs")
    applied = guest.evaluate("window.__rrApplied")
    n = min(len(completed), len(posts), len(ws), len(applied))
    stages: dict[str, list[float]] = {
        "end to end": [],
        "host waits before POST": [],
        "POST round trip": [],
        "POST sent -> guest socket": [],
        "guest socket -> applied": [],
    }
    for k in range(n):
        stages["end to end"].append(applied[k]["t"] - completed[k])
        stages["host waits before POST"].append(posts[k]["sent"] - completed[k])
        stages["POST round trip"].append(posts[k]["answered"] - posts[k]["sent"])
        stages["POST sent -> guest socket"].append(ws[k]["t"] - posts[k]["sent"])
        stages["guest socket -> applied"].append(applied[k]["t"] - ws[k]["t"])
    return stages


def measure_paging(host, guest, count: int) -> list[float]:
    host.keyboard.press("Escape")
    host.locator(".vw-cell .vw-element").first.hover()
    latencies = []
    for _ in range(count):
        keys_before = host.evaluate("window.__rrKeys.length")
        host.keyboard.press("ArrowDown")
        host.wait_for_function(f"window.__rrKeys.length > {keys_before}")
        target = host.evaluate(
            "window.readingViewer.renderingEngine.getViewport('vp-0').getCurrentImageIdIndex()"
        )
        t0 = host.evaluate("window.__rrKeys[window.__rrKeys.length - 1]")
        found = guest.wait_for_function(
            """([index, t0]) => window.__rrRendered.find((r) => r.index === index && r.t >= t0)""",
            arg=[target, t0],
            timeout=30_000,
        ).json_value()
        latencies.append(found["t"] - t0)
        host.wait_for_timeout(100)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=int, default=20)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--slices", type=int, default=48)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rr-bench-session-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "reading.settings",
            "DATA_DIR": str(tmp),
            "SQLITE_PATH": str(tmp / "bench.sqlite3"),
            "HUEY_SQLITE_PATH": str(tmp / "huey.sqlite3"),
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    study_uid, session_id, host_user, guest_user = setup_data(args.slices)
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    server, port = start_daphne(os.environ.copy(), log_path=tmp / "daphne.log")
    base = f"http://127.0.0.1:{port}"
    try:
        from playwright.sync_api import sync_playwright

        path = f"/viewer/{study_uid}/?session={session_id}"
        # Cookies before Playwright's event loop starts (Django refuses the ORM inside it).
        host_cookie = session_cookie(host_user, base)
        guest_cookie = session_cookie(guest_user, base)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            host = open_viewer(browser, base, host_cookie, path, HOST_INIT)
            guest = open_viewer(browser, base, guest_cookie, path, GUEST_INIT)
            host.wait_for_function(
                "window.readingSession.state().participants"
                ".filter((p) => p.state === 'active').length === 2"
            )
            host.evaluate(HOOK_HOST)
            guest.evaluate(HOOK_GUEST)
            time.sleep(0.5)
            stages = measure_annotations(host, guest, args.annotations)
            paging = measure_paging(host, guest, args.pages)
            browser.close()
    finally:
        stop(server)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("annotation, host's mouse up -> in the guest's viewer:")
    for name, values in stages.items():
        print("  " + summary(name, values))
    print(summary("paging, presenter's key -> follower's image drawn", paging))
    print("aim: annotation p95 < 150 ms on a quiet machine")


if __name__ == "__main__":
    main()
