from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tutor.content import content_import
from tutor.content_format import ContentError, parse_content
from tutor.models import Skill


class Command(BaseCommand):
    help = "Import a course from a YAML or JSON content file (docs/content-format.md). Any error imports nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read: {exc}") from None
        known = set(Skill.objects.values_list("slug", flat=True))
        try:
            spec = parse_content(text, filename=str(file), known_skill_slugs=known)
        except ContentError as exc:
            raise CommandError(
                f"{file}: {len(exc.errors)} error(s), nothing imported:\n" + "\n".join(f"  {e}" for e in exc.errors)
            ) from None
        report = content_import(spec=spec)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported course {report.course.slug!r}: skills {report.skills_created} new, "
                f"{report.skills_updated} updated; items {report.items_created} new, {report.items_updated} updated."
            )
        )
