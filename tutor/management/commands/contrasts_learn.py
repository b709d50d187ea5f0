"""Learn which pairs of skills students confuse, per course: ``manage.py contrasts_learn [--course SLUG]``.

Reads the answers of classes on the shuffled rule and stores pair weights for the ``spread`` rule
(``services.contrasts_learn``; docs/scheduler.md, "Choosing the rule per class"). Celery beat runs it nightly.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from tutor.models import Course
from tutor.services import CONTRASTS_MIN_STUDENTS, contrasts_learn


class Command(BaseCommand):
    help = "Learn, per course, which pairs of skills students confuse, from classes practising in a shuffled order."

    def add_arguments(self, parser):
        parser.add_argument("--course", help="the course's slug (default: every course)")
        parser.add_argument(
            "--min-students",
            type=int,
            default=CONTRASTS_MIN_STUDENTS,
            help=f"store nothing below this many students (default {CONTRASTS_MIN_STUDENTS})",
        )
        parser.add_argument("--json", action="store_true", help="one JSON object per course instead of text")

    def handle(self, *args, **options):
        if options["min_students"] < 1:
            raise CommandError("--min-students must be at least 1")
        courses = Course.objects.order_by("slug")
        if options["course"]:
            courses = courses.filter(slug=options["course"])
            if not courses.exists():
                raise CommandError(f"--course: no course with slug {options['course']!r}")
        out = []
        for course in courses:
            self.stderr.write(f"{course.slug}: reading answers…")
            result = contrasts_learn(course=course, min_students=options["min_students"])
            out.append(
                {
                    "course": course.slug,
                    "students": result.students,
                    "answers": result.answers,
                    "stored": result.saved is not None,
                    "pairs": [] if result.saved is None else result.saved.weights,
                    "message": result.reason,
                }
            )
            if not options["json"]:
                self.stdout.write(f"{course.slug}: {result.reason}")
        if options["json"]:
            self.stdout.write(json.dumps(out, indent=2))
