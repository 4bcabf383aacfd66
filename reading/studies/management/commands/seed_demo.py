from django.core.management.base import BaseCommand, CommandError

from reading.accounts.demo import ensure_demo_users


class Command(BaseCommand):
    help = "Create demo users and synthetic demo studies (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--users-only", action="store_true", help="Only create the demo users.")

    def handle(self, *args, users_only=False, **options):
        users = ensure_demo_users()
        if not users_only:
            from reading.studies.demo import seed_demo_studies
            from reading.studies.demo.seed import DemoSeedError

            try:
                seed_demo_studies(stdout=self.stdout)
            except DemoSeedError as exc:
                raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS("\nDemo logins (username / password / role):"))
        for username, password, role in users:
            self.stdout.write(f"  {username:<10} {password:<14} {role}")
