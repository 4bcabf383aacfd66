"""``python manage.py check_storage [--repair] [--hashes] [--drop-missing]``

The archive keeps each instance twice over: its file under ``STORAGE_DIR``
(exactly as received) and its ``Instance`` row. Ingest writes the file first and
removes it when the row cannot be committed, so they agree, unless a process died
in between (an orphan file), someone deleted files by hand or a shared volume
lost them (a row without its file), or a write was cut short (a stale
``.incoming-*.part`` temporary file). This command finds all three and, asked to:

- ``--repair``: adopts each orphan file through ``ingest_instance`` (the row that
  a crash kept from being committed is written now; the file is what was
  received, so nothing is invented); an orphan that cannot be adopted (not
  DICOM, or another copy of an instance stored with other content) is moved to
  ``STORAGE_DIR/.orphans/`` for a person to look at, never deleted. Stale
  temporary files are deleted.
- ``--drop-missing``: deletes the rows whose file is gone (and their
  annotations), updating the series and study counts. Only after restoring what
  a backup has: a missing file is usually a volume that is not mounted.

Prints one line per finding (SOP Instance UID and path, no patient data) and a
summary; exits 1 when problems remain, so monitoring can run it.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F

from reading.studies import storage
from reading.studies.models import Instance, Series, Study
from reading.studies.services import IngestStatus, ingest_instance

QUARANTINE = ".orphans"
TEMP_PREFIX = ".incoming-"
# A temporary file this old belongs to no write still in progress.
STALE_TEMP_S = 60 * 60


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_files(root: Path) -> tuple[set[str], list[str]]:
    """(stored file paths relative to ``root``, temporary files) outside the quarantine."""
    files, temps = set(), []
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d != QUARANTINE]
        for name in filenames:
            rel = str((Path(dirpath) / name).relative_to(root))
            if name.startswith(TEMP_PREFIX):
                temps.append(rel)
            elif not name.startswith("."):
                files.add(rel)
    return files, temps


def _drop_rows(instance_ids: list[int]) -> int:
    """Delete instance rows and keep the series/study counts true (PS3.4 C.6.1.1.4)."""
    dropped = 0
    for instance in Instance.objects.filter(pk__in=instance_ids).select_related("series"):
        with transaction.atomic():
            series = Series.objects.select_for_update().get(pk=instance.series_id)
            instance.delete()
            Series.objects.filter(pk=series.pk).update(
                number_of_series_related_instances=F("number_of_series_related_instances") - 1
            )
            Study.objects.filter(pk=series.study_id).update(
                number_of_study_related_instances=F("number_of_study_related_instances") - 1
            )
        dropped += 1
    return dropped


class Command(BaseCommand):
    help = "Check that every stored DICOM file has its row and every row its file."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="adopt or quarantine orphans")
        parser.add_argument("--hashes", action="store_true", help="also verify SHA-256 sums")
        parser.add_argument(
            "--drop-missing", action="store_true", help="delete rows whose file is gone"
        )

    def handle(self, *args, **options):
        root = storage.storage_root()
        root.mkdir(parents=True, exist_ok=True)
        files, temps = scan_files(root)
        problems = 0

        missing, damaged = [], []
        rows = Instance.objects.values_list(
            "pk", "sop_instance_uid", "file_path", "file_size", "sha256"
        )
        for pk, sop_uid, relpath, size, sha in rows.iterator():
            files.discard(relpath)
            path = root / relpath
            try:
                actual = path.stat().st_size
            except FileNotFoundError:
                missing.append(pk)
                self._say("missing", sop_uid, relpath)
                continue
            if actual != size or (options["hashes"] and _sha256(path) != sha):
                damaged.append(pk)
                self._say("damaged", sop_uid, relpath)
        problems += len(damaged)
        if missing and options["drop_missing"]:
            self.stdout.write(f"dropped {_drop_rows(missing)} rows whose file was missing")
        else:
            problems += len(missing)

        now = time.time()
        stale = [t for t in temps if now - (root / t).stat().st_mtime > STALE_TEMP_S]
        for rel in stale:
            if options["repair"]:
                (root / rel).unlink(missing_ok=True)
                self._say("removed stale temporary file", "", rel)
            else:
                problems += 1
                self._say("stale temporary file", "", rel)

        adopted = quarantined = 0
        for rel in sorted(files):
            if not options["repair"]:
                problems += 1
                self._say("orphan file", "", rel)
                continue
            if self._adopt(root, rel):
                adopted += 1
            else:
                quarantined += 1

        self.stdout.write(
            f"checked {rows.count()} rows: {len(missing)} missing, {len(damaged)} damaged; "
            f"{len(files)} orphan files ({adopted} adopted, {quarantined} quarantined); "
            f"{len(stale)} stale temporary files"
        )
        if problems:
            self.stdout.write(f"{problems} problems remain")
            raise SystemExit(1)
        self.stdout.write("storage and database agree")

    def _adopt(self, root: Path, rel: str) -> bool:
        """Store an orphan file through ingest; quarantine it when that cannot be done."""
        path = root / rel
        result = ingest_instance(path.read_bytes(), name=rel)
        row = Instance.objects.filter(sop_instance_uid=result.sop_instance_uid).first()
        same = row is not None and row.sha256 == _sha256(path)
        if result.status in (IngestStatus.STORED, IngestStatus.DUPLICATE) and same:
            if row.file_path != rel:
                path.unlink()  # the same bytes are now stored under the row's own path
            self._say("adopted", result.sop_instance_uid, row.file_path)
            return True
        target = root / QUARANTINE / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        self._say(f"quarantined ({result.status}: {result.reason})", "", rel)
        return False

    def _say(self, what: str, sop_uid: str, rel: str) -> None:
        self.stdout.write(f"{what}: {sop_uid + ' ' if sop_uid else ''}{rel}")
