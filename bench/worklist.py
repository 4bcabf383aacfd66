"""Worklist query latency at 100,000 studies, on SQLite and on PostgreSQL.

    python bench/worklist.py                   # both databases, 100,000 studies
    python bench/worklist.py --db sqlite --studies 20000
    python bench/worklist.py --db postgres --pg postgresql://postgres@127.0.0.1:5432/postgres

Each database is a scratch one (a temporary SQLite file; a PostgreSQL database
``reading_bench_worklist`` created and dropped). The fill uses bulk_create. Each
query is a whole worklist page as the API serves it: COUNT + page + row
serialisation, through ``reading.worklist.queries``. Prints p50/p95 per query
and the ratio of p95 to the 100 ms target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 100.0
PG_DB = "reading_bench_worklist"

QUERIES = [
    ("default (STAT first, newest)", ""),
    ("unread", "unread=1"),
    ("CT, unread", "modality=CT&unread=1"),
    ("STAT + urgent", "priority=stat,urgent"),
    ("in progress", "status=in_progress"),
    ("assigned to me", "mine=1"),
    ("search name", "q=garcia"),
    ("search accession", "q=acc0012345"),
    ("search MRN", "q=mrn004242"),
    ("last 7 days, newest", "date_from={d7}&sort=-date"),
    ("sort by patient", "sort=patient"),
    ("sort by accession desc", "sort=-accession"),
    ("MR brain, sort by date", "modality=MR&body_part=BRAIN&sort=date"),
    ("page 40", "page=40"),
]

SURNAMES = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Patel",
    "Kim",
    "Muller",
    "Rossi",
    "Cohen",
    "Silva",
    "Tanaka",
    "Okafor",
    "Novak",
]
GIVEN = [
    "Ann",
    "Ben",
    "Cara",
    "Dan",
    "Eve",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jon",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Omar",
    "Pia",
]
MODALITIES = [("CT", 35), ("MR", 20), ("CR", 18), ("DX", 10), ("US", 10), ("MG", 4), ("CT\\PT", 3)]
BODY_PARTS = ["CHEST", "HEAD", "BRAIN", "ABDOMEN", "PELVIS", "SPINE", "KNEE", "BREAST"]


def weighted(rng, pairs):
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def fill(n_studies: int) -> dict:
    from django.db import connection

    from reading.accounts.models import User
    from reading.studies.models import Patient, Study
    from reading.worklist.models import PRIORITY_RANK, Priority, ReadingItem, ReadingStatus
    from reading.worklist.services import item_defaults

    rng = random.Random(42)
    t0 = time.perf_counter()
    readers = User.objects.bulk_create(
        [
            User(username=f"reader{i}", role="attending" if i < 4 else "resident", password="!")
            for i in range(12)
        ]
    )
    n_patients = max(1, n_studies // 3)
    patients = [
        Patient(
            patient_id=f"MRN{i:06d}",
            patient_name=f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN)}",
            patient_sex=rng.choice("FM"),
            patient_birth_date=date(1930, 1, 1) + timedelta(days=rng.randrange(90 * 365)),
        )
        for i in range(n_patients)
    ]
    Patient.objects.bulk_create(patients, batch_size=5000)
    patient_ids = list(Patient.objects.values_list("pk", flat=True))
    today = date(2026, 11, 23)
    batch = 5000
    for start in range(0, n_studies, batch):
        studies, items = [], []
        for i in range(start, min(n_studies, start + batch)):
            age_days = int(rng.expovariate(1 / 120)) % 730
            d = today - timedelta(days=age_days)
            t = datetime.min.time().replace(hour=rng.randrange(24), minute=rng.randrange(60))
            studies.append(
                Study(
                    study_instance_uid=f"1.2.826.0.1.3680043.10.99.{i}",
                    patient_id=rng.choice(patient_ids),
                    accession_number=f"ACC{i:07d}",
                    study_date=d,
                    study_time=t,
                    study_description="STUDY DESCRIPTION",
                    modalities_in_study=weighted(rng, MODALITIES),
                    body_part_examined=rng.choice(BODY_PARTS),
                    number_of_study_related_series=rng.randint(1, 8),
                    number_of_study_related_instances=rng.randint(1, 900),
                )
            )
        Study.objects.bulk_create(studies, batch_size=batch)
        created = Study.objects.filter(
            study_instance_uid__in=[s.study_instance_uid for s in studies]
        ).select_related("patient")
        for s in created:
            age_days = (today - s.study_date).days
            if age_days > 3:
                status = rng.choices(["final", "addended", "preliminary"], [90, 6, 4])[0]
            else:
                status = rng.choices(
                    ["unread", "in_progress", "preliminary", "final"], [60, 10, 10, 20]
                )[0]
            priority = weighted(rng, [("stat", 5), ("urgent", 15), ("routine", 80)])
            claimed = rng.choice(readers) if status == ReadingStatus.IN_PROGRESS else None
            items.append(
                ReadingItem(
                    study=s,
                    priority=priority,
                    priority_rank=PRIORITY_RANK[Priority(priority)],
                    reading_status=status,
                    claimed_by=claimed,
                    assigned_to=rng.choice(readers) if rng.random() < 0.2 else None,
                    **item_defaults(s),  # the same copies the ingest path makes
                )
            )
        ReadingItem.objects.bulk_create(items, batch_size=batch)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {"fill_s": round(time.perf_counter() - t0, 1), "reader": readers[0].pk}


def measure(reader_id: int, reps: int) -> list[dict]:
    from django.db import connection, reset_queries
    from django.http import QueryDict

    from reading.accounts.models import User
    from reading.worklist import queries
    from reading.worklist.serializers import WorklistRowSerializer

    user = User.objects.get(pk=reader_id)
    d7 = (date(2026, 11, 23) - timedelta(days=7)).isoformat()
    out = []
    for label, query in QUERIES:
        params = QueryDict(query.format(d7=d7))
        times = []
        for i in range(reps + 3):
            reset_queries()
            t = time.perf_counter()
            f = queries.WorklistFilter.from_params(params)
            page = queries.worklist_page(user, f)
            WorklistRowSerializer(page.items, many=True).data  # noqa: B018
            ms = (time.perf_counter() - t) * 1000
            if i >= 3:  # warm-up
                times.append(ms)
        times.sort()
        out.append(
            {
                "query": label,
                "params": query.format(d7=d7),
                "count": page.count,
                "rows": len(page.items),
                "sql": len(connection.queries),
                "p50": round(statistics.median(times), 1),
                "p95": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            }
        )
    return out


def child(args) -> None:
    """Runs inside the environment of one database: migrate, fill, measure, print JSON."""
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = True  # count SQL queries
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    info = fill(args.studies)
    results = measure(info["reader"], args.reps)
    from django.db import connection

    print(json.dumps({"vendor": connection.vendor, "fill_s": info["fill_s"], "results": results}))


def run_backend(name: str, args) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "reading.settings", "LOG_LEVEL": "WARNING"}
    tmp = tempfile.mkdtemp(prefix="wl-bench-")
    env["DATA_DIR"] = tmp
    env.pop("REDIS_URL", None)
    if name == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(Path(tmp) / "bench.sqlite3")
    else:
        import psycopg

        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        base = args.pg.rsplit("/", 1)[0]
        env["DATABASE_URL"] = f"{base}/{PG_DB}"
    try:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--studies",
                str(args.studies),
                "--reps",
                str(args.reps),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{name} run failed:\n{proc.stderr[-4000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        if name == "postgres":
            import psycopg

            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        child(args)
        return
    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for name in backends:
        report = run_backend(name, args)
        print(
            f"\n{report['vendor']}: {args.studies:,} studies (fill {report['fill_s']} s), "
            f"{args.reps} runs per query, page of 50 incl. COUNT and serialisation"
        )
        print(
            f"{'query':32} {'matches':>8} {'SQL':>4} {'p50 ms':>8} {'p95 ms':>8} {'p95/target':>10}"
        )
        worst = 0.0
        for r in report["results"]:
            worst = max(worst, r["p95"])
            print(
                f"{r['query']:32} {r['count']:>8} {r['sql']:>4} {r['p50']:>8} {r['p95']:>8} "
                f"{r['p95'] / TARGET_MS:>10.2f}"
            )
        print(f"worst p95 {worst} ms = {worst / TARGET_MS:.2f} x the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
