"""Many simulated readers against a running app: embedded default, scale-out on 1 and 2 Daphnes.

    python bench/load.py                                  # 24 users, 40 s per configuration
    python bench/load.py --users 60 --seconds 60 --configs scaleout-1,scaleout-2

Configurations (each against a fresh database):

- ``embedded``: SQLite + the in-memory channel layer, one Daphne (the default install);
- ``scaleout-1``: PostgreSQL (``--pg``, database ``reading_bench_load``, dropped and
  created) + Redis (``--redis``, flushed), one Daphne;
- ``scaleout-2``: the same with two Daphnes on two ports; every request and socket goes
  to the next server in turn (round robin, as nginx's default upstream does).

Each user logs in once (the login form, a real password hash; all users first, timed
apart from the steady state), then repeats until the time is up: the worklist page and the worklist API, a study's metadata and three
frames (WADO-RS), a session join over WebSocket (state received) with a chat message
and an annotation (each until its ack), and a report draft save over the report's Yjs
socket (an update, then a sync request whose answer means the update is stored). Prints
ops/s and p50/p99 per operation for each configuration side by side, the 2-Daphne /
1-Daphne ratios, the Daphnes' CPU per operation and the load average.

The clients are one asyncio process on the same cores as the servers, PostgreSQL and
Redis: their cost is inside the figures (a 2-core machine cannot show a second
Daphne's gain the way a second machine would).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load_reader import PASSWORD, drive  # noqa: E402

from reading.devserver import free_port, start_daphne, stop  # noqa: E402

PG_DB = "reading_bench_load"
OPS = (
    "login",
    "worklist page",
    "worklist API",
    "study metadata",
    "frame",
    "session join",
    "chat (ack)",
    "annotation (ack)",
    "report save",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


# -- the data (a child process per configuration, with that configuration's env) ---------


def prepare(out: Path, users: int, studies: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from reading.accounts.models import User
    from reading.reading_sessions.services import create_session
    from reading.reports.services import get_or_create_report
    from reading.studies.models import Study
    from reading.studies.services import ingest_instance
    from tests.dicom_factory import make_ct_series, to_bytes

    call_command("migrate", "--noinput", verbosity=0)
    hashed = make_password(PASSWORD)  # one hash for all: 40 hashes would only slow the setup
    people = [
        User.objects.create(
            username=f"load{i:03d}",
            role="attending" if i % 3 == 0 else "resident",
            password=hashed,
        )
        for i in range(users)
    ]
    rows = []
    for s in range(studies):
        datasets = make_ct_series(3, rows=128, columns=128)
        for ds in datasets:
            assert ingest_instance(to_bytes(ds)).ok
        study = Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)
        host = people[(s * 3) % users]
        session = create_session(study=study, host=host, title=f"load {s}")
        report, _ = get_or_create_report(host, study.study_instance_uid, None)
        rows.append(
            {
                "uid": str(study.study_instance_uid),
                "series": str(datasets[0].SeriesInstanceUID),
                "sops": [str(ds.SOPInstanceUID) for ds in datasets],
                "session": str(session.pk),
                "report": str(report.pk),
            }
        )
    out.write_text(json.dumps({"users": [u.username for u in people], "studies": rows}))


def fresh_env(config: str, args, data_dir: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reading.settings",
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_DIR", "SQLITE_PATH", "CHANNEL_LAYER"):
        env.pop(name, None)
    if config == "embedded":
        return env
    import psycopg
    import redis

    with psycopg.connect(args.pg.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    redis.Redis.from_url(args.redis).flushdb()
    env["DATABASE_URL"] = args.pg.rsplit("/", 1)[0] + "/" + PG_DB
    env["REDIS_URL"] = args.redis
    return env


def run_config(config: str, args) -> dict:
    import psutil

    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-load-{config}-"))
    env = fresh_env(config, args, data_dir)
    seed = data_dir / "seed.json"
    subprocess.run(
        [sys.executable, __file__, "--prepare", str(seed), "--users", str(args.users)]
        + ["--studies", str(args.studies)],
        env=env,
        cwd=ROOT,
        check=True,
    )
    data = json.loads(seed.read_text())
    servers = []
    count = 2 if config == "scaleout-2" else 1
    try:
        for i in range(count):
            servers.append(
                start_daphne(env, port=free_port(), log_path=data_dir / f"daphne{i}.log")
            )
        bases = [f"http://127.0.0.1:{port}" for _, port in servers]
        procs = [psutil.Process(proc.pid) for proc, _ in servers]

        def cpu() -> float:
            return sum(p.cpu_times().user + p.cpu_times().system for p in procs)

        for base in bases:  # the first request imports the URLconf, views and templates
            urllib.request.urlopen(base + "/accounts/login/", timeout=60).read()
        load_before = os.getloadavg()[0]
        steady: list[float] = []
        samples, errors, elapsed = asyncio.run(
            drive(data["users"], data["studies"], bases, args.seconds, lambda: steady.append(cpu()))
        )
        server_cpu = cpu() - steady[0]
        load_after = os.getloadavg()[0]
    finally:
        for proc, _ in servers:
            stop(proc)
    total = sum(len(v) for op, v in samples.items() if op != "login")
    return {
        "samples": samples,
        "errors": errors,
        "ops_per_s": total / elapsed,
        "ops": total,
        "server_cpu_ms_per_op": server_cpu * 1000 / max(total, 1),
        "load": (load_before, load_after),
        "daphnes": count,
    }


def report(results: dict, args) -> None:
    names = list(results)
    width = 22
    print(f"\n{args.users} users, {args.seconds:.0f} s each, {args.studies} studies")
    print("operation".ljust(18) + "".join(n.rjust(width) for n in names) + "   p50 / p99 ms (n)")
    for op in OPS:
        cells = []
        for name in names:
            values = results[name]["samples"].get(op, [])
            if values:
                cell = f"{statistics.median(values):.0f} / {percentile(values, 99):.0f} ({len(values)})"
            else:
                cell = "-"
            cells.append(cell.rjust(width))
        print(op.ljust(18) + "".join(cells))
    for label, key, fmt in (
        ("ops/s", "ops_per_s", "{:.1f}"),
        ("Daphne CPU/op ms", "server_cpu_ms_per_op", "{:.1f}"),
    ):
        print(label.ljust(18) + "".join(fmt.format(results[n][key]).rjust(width) for n in names))
    print(
        "load before/after".ljust(18)
        + "".join(
            f"{results[n]['load'][0]:.1f} / {results[n]['load'][1]:.1f}".rjust(width) for n in names
        )
    )
    errors = {n: {op: len(e) for op, e in results[n]["errors"].items()} for n in names}
    print("errors: " + json.dumps(errors))
    for name in names:
        for op, messages in results[name]["errors"].items():
            print(f"  {name} {op}: {messages[0]}")
    if "scaleout-1" in results and "scaleout-2" in results:
        one, two = results["scaleout-1"], results["scaleout-2"]
        print(f"2-Daphne / 1-Daphne: ops/s x{two['ops_per_s'] / one['ops_per_s']:.2f}", end="")
        ratios = []
        for op in OPS:
            a, b = one["samples"].get(op), two["samples"].get(op)
            if a and b:
                ratios.append(f"{op} p50 x{statistics.median(b) / statistics.median(a):.2f}")
        print("; " + ", ".join(ratios))
    summary = {
        n: {
            "ops_per_s": round(r["ops_per_s"], 2),
            "server_cpu_ms_per_op": round(r["server_cpu_ms_per_op"], 2),
            "load": [round(x, 2) for x in r["load"]],
            **{
                op: [round(statistics.median(v), 1), round(percentile(v, 99), 1), len(v)]
                for op, v in r["samples"].items()
            },
        }
        for n, r in results.items()
    }
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=24)
    parser.add_argument("--studies", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--configs", default="embedded,scaleout-1,scaleout-2")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--prepare", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare), args.users, args.studies)
        return
    results = {}
    for config in args.configs.split(","):
        print(f"{config}: running ({time.strftime('%H:%M:%S')})", flush=True)
        results[config] = run_config(config, args)
    report(results, args)


if __name__ == "__main__":
    main()
