"""Seeding the demo school: a course, a class, a teacher and 30 students, 29 with simulated histories.

Running it again changes nothing (accounts are looked up by username; a student
who already has attempts keeps them).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import generators, policies, services
from .answers import CheckResult, InvalidAnswer, check_answer, correct_answer_display, response_display
from .content import content_import, item_from_generator
from .content_format import ContentSpec, CourseSpec, SkillSpec
from .models import (
    CONFIDENCE_SCALE,
    Attempt,
    Item,
    Organisation,
    PracticeSession,
    Section,
    SessionItem,
    Skill,
    User,
)
from .simulator import SETTINGS as SIM_SETTINGS
from .simulator import SimSkill, SimulatedStudent, traits_sample

DEMO_ORG = ("demo-school", "Metis Demo School")
DEMO_CLASS = "Demo class"
DEMO_TEACHER = "demo-teacher"
DEMO_STUDENTS = [f"demo-student-{i:02d}" for i in range(1, 31)]
FRESH_STUDENT = "demo-student-30"


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


def _wrong_candidates(item: Item, rng: random.Random) -> list[str]:
    """Answers a student might plausibly give instead of the right one, most plausible first."""
    spec = item.answer
    if item.item_type == "multiple_choice":
        wrong = [c for i, c in enumerate(spec["choices"]) if i != spec["correct"]]
        rng.shuffle(wrong)
        return wrong
    if item.item_type == "text":
        return ["less", "greater", "equal"]
    if item.item_type in ("numeric", "fraction"):
        value = Fraction(str(spec["value"]))
        step = max(Fraction(1), 2 * Fraction(str(spec.get("tolerance", 0))))
        near = [value + step, value - step, value + 2 * step, -value]
        if value.denominator != 1:
            near.insert(0, Fraction(value.numerator + 1, value.denominator))
        rng.shuffle(near)
        return [f"{v.numerator}/{v.denominator}" if v.denominator != 1 else str(v.numerator) for v in near]
    expected = correct_answer_display(item.item_type, spec)
    return [expected.replace("+", "-", 1), expected.replace("-", "+", 1), f"{expected} + 1"]


def _seeded_answer(item: Item, *, correct: bool, rng: random.Random) -> tuple[str, CheckResult] | None:
    """What the simulated student typed, graded by the real checker, so the seeded history reads like
    real answers (a multiple-choice option's text, never its position). None if no candidate fits."""
    candidates = [correct_answer_display(item.item_type, item.answer)] if correct else _wrong_candidates(item, rng)
    for text in candidates:
        try:
            result = check_answer(item.item_type, item.answer, text)
        except InvalidAnswer:
            continue
        if result.correct == correct:
            return response_display(item.item_type, result, text), result
    return None


def _quantise_confidence(p: float) -> float:
    return min((level for level, _ in CONFIDENCE_SCALE), key=lambda level: abs(level - p))


def _course_structure(skills: list[Skill]) -> tuple[list[SimSkill], list[policies.SkillView]]:
    """The course as the simulator and the policy see it (ids are the database ids)."""
    ids = {s.pk for s in skills}
    sim, views = [], []
    for s in skills:
        pre = tuple(p.pk for p in s.prerequisites.all() if p.pk in ids)
        conf = tuple(c.pk for c in s.confusable_with.all() if c.pk in ids)
        sim.append(SimSkill(s.pk, pre, conf))
        views.append(
            policies.SkillView(skill_id=s.pk, name=s.name, position=s.position, prerequisites=pre, confusable_with=conf)
        )
    return sim, views


def _generated_item_near(*, skill: Skill, target: float, rng: random.Random) -> Item:
    """A generated item of ``skill`` near ``target`` difficulty (as the live scheduler would pick)."""
    seeds = [rng.getrandbits(32) for _ in range(6)]
    best = min(
        seeds, key=lambda sd: abs(generators.generate_item(skill.slug, random.Random(sd))["difficulty"] - target)
    )
    return item_from_generator(skill=skill, rng=random.Random(best))


def _simulate_history(
    *, student: User, section: Section, skills: list[Skill], rng: random.Random, sessions: int, items_per_session: int
) -> int:
    """Backdated sessions of a simulated learner (``tutor.simulator``) taught by the adaptive policy.

    Each student gets their own latent traits (ability, forgetting, confusion, calibration
    bias...), so the teacher dashboards show real differences, and every served item
    carries the reason the policy gave for it.
    """
    sim_skills, structure = _course_structure(skills)
    by_id = {s.pk: s for s in skills}
    answer_rng = random.Random(f"{student.username}-answers")  # its own stream: the simulated history is unchanged
    sim = SimulatedStudent(
        traits=traits_sample(rng, len(sim_skills)),
        skills=sim_skills,
        setting=SIM_SETTINGS["maths"],
        rng=random.Random(rng.getrandbits(64)),
    )
    estimator = policies.SkillEstimator(s.pk for s in skills)
    origin = timezone.now() - timedelta(days=sessions * 3 + 1)
    last_skill: int | None = None
    last_index: dict[int, int] = {}  # skill -> running number of the item it was last served as
    created = 0
    for s in range(sessions):
        if s:
            sim.advance(3.0 + rng.uniform(-0.5, 0.5))
        started = origin + timedelta(days=sim.now)
        session = PracticeSession.objects.create(
            student=student, section=section, planned_items=items_per_session, started_at=started
        )
        for pos in range(1, items_per_session + 1):
            items_since = {sid: created - i - 1 for sid, i in last_index.items()}
            views = policies.views_from_estimator(estimator, structure, now=sim.now, items_since=items_since)
            choice = policies.choose("adaptive", views, ctx=policies.Context(last_skill_id=last_skill), rng=rng)
            skill = by_id[choice.skill_id]
            item = _generated_item_near(skill=skill, target=choice.target_difficulty or 0.5, rng=rng)
            served = origin + timedelta(days=sim.now)
            response = sim.present(skill.pk, item.difficulty)
            hints = 1 if not response.correct and response.confidence < 0.4 and rng.random() < 0.5 else 0
            rt_ms = int(1000 * response.response_time_s)
            given = _seeded_answer(item, correct=response.correct, rng=answer_rng)
            si = SessionItem.objects.create(
                session=session,
                item=item,
                position=pos,
                served_at=served,
                hints_shown=hints,
                reason=choice.reason[:300],
            )
            Attempt.objects.create(
                student=student,
                item=item,
                skill=skill,
                session=session,
                session_item=si,
                answer=given[0] if given else "(no answer recorded)",
                normalized_answer=given[1].normalized[:500] if given else "",
                feedback=given[1].feedback[:300] if given else "",
                correct=response.correct,
                confidence=_quantise_confidence(response.confidence),
                response_time_ms=rt_ms,
                hints_used=hints,
                idempotency_key=f"demo-{student.username}-{s}-{pos}",
                served_at=served,
                created_at=served + timedelta(milliseconds=rt_ms),
            )
            estimator.observe(skill.pk, correct=response.correct, now=sim.now, difficulty=item.difficulty)
            last_skill = skill.pk
            last_index[skill.pk] = created
            created += 1
            sim.advance(rt_ms / 86_400_000 + rng.uniform(5, 30) / 86_400)
        PracticeSession.objects.filter(pk=session.pk).update(ended_at=origin + timedelta(days=sim.now))
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
    if not password:
        raise ValueError("the demo accounts need a password (DEMO_PASSWORD)")
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
        services.section_teacher_add(teacher=teacher, section=section)
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
            services.enrollment_create(student=student, section=section)
            students.append(student)
    skills = list(
        Skill.objects.filter(course=course).order_by("position").prefetch_related("prerequisites", "confusable_with")
    )
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
