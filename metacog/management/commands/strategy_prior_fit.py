"""python manage.py strategy_prior_fit [--min-students N]: meta-learn the suggestion policy's population prior."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metacog.services import MetacogError, policy_prior_fit


class Command(BaseCommand):
    help = "Fit the population prior of strategy suggestions from every measured outcome and make it active."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--min-students", type=int, default=20)
        parser.add_argument("--no-activate", action="store_true", help="store the prior without activating it")

    def handle(self, *args, **opts) -> None:
        try:
            row = policy_prior_fit(min_students=opts["min_students"], activate=not opts["no_activate"])
        except MetacogError as exc:
            flag = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{flag}{exc.message}") from None
        self.stdout.write(
            f"prior {row.pk}: {row.n_students} students, {row.n_observations} outcomes"
            f"{' (active)' if row.active else ''}"
        )
