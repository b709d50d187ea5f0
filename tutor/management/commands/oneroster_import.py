from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tutor.models import Organisation
from tutor.oneroster import RosterError
from tutor.roster_services import roster_import


class Command(BaseCommand):
    help = (
        "Import a OneRoster 1.2 CSV zip (orgs.csv, classes.csv, users.csv, enrollments.csv) into one organisation: "
        "all or nothing; problems are named by file, row and field (docs/api.md, 'Rosters')."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the zip")
        parser.add_argument("--organisation", required=True, help="the organisation's id or slug")

    def handle(self, *args, file: Path, organisation: str, **options):
        org = Organisation.objects.filter(
            **({"pk": int(organisation)} if organisation.isdigit() else {"slug": organisation})
        ).first()
        if org is None:
            raise CommandError(f"no organisation {organisation!r}")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            report = roster_import(organisation=org, data=data)
        except RosterError as exc:
            raise CommandError(f"nothing imported; {len(exc.problems)} problem(s):\n{exc}") from None
        self.stdout.write(
            f"{org.slug}: classes {report.classes_created} created, {report.classes_updated} updated; "
            f"users {report.users_created} created, {report.users_updated} updated; "
            f"enrolments {report.enrolments_created} created, {report.enrolments_deleted} deleted"
        )
