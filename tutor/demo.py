"""Seeding the demo school: a course, a class, a teacher and 30 students, 29 with simulated histories.

Running it again changes nothing (accounts are looked up by username; a student
who already has attempts keeps them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import generators
from .answers import correct_answer_display
from .content import content_import, item_from_generator
from .content_format import ContentSpec, CourseSpec, SkillSpec
from .models import Attempt, Enrollment, Organisation, PracticeSession, Section, SessionItem, Skill, User

DEMO_ORG = ("demo-school", "Metis Demo School")
DEMO_CLASS = "Demo class"
DEMO_TEACHER = "demo-teacher"
DEMO_STUDENTS = [f"demo-student-{i:02d}" for i in range(1, 31)]
FRESH_STUDENT = "demo-student-30"
CONFIDENCE_LEVELS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class SeedReport:
    created_users: int
    students_with_history: int
    attempts_created: int


def demo_course_spec() -> ContentSpec:
    course = generators.DEMO_COURSE
    return ContentSpec(
        course=CourseSpec(slug=course["slug"], title=course["title"], description=course.get("description", "")),
        skills=tuple(
            SkillSpec(
                slug=s["slug"],
                name=s["name"],
                description=s.get("description", ""),
                prerequisites=tuple(s.get("prerequisites", ())),
                confusable_with=tuple(s.get("confusable_with", ())),
            )
            for s in course["skills"]
        ),
        items=(),
    )


@dataclass
class SimulatedStudent:
    """A deliberately simple learner for demo histories: ability, per-skill learning, a confidence bias."""

    ability: float
    learn_rate: float
    confidence_bias: float
    speed: float

    def p_correct(self, difficulty: float, practice: int) -> float:
        return 1 / (1 + math.exp(-(self.ability + self.learn_rate * math.log1p(practice) - 2.5 * (difficulty - 0.4))))


def _quantise_confidence(p: float) -> float:
    return min(CONFIDENCE_LEVELS, key=lambda level: abs(level - p))


def _simulate_history(
    *, student: User, section: Section, skills: list[Skill], rng: random.Random, sessions: int, items_per_session: int
) -> int:
    sim = SimulatedStudent(
        ability=rng.gauss(0, 1),
        learn_rate=rng.uniform(0.2, 0.9),
        confidence_bias=rng.gauss(0.05, 0.12),
        speed=rng.uniform(0.6, 1.6),
    )
    practice: dict[int, int] = {}
    now = timezone.now()
    created = 0
    for s in range(sessions):
        started = now - timedelta(days=(sessions - s) * 3, hours=rng.randint(0, 6))
        session = PracticeSession.objects.create(
            student=student, section=section, planned_items=items_per_session, started_at=started
        )
        t = started
        for pos in range(1, items_per_session + 1):
            skill = skills[(s * items_per_session + pos) % len(skills)]
            item = item_from_generator(skill=skill, rng=rng)
            p = sim.p_correct(item.difficulty, practice.get(skill.pk, 0))
            hints = 1 if p < 0.4 and rng.random() < 0.5 else 0
            correct = rng.random() < min(0.98, p + 0.1 * hints)
            confidence = _quantise_confidence(min(1.0, max(0.0, p + sim.confidence_bias + rng.gauss(0, 0.1))))
            rt_ms = int(1000 * sim.speed * rng.lognormvariate(math.log(20), 0.5))
            si = SessionItem.objects.create(
                session=session, item=item, position=pos, served_at=t, hints_shown=hints, reason="simulated history"
            )
            t += timedelta(milliseconds=rt_ms)
            Attempt.objects.create(
                student=student,
                item=item,
                skill=skill,
                session=session,
                session_item=si,
                answer=correct_answer_display(item.item_type, item.answer) if correct else "(simulated wrong answer)",
                correct=correct,
                confidence=confidence,
                response_time_ms=rt_ms,
                hints_used=hints,
                idempotency_key=f"demo-{student.username}-{s}-{pos}",
                served_at=si.served_at,
                created_at=t,
            )
            practice[skill.pk] = practice.get(skill.pk, 0) + 1
            created += 1
            t += timedelta(seconds=rng.randint(5, 30))
        PracticeSession.objects.filter(pk=session.pk).update(ended_at=t)
    return created


def demo_seed(
    *,
    password: str | None = None,
    seed: int = 2026,
    sessions_per_student: int = 5,
    items_per_session: int = 10,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Create (or complete) the demo school. Safe to run twice."""
    password = password or settings.DEMO_PASSWORD
    say = progress or (lambda _msg: None)
    spec = demo_course_spec()
    with transaction.atomic():
        course = content_import(spec=spec).course
        org, _ = Organisation.objects.get_or_create(slug=DEMO_ORG[0], defaults={"name": DEMO_ORG[1]})
        section, _ = Section.objects.get_or_create(organisation=org, name=DEMO_CLASS, defaults={"course": course})
        created_users = 0
        teacher, made = User.objects.get_or_create(
            username=DEMO_TEACHER,
            defaults={"role": User.Role.TEACHER, "organisation": org, "first_name": "Demo", "last_name": "Teacher"},
        )
        if made:
            teacher.set_password(password)
            teacher.save(update_fields=["password"])
            created_users += 1
        section.teachers.add(teacher)
        students = []
        for i, username in enumerate(DEMO_STUDENTS, start=1):
            student, made = User.objects.get_or_create(
                username=username,
                defaults={"role": User.Role.STUDENT, "organisation": org, "first_name": f"Student {i:02d}"},
            )
            if made:
                student.set_password(password)
                student.save(update_fields=["password"])
                created_users += 1
            Enrollment.objects.get_or_create(section=section, student=student)
            students.append(student)
    skills = list(Skill.objects.filter(course=course).order_by("position"))
    with_history = 0
    attempts = 0
    for n, student in enumerate(students, start=1):
        if student.username == FRESH_STUDENT:
            continue
        with_history += 1
        if Attempt.objects.filter(student=student).exists():
            continue
        rng = random.Random(f"{seed}-{student.username}")
        with transaction.atomic():
            attempts += _simulate_history(
                student=student,
                section=section,
                skills=skills,
                rng=rng,
                sessions=sessions_per_student,
                items_per_session=items_per_session,
            )
        say(f"simulated history {n}/{len(students) - 1}: {student.username}")
    return SeedReport(created_users=created_users, students_with_history=with_history, attempts_created=attempts)
