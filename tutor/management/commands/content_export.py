from pathlib import Path
from typing import Literal

from django.core.management.base import BaseCommand, CommandError

from tutor.content_format import dump_content
from tutor.models import Course
from tutor.selectors import content_export


class Command(BaseCommand):
    help = "Export a course's skills and authored items as YAML or JSON (the content_import format)."

    def add_arguments(self, parser):
        parser.add_argument("course", help="course slug")
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, course: str, format: Literal["yaml", "json"], output: Path | None, **options):
        try:
            course_obj = Course.objects.get(slug=course)
        except Course.DoesNotExist:
            known = ", ".join(Course.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no course {course!r} (courses: {known})") from None
        text = dump_content(content_export(course=course_obj), fmt=format)
        if output:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"wrote {output}")
        else:
            self.stdout.write(text, ending="")
