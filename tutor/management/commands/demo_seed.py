from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tutor.demo import DEMO_CLASS, DEMO_STUDENTS, DEMO_TEACHER, demo_seed


class Command(BaseCommand):
    help = "Create the demo school (teacher, 30 students, simulated histories). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--sessions", type=int, default=5, help="simulated sessions per student")
        parser.add_argument(
            "--i-know-this-is-production",
            action="store_true",
            help="seed even though METIS_ENV=production (31 accounts that share DEMO_PASSWORD)",
        )

    def handle(self, *args, seed: int, sessions: int, i_know_this_is_production: bool, **options):
        if settings.PRODUCTION and not i_know_this_is_production:
            raise CommandError(
                "METIS_ENV=production: demo_seed would add a demo school of 31 accounts sharing one password to "
                "this database. Pass --i-know-this-is-production if that is what you want."
            )
        if not settings.DEMO_PASSWORD:
            raise CommandError("Set DEMO_PASSWORD: production has no default password for the demo accounts.")
        report = demo_seed(seed=seed, sessions_per_student=sessions, progress=lambda m: self.stderr.write(f"  {m}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {report.created_users} account(s) created, {report.attempts_created} simulated "
                f"attempt(s) added; class {DEMO_CLASS!r} with {DEMO_TEACHER} and {DEMO_STUDENTS[0]}..{DEMO_STUDENTS[-1]}."
            )
        )
