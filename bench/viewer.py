"""Viewer speed in headless Chromium: first image, whole demo CT loaded, scrolling rate.

    python bench/viewer.py                 # the 200-slice 512x512 demo chest CT
    python bench/viewer.py --slices 220 --rounds 3
    python bench/viewer.py --render gpu    # stacks through WebGL even when it is software
    python bench/viewer.py --disable-3d    # no WebGL at all: Cornerstone's CPU path everywhere

Builds the demo chest CT (reading.studies.demo, through ``ingest_instance``) in a
temporary DATA_DIR, starts Daphne on it, and opens ``/viewer/<study>/`` in Debian's
Chromium (headless) with a cold browser cache each round. It reads the viewer's own
timings (``performance.now()`` from navigation start):

* first image: the first slice rendered in the main viewport;
* full CT: every frame of the series fetched over WADO-RS and decoded.

Baselines, measured in the same browser against the same server in the same run:

* network floor: the same frames fetched with plain ``fetch()`` (6 at a time, the
  browser's HTTP/1.1 connection limit), bodies read, nothing decoded or drawn;
* display rate: ``requestAnimationFrame`` callbacks per second on that page.

Scrolling steps one slice per display frame through the loaded CT from a timer
(as wheel events and cine do; the wheel tool's code path) and counts the images
Cornerstone actually rendered. Aims:
first image < 1 s, full CT < 5 s, scrolling at the display rate (ratio ~1.0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reading.devserver import CHROMIUM, CHROMIUM_ARGS, start_daphne, stop  # noqa: E402

RAW_FETCH_JS = """
async ([base, accept]) => {
  const meta = await (await fetch(base + '/metadata', {headers: {Accept: 'application/dicom+json'}})).json();
  const urls = meta.map(m => `${base}/instances/${m['00080018'].Value[0]}/frames/1`);
  const t0 = performance.now();
  let bytes = 0, next = 0;  // one shared cursor: the workers take the next URL in turn
  async function worker() {
    while (next < urls.length) {
      const url = urls[next++];
      const r = await fetch(url, {headers: {Accept: accept}, cache: 'no-store'});
      const body = await r.arrayBuffer();
      if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
      bytes += body.byteLength;
    }
  }
  await Promise.all(Array.from({length: 6}, worker));
  return {ms: performance.now() - t0, bytes, frames: urls.length};
}
"""

LONGTASKS_JS = """
window.__rrLongTasks = {count: 0, ms: 0};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { window.__rrLongTasks.count++; window.__rrLongTasks.ms += e.duration; }
}).observe({type: 'longtask', buffered: true});
"""

RESOURCES_JS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const rows = [`document: response ${nav.responseEnd.toFixed(0)} ms, DOMContentLoaded ${nav.domContentLoadedEventEnd.toFixed(0)} ms`];
  for (const r of performance.getEntriesByType('resource')) {
    if (r.name.includes('/frames/') || r.name.includes('/pixeldata')) continue;
    rows.push(`${r.name.split('/').pop().slice(0, 40)}: ${r.startTime.toFixed(0)}-${r.responseEnd.toFixed(0)} ms, ${(r.encodedBodySize / 1024).toFixed(0)} KiB`);
  }
  return rows.join('\\n');
}
"""

SCROLL_JS = """
async (steps) => {
  const raf = () => new Promise(r => requestAnimationFrame(r));
  let t0 = performance.now();
  for (let i = 0; i < 120; i++) await raf();
  const displayFps = 120000 / (performance.now() - t0);
  const viewer = window.readingViewer;
  const vp = viewer.renderingEngine.getViewport('vp-0');
  const total = vp.getImageIds().length;
  await vp.setImageIdIndex(0);
  await raf(); await raf();
  let rendered = 0;
  const seen = new Set();
  const onRender = () => { rendered++; seen.add(vp.getCurrentImageIdIndex()); };
  vp.element.addEventListener('CORNERSTONE_IMAGE_RENDERED', onRender);
  // One slice per display frame, driven by a timer like wheel events or cine (a step
  // issued inside requestAnimationFrame would race Cornerstone's own render callback).
  const interval = 1000 / displayFps;
  t0 = performance.now();
  await new Promise((done) => {
    let i = 0;
    const timer = setInterval(() => {
      viewer.scroll((Math.floor(i / (total - 1)) % 2) ? -1 : 1);
      if (++i >= steps) { clearInterval(timer); done(); }
    }, interval);
  });
  await raf(); await raf();
  const seconds = (performance.now() - t0) / 1000;
  vp.element.removeEventListener('CORNERSTONE_IMAGE_RENDERED', onRender);
  return {displayFps, renderedFps: rendered / seconds, distinct: seen.size, steps, total};
}
"""


def setup_data(slices: int) -> tuple[str, str, object]:
    """Migrate a fresh database, create a reader, store the demo chest CT."""
    import django

    django.setup()
    from django.core.management import call_command

    from reading.accounts.models import User
    from reading.studies.demo import DemoScale, demo_studies
    from reading.studies.services import ingest_instance

    call_command("migrate", verbosity=0)
    from reading.studies.models import Series

    user = User.objects.filter(username="bench").first()
    series = Series.objects.filter(number_of_series_related_instances=slices).first()
    if user and series:
        print(f"reusing the stored {slices}-slice CT")
        return series.study.study_instance_uid, series.series_instance_uid, user
    user = user or User.objects.create_user("bench", password="bench-password", role="attending")
    scale = DemoScale() if slices == DemoScale().ct_slices else DemoScale(ct_slices=slices)
    study = demo_studies(scale)[0]
    t0 = time.perf_counter()
    result = None
    for i, instance in enumerate(study.instances):
        result = ingest_instance(instance.build(), name=instance.name)
        if not result.ok:
            raise SystemExit(f"ingest failed: {result.reason}")
        if (i + 1) % 50 == 0:
            print(f"  stored {i + 1}/{len(study.instances)}", flush=True)
    print(f"demo CT: {len(study.instances)} slices stored in {time.perf_counter() - t0:.1f} s")
    return result.study_instance_uid, result.series_instance_uid, user


def session_cookie(user, base_url: str) -> dict:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": base_url}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scroll-steps", type=int, default=400)
    parser.add_argument("--verbose", action="store_true", help="print resource timings")
    parser.add_argument("--screenshot", help="save a PNG of the loaded viewer here")
    parser.add_argument("--data-dir", help="keep (and on later runs reuse) the seeded data here")
    parser.add_argument(
        "--render",
        choices=["auto", "cpu", "gpu"],
        default="auto",
        help="stack rendering path (auto: CPU when WebGL is a software rasterizer)",
    )
    parser.add_argument("--disable-3d", action="store_true", help="force the CPU rendering path")
    parser.add_argument(
        "--viewer-query",
        default="",
        help="extra query for the viewer's URL, e.g. batch=1 (one WADO-RS request per frame)",
    )
    args = parser.parse_args()

    if not (ROOT / "static" / "viewer" / "viewer.js").exists():
        subprocess.run(["make", "--no-print-directory", "frontend"], cwd=ROOT, check=True)

    tmp = (
        Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="rr-bench-viewer-"))
    )
    tmp.mkdir(parents=True, exist_ok=True)
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
    study_uid, series_uid, user = setup_data(args.slices)

    server, port = start_daphne(os.environ.copy(), log_path=tmp / "daphne.log")
    try:
        run_browser(args, f"http://127.0.0.1:{port}", study_uid, series_uid, user)
    finally:
        stop(server)


def run_browser(args, base: str, study_uid: str, series_uid: str, user) -> None:
    from playwright.sync_api import sync_playwright

    cookie = session_cookie(user, base)
    launch_args = CHROMIUM_ARGS + (["--disable-3d-apis"] if args.disable_3d else [])
    firsts, fulls, floors, scrolls, warms = [], [], [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=launch_args)
        print(f"Chromium {browser.version}, {'CPU' if args.disable_3d else 'WebGL'} path")
        for round_no in range(1, args.rounds + 1):
            # Network floor in a cold context of its own.
            context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(base + "/healthz")
            floor = page.evaluate(
                RAW_FETCH_JS,
                [
                    f"/dicomweb/studies/{study_uid}/series/{series_uid}",
                    'multipart/related; type="application/octet-stream"; transfer-syntax=*',
                ],
            )
            context.close()

            context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
            context.add_cookies([cookie])
            context.add_init_script(LONGTASKS_JS)
            page = context.new_page()
            params = ([] if args.render == "auto" else [f"render={args.render}"]) + (
                [args.viewer_query] if args.viewer_query else []
            )
            query = f"?{'&'.join(params)}" if params else ""
            page.goto(f"{base}/viewer/{study_uid}/{query}")
            page.wait_for_function(
                f"window.readingViewer && window.readingViewer.timings['complete:{series_uid}']",
                timeout=180_000,
            )
            st = page.evaluate("window.readingViewer.state()")
            series = next(s for s in st["series"] if s["uid"] == series_uid)
            if series["failed"]:
                raise SystemExit(f"{series['failed']} frames failed to load")
            t = st["timings"]
            print(
                "  timeline (s): "
                + ", ".join(
                    f"{k.split(':')[0]} {v / 1000:.2f}"
                    for k, v in sorted(t.items(), key=lambda kv: kv[1])
                )
                + f"; stacks drawn on the {st['stackRendering'].upper()}"
            )
            first = t["firstImage"] / 1000
            full = st["timings"][f"complete:{series_uid}"] / 1000
            if args.verbose:
                print(page.evaluate(RESOURCES_JS))
                busy = page.evaluate("window.__rrLongTasks")
                stats = page.evaluate("(uid) => window.readingViewer.loadStats(uid)", series_uid)
                print(
                    f"  main thread: {busy['count']} long tasks, {busy['ms'] / 1000:.2f} s in them; "
                    f"per frame: fetch {stats['loadMs']:.0f} ms, decode {stats['decodeMs']:.0f} ms"
                )
            if args.screenshot and round_no == 1:
                page.screenshot(path=args.screenshot)
            scroll = page.evaluate(SCROLL_JS, args.scroll_steps)
            # Opening the viewer again in the same browser context: the bundle comes from the
            # HTTP and V8 code caches (frames as far as the server's cache headers allow).
            page.reload()
            page.wait_for_function(
                "window.readingViewer && window.readingViewer.timings.firstImage", timeout=60_000
            )
            warm = page.evaluate("window.readingViewer.timings.firstImage") / 1000
            context.close()
            warms.append(warm)
            firsts.append(first)
            fulls.append(full)
            floors.append(floor["ms"] / 1000)
            scrolls.append(scroll)
            print(
                f"round {round_no}: first image {first:.2f} s (warm cache {warm:.2f} s), full CT ({series['total']} frames, "
                f"{floor['bytes'] / 1e6:.0f} MB) {full:.2f} s; network floor {floor['ms'] / 1000:.2f} s; "
                f"scrolling {scroll['renderedFps']:.1f} images/s at display {scroll['displayFps']:.1f} "
                f"Hz ({scroll['distinct']} distinct slices)"
            )
        browser.close()

    first = statistics.median(firsts)
    full = statistics.median(fulls)
    floor = statistics.median(floors)
    fps = statistics.median(s["renderedFps"] for s in scrolls)
    display = statistics.median(s["displayFps"] for s in scrolls)
    print()
    print(
        f"first image    median {first:.2f} s   (aim < 1 s); with a warm cache "
        f"{statistics.median(warms):.2f} s"
    )
    print(
        f"full CT        median {full:.2f} s   (aim < 5 s); network floor {floor:.2f} s -> "
        f"{floor / full:.2f}x of the floor's speed"
    )
    print(
        f"scrolling      median {fps:.1f} images/s; display {display:.1f} Hz -> {fps / display:.2f}x "
        f"of display rate"
    )


if __name__ == "__main__":
    main()
