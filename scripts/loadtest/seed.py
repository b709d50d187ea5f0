"""Seed the load-test database: load-test classes of the demo course, their teachers and students.

Run by scripts/loadtest/run.sh after ``demo_seed`` (which brings the course and a population with
histories that ``metatrain`` learns from). Accounts: ``load-student-0001``..., ``load-teacher-01``..., one
class of up to 30 students per teacher, all with the password in ``LOAD_PASSWORD``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import transaction  # noqa: E402

from learner_models import services as learner_services  # noqa: E402
from learner_models.models import ModelVersion  # noqa: E402
from tutor.demo import DEMO_CLASS  # noqa: E402
from tutor.models import Enrollment, Section, User  # noqa: E402

CLASS_SIZE = 30


def _model_serving() -> None:
    """Answers must pay for the per-student model refresh as in a deployment that has a model. The demo's
    29 histories are often too few for the promotion gate to judge, so its newest version serves anyway."""
    if ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
        return
    newest = ModelVersion.objects.exclude(status=ModelVersion.Status.FAILED).order_by("-pk").first()
    if newest is None:
        print("no model version: answers are served without a learner model")
        return
    learner_services.model_version_activate(version=newest, reason="load test: serve the demo's model")
    print(f"model version {newest.pk} ({newest.algorithm}) serves")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int)
    parser.add_argument("--reset-passwords", action="store_true", help="only set the load accounts' password")
    args = parser.parse_args()
    password = make_password(os.environ["LOAD_PASSWORD"])  # one hash for all: seeding 200 takes no minute
    _model_serving()
    if args.reset_passwords:
        n = User.objects.filter(username__startswith="load-").update(password=password)
        print(f"password set for {n} load-test accounts")
        return
    if not args.students:
        parser.error("--students is required")
    demo = Section.objects.select_related("organisation", "course").get(name=DEMO_CLASS)
    classes = (args.students + CLASS_SIZE - 1) // CLASS_SIZE
    with transaction.atomic():
        for c in range(1, classes + 1):
            section = Section.objects.create(
                organisation=demo.organisation, course=demo.course, name=f"Load class {c:02d}", session_length=10
            )
            teacher = User.objects.create(
                username=f"load-teacher-{c:02d}",
                role=User.Role.TEACHER,
                organisation=demo.organisation,
                password=password,
            )
            section.teachers.add(teacher)
            first = (c - 1) * CLASS_SIZE + 1
            for n in range(first, min(first + CLASS_SIZE, args.students + 1)):
                student = User.objects.create(
                    username=f"load-student-{n:04d}",
                    role=User.Role.STUDENT,
                    organisation=demo.organisation,
                    first_name=f"Load {n}",
                    password=password,
                )
                Enrollment.objects.create(student=student, section=section)
    print(f"seeded {args.students} students in {classes} classes, one teacher each")


if __name__ == "__main__":
    main()
