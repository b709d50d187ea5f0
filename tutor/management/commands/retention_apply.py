from django.conf import settings
from django.core.management.base import BaseCommand

from tutor.privacy_selectors import student_last_activity
from tutor.privacy_services import retention_apply, retention_cutoff


class Command(BaseCommand):
    help = "Erase students inactive for METIS_RETENTION_DAYS days (a dry run unless --yes)."

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help="erase them (default: only list them)")

    def handle(self, *args, yes: bool, **options):
        cutoff = retention_cutoff()
        if cutoff is None:
            self.stdout.write("retention is off (METIS_RETENTION_DAYS is 0 or unset): nothing to do")
            return
        days = settings.METIS_RETENTION_DAYS
        due = retention_apply(dry_run=True)
        for student in due:
            last = student_last_activity(student=student)
            self.stdout.write(f"{student.username}: last active {last:%Y-%m-%d}" if last else student.username)
        if not yes:
            self.stdout.write(f"{len(due)} student(s) inactive for over {days} days; --yes erases them")
            return
        erased = retention_apply(dry_run=False)
        self.stdout.write(f"erased {len(erased)} student(s) inactive for over {days} days")
