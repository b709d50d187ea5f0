"""Recompute the class overview's per-(class, student, skill) tallies from the answers: ``manage.py tallies_rebuild``."""

from django.core.management.base import BaseCommand

from tutor.services import skill_tallies_rebuild


class Command(BaseCommand):
    help = "Rebuild the skill tallies from the stored answers (idempotent; answer writes wait while it runs)."

    def handle(self, *args, **options):
        n = skill_tallies_rebuild()
        self.stdout.write(f"{n} tallies rebuilt")
