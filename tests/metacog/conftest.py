"""Fixtures for metacognition tests: a class with a course, items, an enrolled student and their teacher."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, TeacherFactory, enrol
from tutor.models import Attempt, PracticeSession, SessionItem


class World:
    def __init__(self):
        self.section = SectionFactory()
        org = self.section.organisation
        self.skills = [SkillFactory(course=self.section.course, name=n) for n in ("fractions", "decimals")]
        self.items = [ItemFactory(skill=s, answer={"value": 42, "tolerance": 0}) for s in self.skills for _ in range(3)]
        self.student = StudentFactory(organisation=org)
        enrol(self.student, self.section)
        self.teacher = TeacherFactory(organisation=org)
        self.section.teachers.add(self.teacher)

    def other_student(self):
        s = StudentFactory(organisation=self.section.organisation)
        enrol(s, self.section)
        return s

    def session(self, student=None, *, ended=False, minutes_ago=0):
        start = timezone.now() - timedelta(minutes=minutes_ago)
        return PracticeSession.objects.create(
            student=student or self.student,
            section=self.section,
            planned_items=5,
            started_at=start,
            ended_at=start + timedelta(minutes=1) if ended else None,
        )

    def answers(self, session, outcomes, *, confidence=1.0, skill=0, rt=20000, when=None, hints=0):
        """Store graded attempts directly (the grading itself is tutor's, tested there)."""
        made = []
        base = session.session_items.count()
        now = when or timezone.now()
        for i, correct in enumerate(outcomes):
            item = self.items[3 * skill + (i % 3)]
            si = SessionItem.objects.create(session=session, item=item, position=base + i + 1, served_at=now)
            conf = confidence[i] if isinstance(confidence, list | tuple) else confidence
            made.append(
                Attempt.objects.create(
                    student=session.student,
                    item=item,
                    skill=item.skill,
                    session=session,
                    session_item=si,
                    answer="42" if correct else "7",
                    correct=correct,
                    confidence=conf,
                    response_time_ms=rt,
                    hints_used=hints,
                    idempotency_key=f"k-{session.pk}-{base + i}",
                    served_at=now,
                    created_at=now + timedelta(seconds=i),
                )
            )
        return made


@pytest.fixture
def world(db):
    return World()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The scheduler caches per-student estimates by id; ids are reused across tests, so start and end clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
