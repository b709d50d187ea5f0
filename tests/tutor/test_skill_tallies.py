"""The tallies behind the class overview (per class, student and skill; per class, student and UTC day) stay equal
to the answers they sum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from tests.factories import ItemFactory, SectionFactory, StudentFactory, enrol, serve
from tutor import services
from tutor.models import Attempt, DayTally, PracticeSession, SkillTally
from tutor.privacy_selectors import student_export
from tutor.privacy_services import student_erase

pytestmark = pytest.mark.django_db


def _from_scratch() -> dict[tuple[int, int, int], tuple]:
    """Every class answer summed in Python, keyed like the tallies."""
    out: dict[tuple[int, int, int], list] = {}
    for a in Attempt.objects.filter(session__isnull=False).select_related("session"):
        key = (a.session.section_id, a.student_id, a.skill_id)
        t = out.setdefault(key, [0, 0, 0, 0, 0.0, a.created_at, a.created_at])
        sure = a.confidence >= SkillTally.SURE
        t[0] += 1
        t[1] += a.correct
        t[2] += sure
        t[3] += sure and not a.correct
        t[4] += a.confidence
        t[5], t[6] = min(t[5], a.created_at), max(t[6], a.created_at)
    return {k: (*v[:4], round(v[4], 9), v[5], v[6]) for k, v in out.items()}


def _tallies() -> dict[tuple[int, int, int], tuple]:
    return {
        (t.section_id, t.student_id, t.skill_id): (
            t.n,
            t.n_correct,
            t.n_sure,
            t.n_sure_wrong,
            round(t.confidence_sum, 9),
            t.first_at,
            t.last_at,
        )
        for t in SkillTally.objects.all()
    }


def _days_from_scratch() -> dict[tuple[int, int, object], int]:
    """Every class answer counted in Python per (class, student, UTC day)."""
    out: dict[tuple[int, int, object], int] = {}
    for a in Attempt.objects.filter(session__isnull=False).select_related("session"):
        key = (a.session.section_id, a.student_id, a.created_at.astimezone(UTC).date())
        out[key] = out.get(key, 0) + 1
    return out


def _day_tallies() -> dict[tuple[int, int, object], int]:
    return {(t.section_id, t.student_id, t.day): t.n for t in DayTally.objects.all()}


def _answer(student, session, item, *, correct=True, confidence=0.5, minutes_ago=0, key=None):
    return Attempt.objects.create(
        student=student,
        item=item,
        skill=item.skill,
        session=session,
        answer="42" if correct else "1",
        correct=correct,
        confidence=confidence,
        idempotency_key=key or f"k-{Attempt.objects.count()}",
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def klass():
    section = SectionFactory()
    items = [ItemFactory(skill__course=section.course, course=section.course) for _ in range(2)]
    students = [StudentFactory(organisation=section.organisation) for _ in range(2)]
    for s in students:
        enrol(s, section)
    return section, items, students


def test_tallies_follow_answers_through_writes_updates_and_deletes(klass):
    section, items, (ana, ben) = klass
    # through the service a student's answer goes through
    session = services.session_start(student=ana, section=section)
    shown = serve(session, items[0])
    services.attempt_record(student=ana, session_item=shown, answer="42", confidence="0.75", idempotency_key="svc")
    # written directly, in bulk and one by one, two of them in one statement for the same tally
    other = PracticeSession.objects.create(student=ben, section=section, started_at=timezone.now())
    Attempt.objects.bulk_create(
        Attempt(
            student=ben,
            item=items[1],
            skill=items[1].skill,
            session=other,
            answer="1",
            correct=i % 2 == 0,
            confidence=(0.25, 1.0)[i % 2],
            idempotency_key=f"bulk-{i}",
            created_at=timezone.now() - timedelta(minutes=10 - i),
        )
        for i in range(6)
    )
    first = _answer(ana, session, items[1], correct=False, confidence=1.0, minutes_ago=30)
    last = _answer(ana, session, items[1], correct=True, confidence=0.25, minutes_ago=1)
    # an answer outside any class (API ingest) has no tally
    _answer(ana, None, items[0], key="ingest")
    # an answer rolled back with its transaction leaves no count behind
    with pytest.raises(RuntimeError), transaction.atomic():
        _answer(ana, session, items[0], key="rolled-back")
        raise RuntimeError
    assert _tallies() == _from_scratch()
    assert len(_tallies()) == 3
    assert _day_tallies() == _days_from_scratch() and sum(_day_tallies().values()) == 9

    last.correct, last.confidence = False, 0.9  # a regrade
    last.save()
    first.delete()  # the first answer goes: first_at moves on
    assert _tallies() == _from_scratch()
    assert _day_tallies() == _days_from_scratch()
    Attempt.objects.filter(session=other).delete()  # every answer of a tally: the row goes
    assert _tallies() == _from_scratch()
    assert _day_tallies() == _days_from_scratch()
    other.delete()
    session.delete()  # cascades to its answers
    assert _tallies() == {} == _from_scratch()
    assert _day_tallies() == {} == _days_from_scratch()


def test_day_tallies_follow_answers_across_days_students_and_classes(klass):
    section, items, (ana, ben) = klass
    other_class = SectionFactory(organisation=section.organisation, course=section.course)
    session = PracticeSession.objects.create(student=ana, section=section, started_at=timezone.now())
    elsewhere = PracticeSession.objects.create(student=ana, section=other_class, started_at=timezone.now())
    midnight = datetime(2026, 3, 10, tzinfo=UTC)
    late = _answer(ana, session, items[0], key="late")
    late.created_at = midnight - timedelta(seconds=1)  # the last second of 9 March, UTC
    late.save()
    early = _answer(ana, session, items[1], key="early")
    Attempt.objects.filter(pk=early.pk).update(created_at=midnight)  # the first instant of 10 March
    _answer(ana, elsewhere, items[0], key="elsewhere")
    ingest = _answer(ana, None, items[0], key="ingest")  # no class: no day tally
    assert _day_tallies() == _days_from_scratch()
    assert _day_tallies()[(section.pk, ana.pk, midnight.date())] == 1
    assert _day_tallies()[(section.pk, ana.pk, (midnight - timedelta(days=1)).date())] == 1

    before = _day_tallies()
    Attempt.objects.filter(pk=late.pk).update(correct=False, feedback="regraded")  # no counted column: no change
    assert _day_tallies() == before
    Attempt.objects.filter(pk=late.pk).update(created_at=midnight + timedelta(hours=5))  # moves to 10 March
    Attempt.objects.filter(pk=early.pk).update(student=ben)  # moved to another student
    Attempt.objects.filter(pk=ingest.pk).update(session=session)  # an ingested answer joins the class
    Attempt.objects.filter(session=elsewhere).update(session=session)  # and one changes class
    assert _day_tallies() == _days_from_scratch()
    assert _day_tallies()[(section.pk, ana.pk, midnight.date())] == 1
    Attempt.objects.filter(pk=late.pk).update(session=None)  # leaves every class
    assert _day_tallies() == _days_from_scratch()
    Attempt.objects.all().delete()
    assert _day_tallies() == {} == _days_from_scratch()


def test_rebuild_is_idempotent_and_erasure_takes_the_tallies(klass):
    section, items, (ana, ben) = klass
    for student in (ana, ben):
        session = PracticeSession.objects.create(student=student, section=section, started_at=timezone.now())
        for i in range(5):
            _answer(student, session, items[i % 2], correct=i % 3 == 0, confidence=0.8, minutes_ago=i)
    expected, days = _from_scratch(), _days_from_scratch()
    assert _tallies() == expected and _day_tallies() == days
    SkillTally.objects.filter(student=ana).update(n=99)  # damaged
    DayTally.objects.filter(student=ana).update(n=99)
    DayTally.objects.filter(student=ben).delete()
    call_command("tallies_rebuild", stdout=open("/dev/null", "w"))
    assert _tallies() == expected and _day_tallies() == days
    assert services.skill_tallies_rebuild() == 4 and _tallies() == expected
    assert services.day_tallies_rebuild() == len(days) and _day_tallies() == days

    exported = student_export(student=ana)["tables"]
    assert len(exported["tutor.SkillTally"]) == 2
    assert sum(row["n"] for row in exported["tutor.DayTally"]) == 5  # her day counts are hers too
    student_erase(student=ana)
    assert not SkillTally.objects.filter(student_id=ana.pk).exists()
    assert not DayTally.objects.filter(student_id=ana.pk).exists()
    assert _tallies() == _from_scratch() and len(_tallies()) == 2  # Ben keeps his
    assert _day_tallies() == _days_from_scratch() and _day_tallies()
    services.skill_tallies_rebuild(student_ids=[ben.pk])
    services.day_tallies_rebuild(student_ids=[ben.pk])
    assert _tallies() == _from_scratch() and _day_tallies() == _days_from_scratch()
