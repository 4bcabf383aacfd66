"""CPU per request of the fast-path reads, in process: ``/rendered`` and a QIDO-RS study search.

Calls ``fastread.answer_read`` (the view through the reads fast path, token
lookup, access check, audit) for every instance of a built CT, on one thread,
and prints the CPU time per call; ``--profile`` adds cProfile's top entries.
``--cold`` empties the per-process caches (rendered images, file headers, grey
tables) before each pass, as round 1 of ``bench/dicomweb.py`` sees them.

    python bench/read_profile.py --slices 200 --cold [--profile]

The scratch database and files stay under ``--data`` (built once).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--data", default="/tmp/reading-read-profile")
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("which", nargs="*", default=["rendered", "qido"])
    args = parser.parse_args()
    ready = Path(args.data) / ".ready"
    os.environ.update(DJANGO_SETTINGS_MODULE="reading.settings", DATA_DIR=args.data)
    os.environ["LOG_LEVEL"] = "WARNING"
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_DIR", "SQLITE_PATH", "DICOMWEB_ROOT_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.conf import settings

    settings.DICOMWEB_FAST_READS = True
    if not ready.exists():
        import benchct
        from django.core.management import call_command

        from reading.accounts.models import User
        from reading.accounts.services import create_api_token
        from reading.studies.services import ingest_instance

        Path(args.data).mkdir(parents=True, exist_ok=True)
        call_command("migrate", "--noinput", verbosity=0)
        user = User.objects.create_user("bench", password="bench-password", role="attending")
        key = create_api_token(user).key
        for raw in benchct.build_ct(args.slices):
            assert ingest_instance(raw).ok
        ready.write_text(key)
    key = ready.read_text()

    from reading.studies.dicomweb import renderpixels, rendervoi
    from reading.studies.dicomweb.fastread import answer_read
    from reading.studies.dicomweb.rendercache import rendered_cache
    from reading.studies.models import Instance
    from tests.studies.asgi_client import http_scope

    def scope(path: str, accept: str) -> dict:
        headers = {"Host": "127.0.0.1:8000", "Accept": accept, "Authorization": f"Bearer {key}"}
        return http_scope(path, headers, server=("127.0.0.1", 8000))

    instances = list(Instance.objects.select_related("series__study__patient"))
    rendered = [
        scope(
            f"/dicomweb/studies/{i.series.study.study_instance_uid}/series/"
            f"{i.series.series_instance_uid}/instances/{i.sop_instance_uid}/rendered",
            "image/jpeg",
        )
        for i in instances
    ]
    patient_id = instances[0].series.study.patient.patient_id
    qido = scope(f"/dicomweb/studies?PatientID={patient_id}", "application/dicom+json")

    def run(scopes) -> None:
        rendered_cache.clear()
        if args.cold:
            renderpixels._read_header.cache_clear()
            rendervoi._grey_luts.clear()
        for item in scopes:
            assert answer_read(item) is not None, "Django answered: not a fast-path success"

    for name in args.which:
        scopes = rendered if name == "rendered" else [qido] * len(rendered)
        run(scopes)  # connections, compiled queries
        start = time.process_time()
        run(scopes)
        cpu = time.process_time() - start
        print(f"{name}: {cpu / len(scopes) * 1000:.3f} ms CPU per call ({len(scopes)} calls)")
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(run, scopes)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
