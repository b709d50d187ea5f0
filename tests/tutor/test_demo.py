from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from tutor.demo import DEMO_STUDENTS, FRESH_STUDENT, demo_seed
from tutor.models import Attempt, Enrollment, Item, PracticeSession, Section, Skill, User

pytestmark = pytest.mark.django_db


def test_seed_creates_the_demo_school_once():
    first = demo_seed(password="pw-for-test", sessions_per_student=1, items_per_session=4)
    assert first.created_users == 31 and first.students_with_history == 29
    counts = (User.objects.count(), Attempt.objects.count(), PracticeSession.objects.count(), Item.objects.count())
    assert counts[1] == 29 * 4
    again = demo_seed(password="pw-for-test", sessions_per_student=1, items_per_session=4)
    assert again.created_users == 0 and again.attempts_created == 0
    assert (
        User.objects.count(),
        Attempt.objects.count(),
        PracticeSession.objects.count(),
        Item.objects.count(),
    ) == counts

    section = Section.objects.get(name="Demo class")
    assert Enrollment.objects.filter(section=section).count() == 30
    assert section.teachers.get().username == "demo-teacher"
    assert Skill.objects.filter(course=section.course).count() >= 8
    assert not Attempt.objects.filter(student__username=FRESH_STUDENT).exists()
    assert authenticate(username=DEMO_STUDENTS[0], password="pw-for-test") is not None
    confident = Attempt.objects.filter(confidence__gte=0.75).count()
    assert 0 < confident < counts[1], "simulated confidence should vary"


def test_seed_command_uses_demo_password(settings):
    settings.DEMO_PASSWORD = "from-settings-pw"
    call_command("demo_seed", "--sessions", "1")
    assert authenticate(username="demo-teacher", password="from-settings-pw") is not None
