"""Reads of the practice domain, shaped for pages, commands and (later) the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, Q

from .content_format import ContentSpec, CourseSpec, ItemSpec, SkillSpec
from .models import Attempt, Course, PracticeSession, Section, User


@dataclass(frozen=True)
class SkillSummary:
    name: str
    attempts: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class SessionSummary:
    attempts: int
    correct: int
    mean_confidence: float | None
    hints_used: int
    skills: list[SkillSummary]

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.attempts if self.attempts else None

    @property
    def confidence_gap(self) -> float | None:
        """Mean confidence minus accuracy: > 0 over-confident, < 0 under-confident."""
        if self.mean_confidence is None or self.accuracy is None:
            return None
        return self.mean_confidence - self.accuracy

    @property
    def calibration_message(self) -> str:
        gap = self.confidence_gap
        if gap is None:
            return "Answer a few items to see how your confidence compares with your accuracy."
        if self.attempts < 5:
            return "Too few answers yet to judge your confidence; keep rating it honestly."
        if gap > 0.1:
            return "You felt surer than your results: slow down and check answers you feel confident about."
        if gap < -0.1:
            return "You did better than you expected: trust yourself a little more."
        return "Your confidence matched your accuracy well."


def session_summary(*, session: PracticeSession) -> SessionSummary:
    attempts = Attempt.objects.filter(session=session)
    totals = attempts.aggregate(
        n=Count("id"),
        n_correct=Count("id", filter=Q(correct=True)),
        conf=Avg("confidence"),
        hints=Count("id", filter=Q(hints_used__gt=0)),
    )
    per_skill = (
        attempts.values("skill__name", "skill__position")
        .annotate(n=Count("id"), n_correct=Count("id", filter=Q(correct=True)))
        .order_by("skill__position", "skill__name")
    )
    return SessionSummary(
        attempts=totals["n"],
        correct=totals["n_correct"],
        mean_confidence=totals["conf"],
        hints_used=totals["hints"],
        skills=[SkillSummary(r["skill__name"], r["n"], r["n_correct"]) for r in per_skill],
    )


def sessions_for_student(*, student: User, limit: int = 10) -> list[PracticeSession]:
    return list(
        PracticeSession.objects.filter(student=student)
        .select_related("section")
        .annotate(n=Count("attempts"), n_correct=Count("attempts", filter=Q(attempts__correct=True)))
        .order_by("-started_at")[:limit]
    )


def sections_for_student(*, student: User) -> list[Section]:
    return list(Section.objects.filter(enrollments__student=student).select_related("course").order_by("name"))


def content_export(*, course: Course) -> ContentSpec:
    """The course as authored content (generated items are left out: generators recreate them)."""
    skills = list(course.skills.prefetch_related("prerequisites", "confusable_with").order_by("position", "slug"))
    items = course.items.filter(source="authored").select_related("skill").order_by("skill__position", "slug")
    return ContentSpec(
        course=CourseSpec(slug=course.slug, title=course.title, description=course.description),
        skills=tuple(
            SkillSpec(
                slug=s.slug,
                name=s.name,
                description=s.description,
                prerequisites=tuple(sorted(p.slug for p in s.prerequisites.all())),
                confusable_with=tuple(sorted(c.slug for c in s.confusable_with.all())),
            )
            for s in skills
        ),
        items=tuple(
            ItemSpec(
                slug=i.slug,
                skill=i.skill.slug,
                type=i.item_type,
                prompt=i.prompt,
                answer=i.answer,
                hints=tuple(i.hints),
                solution=i.solution,
                difficulty=i.difficulty,
            )
            for i in items
        ),
    )


def attempts_for_student(*, student: User, limit: int = 50) -> list[Attempt]:
    """The student's latest attempts with the scheduler's reason for each item (teacher drill-down)."""
    return list(
        Attempt.objects.filter(student=student)
        .select_related("item", "skill", "session_item")
        .order_by("-created_at", "-id")[:limit]
    )
