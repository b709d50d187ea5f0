"""A student's own progress page: per-skill estimate in plain words, what is due, their past answers."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from metacog.models import ScheduledReview, StrategySuggestion
from tests.factories import (
    ItemFactory,
    SectionFactory,
    SkillFactory,
    StudentFactory,
    UserFactory,
    enrol,
)
from tutor import selectors
from tutor.models import Attempt, User

pytestmark = pytest.mark.django_db

URL = reverse("my_progress")


@pytest.fixture
def klass():
    section = SectionFactory()
    skills = [SkillFactory(course=section.course, name=f"Skill {c}", position=i) for i, c in enumerate("ABC")]
    for s in skills:
        ItemFactory(skill=s, prompt=f"Prompt of {s.name}")
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    return section, skills, student


def answers(student, skill, *, n, correct=True, days_ago=0.0, confidence=0.75, answer="42", key=""):
    """``n`` answers on ``skill``, one a minute, the last ``days_ago`` days ago."""
    item = skill.items.first()
    end = timezone.now() - timedelta(days=days_ago)
    Attempt.objects.bulk_create(
        Attempt(
            student=student,
            item=item,
            skill=skill,
            answer=answer,
            correct=correct(k) if callable(correct) else correct,
            confidence=confidence,
            idempotency_key=f"{key}{skill.pk}-{k}-{uuid.uuid4().hex[:12]}",  # <= 64 characters, as PostgreSQL enforces
            created_at=end - timedelta(minutes=n - 1 - k),
        )
        for k in range(n)
    )


def skill_card(html: str, skill) -> str:
    match = re.search(rf'<li class="progress-skill" id="skill-{skill.pk}".*?</li>', html, re.S)
    assert match, f"no card for {skill.name}"
    return match.group(0)


def text(html: str) -> str:
    """What a reader sees: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" .", ".").replace(" ,", ",")


def test_each_skill_shows_the_record_and_the_estimate_in_plain_words(klass, client):
    _, (a, b, c), student = klass
    answers(student, a, n=6, correct=lambda k: k != 0)  # 5 of 6 right, just now
    answers(student, b, n=2, correct=False)
    client.force_login(student)
    html = client.get(URL).content.decode()

    card_a = skill_card(html, a)
    assert "6 answers so far, 5 right (83 %)" in text(card_a)
    assert "Based on 6 answers: a rough guess." in card_a
    assert "Last practised just now." in card_a
    assert 'class="progress-bar"' in card_a
    assert "<summary>Details</summary>" in card_a and "estimated from your answers" in card_a

    card_b = skill_card(html, b)
    assert "2 answers so far, 0 right (0 %)" in text(card_b)
    assert "a first guess" in card_b
    assert "Needs practice" in card_b

    card_c = skill_card(html, c)
    assert "Not started" in card_c and "No answers yet" in card_c and 'class="progress-bar"' not in card_c


def test_levels_follow_the_estimate_the_scheduler_uses(klass, client, monkeypatch):
    _, (a, b, c), student = klass
    for s in (a, b, c):
        answers(student, s, n=3)
    # The learner model's predictions, when a model is active, are what the page shows (as the scheduler uses them).
    predicted = {a.pk: 0.92, b.pk: 0.6, c.pk: 0.3}
    monkeypatch.setattr(selectors, "skill_predictions_for_student", lambda *, student, skill_ids: predicted)
    client.force_login(student)
    html = client.get(URL).content.decode()
    assert "Solid" in skill_card(html, a) and "92 %, predicted by your learner model" in skill_card(html, a)
    assert "Getting there" in skill_card(html, b) and "width:60%" in skill_card(html, b)
    assert "Needs practice" in skill_card(html, c)


def test_a_broken_learner_model_falls_back_to_the_estimate_from_answers(klass, client, monkeypatch):
    _, (a, _, _), student = klass
    answers(student, a, n=4)

    def broken(**kw):
        raise RuntimeError("checkpoint unreadable")

    monkeypatch.setattr(selectors, "skill_predictions_for_student", broken)
    client.force_login(student)
    response = client.get(URL)
    assert response.status_code == 200
    assert "estimated from your answers" in skill_card(response.content.decode(), a)


def test_skills_practised_long_ago_and_agreed_reviews_are_due(klass, client):
    section, (a, b, c), student = klass
    answers(student, a, n=5, days_ago=5)  # recall has faded under the scheduler's review threshold
    answers(student, b, n=5)  # fresh
    suggestion = StrategySuggestion.objects.create(
        student=student, section=section, strategy="spacing", reason="r", created_at=timezone.now()
    )
    review = ScheduledReview.objects.create(
        student=student, section=section, suggestion=suggestion, due_at=timezone.now() - timedelta(hours=1)
    )
    review.skills.set([c])
    client.force_login(student)
    html = client.get(URL).content.decode()
    due = re.search(r'<section class="card progress-due".*?</section>', html, re.S).group(0)
    assert a.name in due and "a while since you practised it" in due
    assert c.name in due and "You planned to review it" in due
    assert b.name not in due
    assert "Due for review" in skill_card(html, a) and "Due for review" not in skill_card(html, b)
    assert "Last practised 5 days ago." in text(skill_card(html, a)).replace("\xa0", " ")


def test_a_review_done_since_it_came_due_is_no_longer_due(klass, client):
    section, (a, _, _), student = klass
    suggestion = StrategySuggestion.objects.create(
        student=student, section=section, strategy="spacing", reason="r", created_at=timezone.now()
    )
    review = ScheduledReview.objects.create(
        student=student, section=section, suggestion=suggestion, due_at=timezone.now() - timedelta(hours=1)
    )
    review.skills.set([a])
    answers(student, a, n=3)  # practised after it came due
    client.force_login(student)
    assert 'class="card progress-due"' not in client.get(URL).content.decode()


def test_past_answers_newest_first_with_what_the_student_saw(klass, client):
    _, (a, b, _), student = klass
    answers(student, a, n=1, days_ago=1, answer="41", correct=False, confidence=0.25)
    answers(student, b, n=1, answer="42", confidence=0.75)
    client.force_login(student)
    html = client.get(URL).content.decode()
    past = html.split('id="answers"')[1]
    assert past.index("Prompt of Skill B") < past.index("Prompt of Skill A")
    newest = past.split('<li class="progress-answer')[1]
    assert "Right" in newest and 'progress-given">42<' in newest and 'progress-expected">42<' in newest
    assert 'progress-confidence">75 %<' in newest
    oldest = past.split('<li class="progress-answer')[2]
    assert "Wrong" in oldest and 'progress-given">41<' in oldest and 'progress-confidence">25 %<' in oldest


def test_feedback_is_shown_when_attempts_carry_it(klass):
    _, (a, _, _), student = klass
    answers(student, a, n=1)
    attempt = Attempt.objects.select_related("item", "skill").get()
    assert selectors._answer_row(attempt).feedback == ""  # no field yet, or an empty one
    attempt.feedback = "6 × 7 is 42: six sevens."
    assert selectors._answer_row(attempt).feedback == "6 × 7 is 42: six sevens."


def test_past_answers_are_paginated_fifty_a_page(klass, client):
    _, (a, _, _), student = klass
    answers(student, a, n=120)
    client.force_login(student)
    first = client.get(URL).content.decode()
    assert first.count('<li class="progress-answer') == 50 and "Page 1 of 3" in first
    assert "120 answers in all" in first
    last = client.get(URL, {"page": 3}).content.decode()
    assert last.count('<li class="progress-answer') == 20 and 'rel="prev"' in last and 'rel="next"' not in last
    assert client.get(URL, {"page": "nonsense"}).status_code == 200


def test_another_students_answers_never_appear(klass, client):
    section, (a, b, _), student = klass
    other = StudentFactory(organisation=section.organisation)
    enrol(other, section)
    answers(other, a, n=7, answer="other-students-secret-answer", key="o")
    answers(student, b, n=2)
    client.force_login(student)
    html = client.get(URL).content.decode()
    assert "other-students-secret-answer" not in html
    assert "Prompt of Skill A" not in html.split('id="answers"')[1]
    assert "Not started" in skill_card(html, a)
    assert html.count('<li class="progress-answer') == 2


def test_only_skills_of_the_students_own_classes_are_listed(klass, client):
    _, _, student = klass
    elsewhere = SkillFactory(name="Skill of a class elsewhere")
    client.force_login(student)
    assert elsewhere.name not in client.get(URL).content.decode()


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize("role", [User.Role.TEACHER, User.Role.ADMIN])
def test_staff_have_no_progress_page_and_go_home(klass, client, role):
    section, (a, _, _), student = klass
    answers(student, a, n=3, answer="students-answer")
    staff = UserFactory(role=role, organisation=section.organisation)
    section.teachers.add(staff)
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 302 and response.url == reverse("home")
    assert "My progress" not in client.get(reverse("home")).content.decode()


def test_the_page_is_linked_from_the_students_home_and_header(klass, client):
    _, _, student = klass
    client.force_login(student)
    html = client.get(reverse("home")).content.decode()
    assert html.count(f'href="{URL}"') == 2


def test_query_count_does_not_grow_with_skills_or_answers(client, django_assert_num_queries):
    """Pinned: a student with several skills and hundreds of answers (the estimate replays the last 150)."""

    def page_queries(n_skills: int, per_skill: int) -> None:
        section = SectionFactory()
        student = StudentFactory(organisation=section.organisation)
        enrol(student, section)
        skills = [SkillFactory(course=section.course) for _ in range(n_skills)]
        for s in skills:
            ItemFactory(skill=s)
            answers(student, s, n=per_skill, correct=lambda k: k % 3 != 0, days_ago=2)
        suggestion = StrategySuggestion.objects.create(
            student=student, section=section, strategy="spacing", reason="r", created_at=timezone.now()
        )
        review = ScheduledReview.objects.create(
            student=student, section=section, suggestion=suggestion, due_at=timezone.now()
        )
        review.skills.set(skills[:2])
        client.force_login(student)
        cache.clear()  # the scheduler's cached estimate would save a query; pin the cold page
        # session, user, skills, per-skill record, the scheduler's estimate (recent window + older totals),
        # active model, reviews + their skills, answer count, one page of answers
        with django_assert_num_queries(11):
            html = client.get(URL).content.decode()
        assert html.count('<li class="progress-skill"') == n_skills
        assert html.count('<li class="progress-answer') == 50
        assert escape(skills[0].name) in html

    page_queries(n_skills=4, per_skill=60)
    page_queries(n_skills=8, per_skill=90)
