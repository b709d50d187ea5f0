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


def test_seeded_answers_read_like_real_ones_and_agree_with_their_grade():
    """The seeded history stores what a student picked or typed, as the practice flow does: a
    multiple-choice option's text (never its position, never a placeholder), graded by the checker."""
    from tutor.answers import check_answer

    demo_seed(password="pw-for-test", sessions_per_student=2, items_per_session=10)
    attempts = list(Attempt.objects.select_related("item"))
    assert attempts and not any(a.answer.startswith("(") for a in attempts)
    mc = [a for a in attempts if a.item.item_type == "multiple_choice"]
    assert mc and all(a.answer in a.item.answer["choices"] for a in mc)
    assert any(not a.correct for a in mc)
    for a in attempts:
        assert check_answer(a.item.item_type, a.item.answer, a.answer).correct == a.correct, a.answer


def test_seed_command_refuses_production_without_the_explicit_flag(settings):
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    settings.DEMO_PASSWORD = "a-password-set-for-this-school"
    with pytest.raises(CommandError, match="--i-know-this-is-production"):
        call_command("demo_seed", "--sessions", "1")
    assert not User.objects.exists()
    settings.DEMO_PASSWORD = ""  # production has no default demo password
    with pytest.raises(CommandError, match="DEMO_PASSWORD"):
        call_command("demo_seed", "--sessions", "1", "--i-know-this-is-production")
    assert not User.objects.exists()
    settings.DEMO_PASSWORD = "a-password-set-for-this-school"
    call_command("demo_seed", "--sessions", "1", "--i-know-this-is-production")
    assert authenticate(username="demo-teacher", password="a-password-set-for-this-school") is not None
