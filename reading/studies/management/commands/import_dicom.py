"""``python manage.py import_dicom PATH...``: files, folders (recursive) and zips."""

from __future__ import annotations

import getpass
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reading.studies.batch import (
    BatchSummary,
    ingest_items,
    iter_file,
    record_store_events,
    walk_paths,
)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Command(BaseCommand):
    help = (
        "Import DICOM files, folders (recursively) and zip archives into the archive. "
        "Exits non-zero when any file failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="files, folders or zip archives")
        parser.add_argument(
            "--no-progress", action="store_true", help="no progress bar (e.g. in scripts)"
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        files = list(walk_paths(options["paths"]))
        summary = BatchSummary()
        show = not options["no_progress"] and options["verbosity"] > 0
        bar = tqdm(
            total=len(files),
            unit="file",
            disable=not show,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        with bar:
            for path, name in files:
                summary.extend(ingest_items(iter_file(path, name)))
                bar.update(1)
                counts = summary.counts
                bar.set_postfix(
                    stored=counts["stored"], dup=counts["duplicate"], failed=counts["failed"]
                )
        # No web user here: the audit names the command and the operating-system account.
        record_store_events(summary, detail=f"import_dicom:{_os_user()}")
        self._report(summary, time.monotonic() - started)
        failed = summary.counts["failed"]
        if failed:
            raise CommandError(f"{failed} file(s) failed", returncode=1)

    def _report(self, summary: BatchSummary, seconds: float) -> None:
        counts = summary.counts
        self.stdout.write(
            "Imported: {stored} stored, {duplicate} duplicate, {conflict} conflict, "
            "{failed} failed, {skipped} skipped".format(**counts)
            + f" in {seconds:.1f} s ({len(summary.results) / max(seconds, 1e-6):.0f} files/s)"
        )
        studies = summary.study_uids()
        if studies:
            self.stdout.write(f"Studies with new instances: {len(studies)}")
        if summary.conflicts:
            self.stdout.write(self.style.WARNING("Conflicts (the stored copy was kept):"))
            for result in summary.conflicts:
                self.stdout.write(f"  {result.name}: {result.sop_instance_uid}")
        if summary.failures:
            self.stdout.write(self.style.ERROR("Failed:"))
            for result in summary.failures:
                self.stdout.write(f"  {result.name}: {result.reason}")
