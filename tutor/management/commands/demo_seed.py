from django.core.management.base import BaseCommand

from tutor.demo import DEMO_CLASS, DEMO_STUDENTS, DEMO_TEACHER, demo_seed


class Command(BaseCommand):
    help = "Create the demo school (teacher, 30 students, simulated histories). Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--sessions", type=int, default=5, help="simulated sessions per student")

    def handle(self, *args, seed: int, sessions: int, **options):
        report = demo_seed(seed=seed, sessions_per_student=sessions, progress=lambda m: self.stderr.write(f"  {m}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {report.created_users} account(s) created, {report.attempts_created} simulated "
                f"attempt(s) added; class {DEMO_CLASS!r} with {DEMO_TEACHER} and {DEMO_STUDENTS[0]}..{DEMO_STUDENTS[-1]}."
            )
        )
