"""A class's choice of scheduling rule, and the confusable pairs the spread rule learns from shuffled classes."""

from __future__ import annotations

import itertools
import json
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ItemFactory,
    SectionFactory,
    SkillFactory,
    StudentFactory,
    TeacherFactory,
    api,
    api_school,
    enrol,
)
from tutor import policies, scheduler, services, tasks
from tutor.models import Attempt, LearnedContrasts, PracticeSession, SchedulingRule, Section

pytestmark = pytest.mark.django_db

SHUFFLED = SchedulingRule.SHUFFLED


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def klass():
    section = SectionFactory(session_length=8)
    skills = [SkillFactory(course=section.course, position=i, name=f"Skill {'ABCD'[i]}") for i in range(4)]
    for skill in skills:
        for j in range(3):
            ItemFactory(skill=skill, difficulty=0.2 + 0.3 * j)
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    return section, skills, student, teacher


def _practise(section, student, n):
    """Answer the next ``n`` items of the student's session in ``section``; returns the SessionItems served."""
    session = services.session_start(student=student, section=section)
    served = []
    for _ in range(n):
        si = services.session_item_current(session=session, rng=random.Random(len(served)))
        served.append(si)
        services.attempt_record(
            student=student, session_item=si, answer="42", confidence=0.5, idempotency_key=f"{session.pk}-{si.pk}"
        )
    return served


def _answers(student, skills_in_order, *, correct=True, session=None):
    """Store answers to ``skills_in_order`` a minute apart, ending an hour ago."""
    start = timezone.now() - timedelta(hours=1, minutes=len(skills_in_order))
    for k, skill in enumerate(skills_in_order):
        Attempt.objects.create(
            student=student,
            item=skill.items.first(),
            skill=skill,
            session=session,
            answer="42",
            correct=correct if isinstance(correct, bool) else correct[k],
            confidence=0.5,
            idempotency_key=f"a-{student.pk}-{k}",
            created_at=start + timedelta(minutes=k),
        )


def test_every_rule_a_class_can_choose_is_a_policy_the_benchmark_judges():
    assert set(SchedulingRule.values) <= set(policies.POLICIES)
    assert SchedulingRule.ADAPTIVE == Section._meta.get_field("scheduling_rule").default


def test_teacher_chooses_the_rule_and_it_applies_from_the_next_session(klass, client):
    section, _, student, teacher = klass
    first = services.session_start(student=student, section=section)
    assert first.scheduling_rule == SchedulingRule.ADAPTIVE
    client.force_login(teacher)
    page = client.get(reverse("class_schedule", args=[section.pk])).content.decode()
    assert 'value="adaptive" checked' in page and "Nothing has been learned yet" in page
    data = {"target_success": "0.7", "review_weight": "1", "session_length": "8", "scheduling_rule": "spread"}
    assert client.post(reverse("class_schedule", args=[section.pk]), data).status_code == 302
    section.refresh_from_db()
    assert section.scheduling_rule == SchedulingRule.SPREAD
    first.refresh_from_db()
    assert first.scheduling_rule == SchedulingRule.ADAPTIVE, "the open session keeps the rule it started with"
    PracticeSession.objects.filter(pk=first.pk).update(ended_at=timezone.now())
    assert services.session_start(student=student, section=section).scheduling_rule == SchedulingRule.SPREAD


def test_a_form_without_the_rule_keeps_it(klass, client):
    section, _, _, teacher = klass
    Section.objects.filter(pk=section.pk).update(scheduling_rule=SHUFFLED)
    client.force_login(teacher)
    data = {"target_success": "0.8", "review_weight": "1", "session_length": "8"}
    assert client.post(reverse("class_schedule", args=[section.pk]), data).status_code == 302
    section.refresh_from_db()
    assert (section.scheduling_rule, section.target_success) == (SHUFFLED, 0.8)


@pytest.mark.parametrize("rule", ["blocked", "eval('1')", "", "ADAPTIVE"])
def test_an_unknown_rule_is_refused_naming_the_field_and_nothing_changes(klass, client, rule):
    section, _, _, teacher = klass
    client.force_login(teacher)
    data = {"target_success": "0.9", "review_weight": "1", "session_length": "8", "scheduling_rule": rule}
    response = client.post(reverse("class_schedule", args=[section.pk]), data)
    assert response.status_code == 422
    body = response.content.decode()
    assert 'role="alert"' in body and "Unknown rule for choosing exercises" in body
    section.refresh_from_db()
    assert (section.scheduling_rule, section.target_success) == (SchedulingRule.ADAPTIVE, 0.7)


@pytest.mark.parametrize("rule", [SchedulingRule.SPREAD, SHUFFLED, SchedulingRule.ROUND_ROBIN])
def test_round_rules_serve_every_skill_once_a_round_with_aimed_items(klass, rule):
    section, skills, student, _ = klass
    Section.objects.filter(pk=section.pk).update(scheduling_rule=rule)
    section.refresh_from_db()
    served = _practise(section, student, 8)
    rounds = [{si.item.skill_id for si in served[:4]}, {si.item.skill_id for si in served[4:]}]
    assert rounds == [{s.pk for s in skills}] * 2
    ids = [si.item.skill_id for si in served]
    assert all(a != b for a, b in itertools.pairwise(ids))
    assert all("aimed at" in si.reason for si in served)
    if rule == SchedulingRule.ROUND_ROBIN:
        assert ids == [s.pk for s in skills] * 2, "in course order"


def test_in_pairs_serves_two_different_items_of_each_skill_in_a_row_in_course_order(klass, client):
    section, skills, student, teacher = klass
    client.force_login(teacher)
    data = {
        "target_success": "0.7",
        "review_weight": "1",
        "session_length": "8",
        "scheduling_rule": "round_robin_pairs+target",
    }
    assert client.post(reverse("class_schedule", args=[section.pk]), data).status_code == 302
    section.refresh_from_db()
    assert section.scheduling_rule == SchedulingRule.PAIRS
    page = client.get(reverse("class_schedule", args=[section.pk])).content.decode()
    assert 'value="round_robin_pairs+target" checked' in page and "In pairs: every skill twice in a row" in page
    served = _practise(section, student, 8)
    assert [si.item.skill_id for si in served] == [s.pk for s in skills for _ in (0, 1)]
    assert all(a.item_id != b.item_id for a, b in zip(served[::2], served[1::2], strict=True)), "the same item twice"
    assert [si.reason.split(";")[0].rsplit(", the ", 1)[1] for si in served[:2]] == ["first of two", "second of two"]
    assert all("aimed at" in si.reason for si in served)


def test_spread_sets_the_learned_pair_side_by_side_and_says_why(klass):
    section, (a, b, c, d), student, _ = klass
    section.skills_in_play.set([a, b, c])
    Section.objects.filter(pk=section.pk).update(scheduling_rule=SchedulingRule.SPREAD)
    section.refresh_from_db()
    # Each skill twice; A was set against B twice and against C once; A was the last one answered.
    _answers(student, [b, a, b, c, c, a])

    def next_skill():
        session = services.session_start(student=student, section=section)
        choice = scheduler.item_next_for_student(session=session, rng=random.Random(0))
        return choice.item.skill_id, choice.reason

    skill, reason = next_skill()
    assert skill == c.pk, "no weights: the pair set side by side least often"
    LearnedContrasts.objects.create(
        course=section.course,
        weights=[[a.pk, b.pk, 4.0], [a.pk, c.pk, 1.0], [b.pk, c.pk, 1.0]],
        students=500,
        answers=20000,
        learned_at=timezone.now(),
    )
    scheduler.pair_weights_forget(course_id=section.course_id)
    skill, reason = next_skill()
    assert skill == b.pk, "A-B counts a quarter: set side by side about four times as often"
    assert reason.startswith("spread: Skill B right after Skill A, which students often confuse with it")


def _shuffled_class(course, n_students, *, seed=0, rule=SHUFFLED):
    """``n_students`` students who practised ``course``'s skills in a shuffled order, two answers per skill.

    Planted: an answer on A or B is right only once A and B have been answered one straight after the
    other (they are confused until contrasted); every other answer is right.
    """
    section = SectionFactory(course=course)
    skills = list(course.skills.order_by("position"))
    a, b = skills[0].pk, skills[1].pk
    rng = random.Random(seed)
    for _ in range(n_students):
        student = StudentFactory(organisation=section.organisation)
        enrol(student, section)
        session = PracticeSession.objects.create(
            student=student, section=section, scheduling_rule=rule, started_at=timezone.now()
        )
        order = []
        for _ in range(3):
            rnd = skills[:]
            rng.shuffle(rnd)
            if order and rnd[0] == order[-1]:
                rnd.reverse()
            order += rnd
        contrasted, correct, last = False, [], None
        for skill in order:
            correct.append(contrasted or skill.pk not in (a, b))
            contrasted = contrasted or {last, skill.pk} == {a, b}
            last = skill.pk
        _answers(student, order, correct=correct, session=session)
    return section


def test_contrasts_are_learned_from_shuffled_classes_only(klass):
    section, (a, b, _, _), _, _ = klass
    course = section.course
    _shuffled_class(course, 40, seed=1)
    _shuffled_class(course, 40, seed=2, rule=SchedulingRule.ADAPTIVE)  # another rule chose their order: unread
    result = services.contrasts_learn(course=course, min_students=30)
    assert (result.students, result.answers) == (40, 40 * 12)
    stored = LearnedContrasts.objects.get(course=course)
    weights = {(x, y): w for x, y, w in stored.weights}
    assert len(weights) == 6
    assert max(weights, key=weights.get) == (min(a.pk, b.pk), max(a.pk, b.pk))
    assert weights[(min(a.pk, b.pk), max(a.pk, b.pk))] >= policies.SPREAD_OFTEN_CONFUSED
    assert scheduler.pair_weights_for_course(course_id=course.pk)[policies.skill_pair(a.pk, b.pk)] > 2


def test_too_few_students_store_nothing_and_keep_what_was_learned(klass):
    section, skills, _, _ = klass
    course = section.course
    before = LearnedContrasts.objects.create(
        course=course,
        weights=[[skills[0].pk, skills[1].pk, 3.0]],
        students=200,
        answers=9000,
        learned_at=timezone.now(),
    )
    _shuffled_class(course, 5)
    result = services.contrasts_learn(course=course)
    assert result.saved is None and result.students == 5
    assert "at least 100 are needed" in result.reason
    assert LearnedContrasts.objects.get(course=course).weights == before.weights


def test_a_student_with_any_answer_under_another_rule_is_left_out(klass):
    section, skills, _, _ = klass
    shuffled = _shuffled_class(section.course, 1)
    student = shuffled.students.get()
    adaptive = PracticeSession.objects.create(student=student, section=shuffled, started_at=timezone.now())
    Attempt.objects.create(
        student=student,
        item=skills[0].items.first(),
        skill=skills[0],
        session=adaptive,
        answer="42",
        correct=True,
        confidence=0.5,
        idempotency_key="mixed",
        created_at=timezone.now(),
    )
    assert services.contrasts_learn(course=section.course, min_students=1).students == 0


def test_the_command_and_the_nightly_task_learn_and_the_page_shows_the_pairs(klass, client):
    section, (a, b, _, _), _, teacher = klass
    _shuffled_class(section.course, 30, seed=3)
    out = StringIO()
    call_command("contrasts_learn", "--course", section.course.slug, "--min-students", "20", "--json", stdout=out)
    (row,) = json.loads(out.getvalue())
    assert row["course"] == section.course.slug and row["stored"] and row["students"] == 30
    assert "stand out as often confused" in row["message"]
    with pytest.raises(CommandError, match="--course"):
        call_command("contrasts_learn", "--course", "no-such-course", stdout=StringIO())
    # The nightly task reads the same answers (the default threshold stores nothing for 30 students).
    assert tasks.contrasts_learn_all.apply().get() == {section.course.slug: 30}
    client.force_login(teacher)
    page = client.get(reverse("class_schedule", args=[section.pk])).content.decode()
    assert "Learned from 30 students" in page
    assert "Skill A and Skill B (set side by side" in page


def test_the_cached_contrast_counts_follow_the_history(klass):
    section, (a, b, c, d), student, _ = klass
    Section.objects.filter(pk=section.pk).update(scheduling_rule=SchedulingRule.SPREAD)
    section.refresh_from_db()
    _practise(section, student, 6)  # counted as they come, on top of the cached counts
    skill_ids = [a.pk, b.pk, c.pk, d.pk]

    def counts():
        return scheduler._contrasts(student_id=student.pk, course_id=section.course_id, skill_ids=skill_ids)

    def recount():
        sequence = (
            Attempt.objects.filter(student=student).order_by("created_at", "id").values_list("skill_id", flat=True)
        )
        out: dict = {}
        for x, y in itertools.pairwise(sequence):
            out[policies.skill_pair(x, y)] = out.get(policies.skill_pair(x, y), 0) + 1
        return out

    before = recount()
    assert counts() == before and sum(before.values()) == 5
    # A back-dated answer (an import) is not an extension of what was counted: counted again from scratch.
    first = Attempt.objects.filter(student=student).order_by("created_at").first()
    other = next(s for s in (a, b, c, d) if s.pk != first.skill_id)
    Attempt.objects.create(
        student=student,
        item=other.items.first(),
        skill=other,
        answer="42",
        correct=True,
        confidence=0.5,
        idempotency_key="back-dated",
        created_at=timezone.now() - timedelta(days=30),
    )
    after = recount()
    assert after != before and sum(after.values()) == 6
    assert counts() == after
    scheduler.student_cache_forget(student_id=student.pk)
    assert cache.get(scheduler._contrasts_key(student.pk, section.course_id)) is None


def test_the_api_shows_each_class_its_rule():
    school = api_school("rules")
    Section.objects.filter(pk=school.section.pk).update(scheduling_rule=SchedulingRule.SPREAD)
    body = api(school.token).get(f"/api/v1/classes/{school.section.pk}/").json()
    assert body["scheduling_rule"] == "spread"
    other = api_school("other-rules")
    assert api(school.token).get(f"/api/v1/classes/{other.section.pk}/").status_code == 404
