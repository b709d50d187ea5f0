"""The adaptive scheduler through the database: structure, class settings, history, reasons."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import IntegrityError
from django.utils import timezone

from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, enrol
from tutor import scheduler, services
from tutor.models import Attempt, PracticeSession

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The scheduler caches each student's estimate; test databases reuse ids."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def course():
    section = SectionFactory(session_length=20)
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    return section, student


def skills_with_items(section, n, items=4, **kw):
    out = []
    for i in range(n):
        skill = SkillFactory(course=section.course, position=i, **kw)
        for j in range(items):
            ItemFactory(skill=skill, difficulty=0.1 + 0.8 * j / max(1, items - 1))
        out.append(skill)
    return out


def history(student, skill, *, days_ago: float, n: int, correct: bool = True, spread_days: float = 0.0):
    """``n`` answers on ``skill`` ending ``days_ago`` days ago, spread over ``spread_days`` before that."""
    item = min(skill.items.all(), key=lambda i: abs(i.difficulty - 0.5))
    end = timezone.now() - timedelta(days=days_ago)
    for k in range(n):
        at = end - timedelta(days=spread_days * (n - 1 - k) / max(1, n - 1), minutes=n - k)
        Attempt.objects.create(
            student=student,
            item=item,
            skill=skill,
            answer="42",
            correct=correct,
            confidence=0.5,
            idempotency_key=f"h-{skill.pk}-{days_ago}-{k}",
            created_at=at,
        )


def next_choice(section, student, seed=0):
    session = services.session_start(student=student, section=section)
    return scheduler.item_next_for_student(session=session, rng=random.Random(seed))


def test_prerequisites_come_first(course):
    section, student = course
    advanced, base = skills_with_items(section, 2)  # advanced first in course order
    advanced.prerequisites.add(base)
    choice = next_choice(section, student)
    assert choice.item.skill == base
    assert choice.reason.startswith("new skill: ")


def test_fading_skill_comes_due_for_review_with_a_reason(course):
    section, student = course
    fractions, *others = skills_with_items(section, 3)
    fractions.name = "fractions"
    fractions.save()
    history(student, fractions, days_ago=6, n=8, correct=True)
    for skill in others:
        history(student, skill, days_ago=0.01, n=8, correct=True)
    choice = next_choice(section, student)
    assert choice.item.skill == fractions
    assert choice.reason.startswith("review: fractions not practised for 6 days, predicted recall ")


def test_confusable_skill_follows_its_partner(course, monkeypatch):
    section, student = course
    a, c, b = skills_with_items(section, 3)  # b last in course order
    a.confusable_with.add(b)
    for skill in (a, b, c):
        history(student, skill, days_ago=0.2, n=6)
    history(student, a, days_ago=0.001, n=1)
    # c has a little more room to learn than b: only the contrast with a makes b the better choice.
    predictions = {a.pk: 0.6, b.pk: 0.6, c.pk: 0.5}
    monkeypatch.setattr(scheduler, "skill_predictions_for_student", lambda **kw: predictions)
    choice = next_choice(section, student)
    assert choice.item.skill == b and "easily confused" in choice.reason


def test_reason_is_logged_with_the_served_item_and_no_immediate_repeat(course):
    section, student = course
    (only,) = skills_with_items(section, 1, items=2)
    session = services.session_start(student=student, section=section)
    served = []
    for n in range(6):
        si = services.session_item_current(session=session, rng=random.Random(n))
        assert si.reason
        served.append(si.item_id)
        services.attempt_record(student=student, session_item=si, answer="42", confidence=0.5, idempotency_key=f"k{n}")
    assert all(a != b for a, b in zip(served, served[1:], strict=False)), served


def test_skills_in_play_are_the_teachers_choice(course):
    section, student = course
    skills = skills_with_items(section, 4)
    section.skills_in_play.set(skills[2:])
    picked = {next_choice(section, student, seed=s).item.skill_id for s in range(6)}
    assert picked <= {skills[2].pk, skills[3].pk}


def test_target_success_sets_the_item_difficulty(course):
    section, student = course
    (skill,) = skills_with_items(section, 1, items=9)
    section.target_success = 0.9
    section.save()
    easy = next_choice(section, student).item.difficulty
    section.target_success = 0.55
    section.save()
    hard = next_choice(section, student).item.difficulty
    assert easy < hard


def test_class_settings_are_checked_by_the_database(course):
    section, _ = course
    section.target_success = 1.5
    with pytest.raises(IntegrityError):
        section.save()


def test_learner_model_predictions_drive_the_choice_when_present(course, monkeypatch):
    section, student = course
    skills = skills_with_items(section, 3)
    for skill in skills:
        history(student, skill, days_ago=0.02, n=6)
    weak = skills[1]
    calls = []

    def predictions(*, student, skill_ids, now=None):
        calls.append(sorted(skill_ids))
        return {sid: (0.15 if sid == weak.pk else 0.97) for sid in skill_ids}

    monkeypatch.setattr(scheduler, "skill_predictions_for_student", predictions)
    assert next_choice(section, student).item.skill == weak
    assert calls == [sorted(s.pk for s in skills)]
    monkeypatch.setattr(scheduler, "skill_predictions_for_student", lambda **kw: None)
    assert next_choice(section, student).item.skill in skills  # falls back to the estimate from history


def test_fallback_estimate_reads_the_students_history(course):
    section, student = course
    good, bad = skills_with_items(section, 2)
    history(student, good, days_ago=0.01, n=10, correct=True)
    history(student, bad, days_ago=0.01, n=10, correct=False)
    est = scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=[good.pk, bad.pk])
    now = timezone.now().timestamp() / 86400
    assert est.get(good.pk).p_now(now) > 0.8 > 0.3 > est.get(bad.pk).p_now(now)


def test_long_history_keeps_the_query_count_flat(course, django_assert_max_num_queries, monkeypatch):
    section, student = course
    skills = skills_with_items(section, 5)
    monkeypatch.setattr(scheduler, "RECENT_WINDOW", 20)
    for i, skill in enumerate(skills):
        history(student, skill, days_ago=i, n=12, spread_days=3)
    session = PracticeSession.objects.create(student=student, section=section, started_at=timezone.now())
    with django_assert_max_num_queries(12):
        scheduler.item_next_for_student(session=session, rng=random.Random(0))
    est = scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=[s.pk for s in skills])
    assert sum(e.n for e in est.skills.values()) == 60, "older answers must still count, as totals"


def test_cached_estimate_matches_a_fresh_one_and_sees_new_answers(course):
    section, student = course
    skills = skills_with_items(section, 3)
    for i, skill in enumerate(skills):
        history(student, skill, days_ago=3 - i, n=5, correct=i != 1)
    ids = [s.pk for s in skills]
    first = scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=ids)  # cold: fills the cache
    history(student, skills[1], days_ago=0.0001, n=4, correct=True)
    warm = scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=ids)
    cold = scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=ids, use_cache=False)
    assert warm.get(skills[1].pk).n == first.get(skills[1].pk).n + 4 == cold.get(skills[1].pk).n
    now = timezone.now().timestamp() / 86400
    for sid in ids:
        assert warm.get(sid).p_now(now) == pytest.approx(cold.get(sid).p_now(now), abs=1e-9)
    Attempt.objects.filter(student=student).delete()  # erased: the cache must not outlive the history
    assert scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=ids).get(ids[0]).n == 0


def test_the_learner_model_scores_each_authored_item_and_the_nearest_to_the_target_is_served(course, monkeypatch):
    """Issue 15, point 4: with a model, the item (not only the skill) comes from its P(correct) per item."""
    section, student = course
    (skill,) = skills_with_items(section, 1, items=4)
    section.target_success = 0.7
    section.save()
    items = list(skill.items.order_by("pk"))
    per_item = dict(zip([i.pk for i in items], [0.95, 0.4, 0.66, 0.2], strict=True))
    asked = []

    def item_predictions(*, student, items, now=None):
        asked.append(sorted(items))
        return {iid: per_item[iid] for iid, _ in items}

    monkeypatch.setattr(scheduler, "skill_predictions_for_student", lambda **kw: {skill.pk: 0.6})
    monkeypatch.setattr(scheduler, "item_predictions_for_student", item_predictions)
    choice = next_choice(section, student)
    assert choice.item == items[2]  # 66 % is nearest the class's 70 %, whatever the authored difficulty says
    assert choice.reason.endswith("this item: 66 % predicted success")
    assert asked == [sorted((i.pk, skill.pk) for i in items)]  # all four scored, in one call


def test_per_item_scoring_that_fails_falls_back_to_the_difficulty_rule(course, monkeypatch):
    section, student = course
    (skill,) = skills_with_items(section, 1, items=4)

    def broken(**kw):
        raise RuntimeError("model file unreadable")

    monkeypatch.setattr(scheduler, "skill_predictions_for_student", lambda **kw: {skill.pk: 0.6})
    monkeypatch.setattr(scheduler, "item_predictions_for_student", broken)
    choice = next_choice(section, student)
    assert choice.item.skill == skill and "predicted success" not in choice.reason
    # and without a model at all, per-item scoring is never asked
    monkeypatch.setattr(scheduler, "skill_predictions_for_student", lambda **kw: None)
    monkeypatch.setattr(scheduler, "item_predictions_for_student", lambda **kw: pytest.fail("asked without a model"))
    assert next_choice(section, student).item.skill == skill
