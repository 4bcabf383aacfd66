"""STOW-RS ingest side by side: the app at another commit, the app as checked out, Orthanc.

Each round builds a new CT (new UIDs) and stores it into the three servers one
after the other, in an order that rotates every round, so that the load of the
shared machine falls on all three alike; the medians and the ratios to Orthanc
of the same rounds are printed, with each server process' CPU time (user +
system) per instance, which the load of other work moves far less than the
wall-clock rates. The other commit runs from ``git archive``
under a temporary directory, with this checkout's virtual environment.

    python bench/stow_compare.py --before HEAD~1 --rounds 6 --slices 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import benchct  # noqa: E402
import orthanc_compare  # noqa: E402

from reading.devserver import free_port, start_daphne, stop  # noqa: E402


def checkout(commit: str, target: Path) -> Path:
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def app_server(name: str, root: Path, data: Path, procs: list) -> orthanc_compare.Server:
    env = benchct.django_env(data)
    env["PYTHONPATH"] = str(root)
    token = benchct.prepare(env)
    proc, port = start_daphne(env, cwd=root)
    procs.append(proc)
    benchct.wait_for(port, "/healthz")
    return orthanc_compare.Server(name, port, "/dicomweb", {"Authorization": f"Bearer {token}"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="HEAD~1", help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--batch", type=int, default=20, help="instances per request")
    args = parser.parse_args()
    procs: list = []
    with tempfile.TemporaryDirectory(prefix="bench-stow-") as tmp:
        tmp_path = Path(tmp)
        try:
            before = checkout(args.before, tmp_path / "before")
            servers = {
                "before": app_server("before", before, tmp_path / "data-before", procs),
                "after": app_server("after", ROOT, tmp_path / "data-after", procs),
            }
            http_port, dicom_port = free_port(), free_port()
            procs.append(orthanc_compare.start_orthanc(tmp_path, http_port, dicom_port))
            benchct.wait_for(http_port, "/system")
            servers["orthanc"] = orthanc_compare.Server("orthanc", http_port, "/dicom-web", {})
            warm = benchct.build_ct(args.batch, patient_id="STOW-WARM")
            for server in servers.values():
                orthanc_compare.stow(server, warm, args.batch)
            names = list(servers)
            pids = dict(zip(names, (proc.pid for proc in procs), strict=True))
            rates: dict[str, list[float]] = {name: [] for name in names}
            cpu: dict[str, list[float]] = {name: [] for name in names}
            for r in range(args.rounds):
                files = benchct.build_ct(args.slices, patient_id=f"STOW-{r}")
                for name in names[r % 3 :] + names[: r % 3]:
                    used = cpu_seconds(pids[name])
                    seconds = orthanc_compare.stow(servers[name], files, args.batch)
                    cpu[name].append((cpu_seconds(pids[name]) - used) * 1000 / args.slices)
                    rates[name].append(args.slices / seconds)
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(
                    f"round {r}: "
                    + ", ".join(f"{n} {rates[n][-1]:.1f}" for n in names)
                    + " instances/s; CPU "
                    + ", ".join(f"{n} {cpu[n][-1]:.2f}" for n in names)
                    + f" ms/instance (load {load})",
                    flush=True,
                )
        finally:
            for proc in procs:
                stop(proc)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print("median instances/s: " + ", ".join(f"{n} {v:.1f}" for n, v in median.items()))
    print(
        "median server CPU ms/instance: "
        + ", ".join(f"{n} {statistics.median(v):.2f}" for n, v in cpu.items())
    )
    print(
        f"before / Orthanc {median['before'] / median['orthanc']:.2f}x, "
        f"after / Orthanc {median['after'] / median['orthanc']:.2f}x, "
        f"after / before {median['after'] / median['before']:.2f}x"
    )


if __name__ == "__main__":
    main()
