"""Recompute the class overview's tallies from the answers: ``manage.py tallies_rebuild``.

Both kinds: per (class, student, skill) and per (class, student, UTC day).
"""

from django.core.management.base import BaseCommand

from tutor.services import day_tallies_rebuild, skill_tallies_rebuild


class Command(BaseCommand):
    help = "Rebuild the skill and day tallies from the stored answers (idempotent; answer writes wait while it runs)."

    def handle(self, *args, **options):
        n = skill_tallies_rebuild()
        days = day_tallies_rebuild()
        self.stdout.write(f"{n} skill tallies and {days} day tallies rebuilt")
