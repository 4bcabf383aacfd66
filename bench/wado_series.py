"""WADO-RS whole series, run after run: how steady the app's MB/s is (and Orthanc's).

    python bench/wado_series.py --slices 200 --runs 20 [--orthanc]

Starts Daphne on a free port against a scratch DATA_DIR (the embedded default:
SQLite + files) under ``--data``, stores a built CT by STOW-RS once, then
fetches ``GET /dicomweb/studies/{study}/series/{series}`` with Accept
``multipart/related; type="application/dicom"`` ``--runs`` times over one
keep-alive connection (the client of ``bench/orthanc_compare.py``), printing
each run's MB/s, the time to the first byte and the server's resident memory.
With ``--orthanc`` a private Orthanc gets the same CT and the same runs,
interleaved with the app's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import benchct  # noqa: E402
import orthanc_compare  # noqa: E402

from reading.devserver import free_port, start_daphne, stop  # noqa: E402

ACCEPT = 'multipart/related; type="application/dicom"'
BUFFER = bytearray(1 << 20)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_ms(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far, in ms."""
    return orthanc_compare.cpu_ticks([pid]) * 1000 / os.sysconf("SC_CLK_TCK")


def one_run(server: orthanc_compare.Server, conn, path: str) -> tuple[float, float, float, int]:
    """(seconds, seconds to the first body byte, client CPU seconds, bytes) of one GET, the
    body read through a reused buffer as it arrives (``orthanc_compare.Server.get_size``)."""
    headers = {**server.headers, "Accept": ACCEPT}
    cpu = time.process_time()
    start = time.perf_counter()
    conn.request("GET", server.root + path, headers=headers)
    response = conn.getresponse()
    response.read(1)
    first = time.perf_counter() - start
    size, view = 1, memoryview(BUFFER)
    while count := response.readinto(view):
        size += count
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if response.status != 200:
        raise RuntimeError(f"{server.name}: {response.status}")
    return seconds, first, cpu, size


def series_path(server: orthanc_compare.Server) -> str:
    """The path of the one series stored on ``server`` (QIDO-RS)."""
    conn = server.connect()
    conn.request("GET", server.root + "/series", headers=server.headers)
    series = json.loads(conn.getresponse().read())
    if len(series) != 1:
        raise RuntimeError(f"expected one series on {server.name}, found {len(series)}")
    study, uid = (series[0][tag]["Value"][0] for tag in ("0020000D", "0020000E"))
    return f"/studies/{study}/series/{uid}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--data", default="/tmp/reading-wado-series")
    parser.add_argument("--orthanc", action="store_true")
    parser.add_argument(
        "--new-connection", action="store_true", help="a connection per run (orthanc_compare.fetch)"
    )
    parser.add_argument("--app", default="reading.asgi:application", help="ASGI application")
    parser.add_argument("--log", type=Path, help="Daphne's output to this file")
    args = parser.parse_args()

    data = Path(args.data)
    env = benchct.django_env(data / "data")
    ready = data / ".ready"
    fresh = not ready.exists()
    if fresh:
        data.mkdir(parents=True, exist_ok=True)
        ready.write_text(benchct.prepare(env))
    token = ready.read_text()
    files = benchct.build_ct(args.slices) if fresh or args.orthanc else []
    daphne, port = start_daphne(env, app=args.app, log_path=args.log)
    app = orthanc_compare.Server("app", port, "/dicomweb", {"Authorization": f"Bearer {token}"})
    servers = [app]
    pids = {"app": daphne.pid}
    orthanc = None
    with tempfile.TemporaryDirectory(prefix="bench-wado-series-") as tmp:
        try:
            benchct.wait_for(port, "/healthz")
            if fresh:
                orthanc_compare.stow(app, files)
            if args.orthanc:
                http_port = free_port()
                orthanc = orthanc_compare.start_orthanc(Path(tmp), http_port, free_port())
                benchct.wait_for(http_port, "/system")
                servers.append(orthanc_compare.Server("Orthanc", http_port, "/dicom-web", {}))
                pids["Orthanc"] = orthanc.pid
                orthanc_compare.stow(servers[1], files)
            paths = {s.name: series_path(s) for s in servers}
            conns = {s.name: s.connect() for s in servers}
            for server in servers:
                one_run(server, conns[server.name], paths[server.name])  # warm up
            results: dict[str, list[float]] = {s.name: [] for s in servers}
            for index in range(args.runs):
                line = [f"run {index + 1:3d}"]
                for server in servers:
                    if args.new_connection:
                        conns[server.name] = server.connect()
                    served = cpu_ms(pids[server.name])
                    seconds, first, cpu, size = one_run(
                        server, conns[server.name], paths[server.name]
                    )
                    served = cpu_ms(pids[server.name]) - served
                    rate = size / 1e6 / seconds
                    results[server.name].append(rate)
                    line.append(
                        f"{server.name} {rate:6.1f} MB/s (first byte {first * 1000:4.1f} ms, "
                        f"client CPU {cpu * 1000:3.0f} ms, server CPU {served:3.0f} ms)"
                    )
                line.append(f"app RSS {rss_mb(daphne.pid):6.0f} MB")
                print("  ".join(line), flush=True)
            print(f"{size / 1e6:.1f} MB per series")
            for name, rates in results.items():
                # What orthanc_compare's "best of --rounds 2" would have reported at worst.
                pairs = [max(rates[i : i + 2]) for i in range(0, len(rates) - 1, 2)]
                print(
                    f"{name:8s} min {min(rates):6.1f}  median {statistics.median(rates):6.1f}  "
                    f"max {max(rates):6.1f} MB/s; best of 2, worst pair: {min(pairs):6.1f}"
                )
            print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        finally:
            stop(daphne)
            if orthanc is not None:
                stop(orthanc)


if __name__ == "__main__":
    main()
