"""``python manage.py dicom_listener``: a C-STORE SCP a scanner or PACS can push to."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reading import serving
from reading.studies.dimse import start_listener


class Command(BaseCommand):
    help = "DICOM listener: C-STORE into the archive, Q/R (C-FIND, C-MOVE, C-GET), C-ECHO."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=settings.DICOM_PORT, help="TCP port (DICOM_PORT)"
        )
        parser.add_argument(
            "--ae-title",
            default=settings.DICOM_AE_TITLE,
            help="this listener's AE title (DICOM_AE_TITLE)",
        )
        parser.add_argument(
            "--host", default=settings.DICOM_HOST, help="address to bind (DICOM_HOST)"
        )

    def handle(self, *args, **options):
        ae_title = options["ae_title"]
        if not 0 < len(ae_title.strip()) <= 16:
            raise CommandError("An AE title is 1 to 16 characters (PS3.5 6.2, AE).")
        logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        serving.keep_freed_memory()  # instances arrive in blocks of the same sizes
        self.stdout.write(
            f"DICOM SCP {ae_title} (C-STORE, Q/R, C-ECHO) listening on {options['host']}:{options['port']} "
            "(Ctrl-C stops it)"
        )
        try:
            start_listener(ae_title, options["port"], options["host"], block=True)
        except KeyboardInterrupt:
            self.stdout.write("Listener stopped.")
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {exc.strerror or exc}"
            ) from exc
