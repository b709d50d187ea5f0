from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tutor.qti import QtiError
from tutor.services import items_import_qti


class Command(BaseCommand):
    help = (
        "Import QTI 3.0 choice and text-entry items (one XML file or a zip content package) into a course's "
        "skill (docs/content-format.md, 'QTI 3.0 import'). Any error imports nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--course", required=True, help="the course's slug")
        parser.add_argument("--skill", required=True, help="the slug of the skill the items practise")

    def handle(self, *args, file: Path, course: str, skill: str, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{file}: cannot read: {exc}") from None
        try:
            report = items_import_qti(course_slug=course, skill_slug=skill, filename=file.name, data=data)
        except QtiError as exc:
            raise CommandError(
                f"{file}: {len(exc.errors)} error(s), nothing imported:\n" + "\n".join(f"  {e}" for e in exc.errors)
            ) from None
        for item in report.items:
            self.stdout.write(f"  {item.spec.slug} ({item.spec.type}){': ' + item.title if item.title else ''}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported into {course}/{skill}: {report.created} new item(s), {report.updated} updated."
            )
        )
