"""Write tiny random-weight MedASR and MedGemma models for tests and smoke runs."""

from pathlib import Path

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    # Reads files only: no need to import every URLconf and model check first.
    requires_system_checks = []
    help = (
        "Build tiny RANDOM-WEIGHT models with the same architectures as MedASR and MedGemma "
        "(their output is noise) and print the settings that use them."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default="models/tiny")

    def handle(self, *args, directory, **options):
        from inference.tiny import build_tiny_models

        target = Path(directory).expanduser().resolve()
        paths = build_tiny_models(target)
        self.stdout.write(f"Tiny random-weight models written to {target} (output is noise).")
        self.stdout.write("Use them with:")
        self.stdout.write(f"MEDASR_MODEL={paths['medasr']}")
        self.stdout.write(f"MEDGEMMA_MODEL={paths['medgemma']}")
