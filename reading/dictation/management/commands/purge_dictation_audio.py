"""Delete dictation audio older than DICTATION_AUDIO_RETENTION_DAYS (transcripts stay)."""

from django.core.management.base import BaseCommand

from reading.dictation.services import purge_audio


class Command(BaseCommand):
    help = "Delete dictation audio files past the retention period; keep the transcripts."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="override the setting")

    def handle(self, *args, **options):
        purged = purge_audio(options["days"])
        self.stdout.write(f"purged the audio of {purged} utterance(s)")
