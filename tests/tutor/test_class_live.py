"""The live view of a class (who is practising now, on what, how it is going) and a teacher watching one
session in progress, read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    ItemFactory,
    OrganisationFactory,
    SectionFactory,
    SkillFactory,
    TeacherFactory,
    UserFactory,
    enrol,
)
from tests.factories import student_in as _student
from tutor.models import Attempt, PracticeSession, SessionItem, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass():
    section = SectionFactory(name="7B maths")
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    skills = [SkillFactory(course=section.course, name=n) for n in ("Fractions", "Decimals")]
    items = [ItemFactory(skill=s, prompt=f"A question on {s.name}") for s in skills]
    return section, teacher, items


def _practise(student, section, items, results, *, minutes_ago=1.0, waiting=True, ended=False):
    """A session whose items were answered ``results`` (oldest first), the last answer ``minutes_ago`` minutes
    ago; with ``waiting`` one more item shown and not answered yet."""
    end = timezone.now() - timedelta(minutes=minutes_ago)
    session = PracticeSession.objects.create(
        student=student, section=section, started_at=end - timedelta(minutes=30), ended_at=end if ended else None
    )
    for i, ok in enumerate(results):
        item = items[i % len(items)]
        at = end - timedelta(minutes=len(results) - 1 - i)
        si = SessionItem.objects.create(
            session=session, item=item, position=i + 1, served_at=at - timedelta(seconds=30)
        )
        Attempt.objects.create(
            student=student,
            item=item,
            skill=item.skill,
            session=session,
            session_item=si,
            answer="42" if ok else "17",
            correct=ok,
            confidence=0.75,
            idempotency_key=f"{session.pk}-{i}",
            created_at=at,
            response_time_ms=12000,
        )
    if waiting:
        SessionItem.objects.create(
            session=session, item=items[1], position=len(results) + 1, served_at=end, reason="Due for review"
        )
    return session


def _live(section):
    return reverse("class_live", args=[section.pk])


def test_the_live_view_shows_who_is_practising_now_on_what_and_how_it_goes(klass, client):
    section, teacher, items = klass
    ana, ben, cleo, dan = (_student(section, n) for n in ("Ana", "Ben", "Cleo", "Dan"))
    ana_session = _practise(ana, section, items, [True, False, True])
    _practise(ben, section, items, [True], minutes_ago=10, ended=True)  # finished: not practising
    _practise(cleo, section, items, [False], minutes_ago=45)  # left it open and went away
    other = SectionFactory(organisation=section.organisation, course=section.course)
    enrol(dan, other)
    _practise(dan, other, items, [True, True])  # practising in another class
    client.force_login(teacher)
    response = client.get(_live(section))
    assert response.status_code == 200
    live = response.context["live"]
    assert [p.session.pk for p in live.practising] == [ana_session.pk]
    html = response.content.decode()
    assert "Practising now (1)" in html
    assert "Decimals (item 4 of 10), answering now" in html
    assert "right on 2 of 3 answers" in html
    assert reverse("class_session", args=[section.pk, ana_session.pk]) in html
    # the answer stream: this class's answers, newest first, what was answered and how sure
    stream = [(a.student.first_name, a.answer) for a in live.stream]
    assert stream[:3] == [("Ana", "42"), ("Ana", "17"), ("Ana", "42")]
    assert {name for name, _ in stream} == {"Ana", "Ben", "Cleo"}
    assert "Wrong</span>: answered “17”, 75 % sure beforehand" in html


def test_the_page_polls_itself_with_htmx_and_gets_the_feed_only(klass, client):
    section, teacher, items = klass
    _practise(_student(section, "Ana"), section, items, [True])
    client.force_login(teacher)
    page = client.get(_live(section)).content.decode()
    assert f'hx-get="{_live(section)}" hx-trigger="every 5s"' in page
    assert '<script src="/static/django_htmx/htmx-2.min.js"' in page  # htmx served locally, no CDN
    feed = client.get(_live(section), HTTP_HX_REQUEST="true")
    assert feed.status_code == 200
    body = feed.content.decode()
    assert "<html" not in body and "Practising now (1)" in body
    assert feed["Cache-Control"].startswith("max-age=0") or "no-cache" in feed["Cache-Control"]


@pytest.mark.parametrize("who", ["other teacher", "student", "foreign admin"])
def test_outsiders_get_404_on_the_live_view_the_feed_and_a_session(klass, client, who):
    section, teacher, items = klass
    ana = _student(section, "Ana")
    session = _practise(ana, section, items, [True])
    user = {
        "other teacher": TeacherFactory(organisation=section.organisation),
        "student": ana,
        "foreign admin": UserFactory(role=User.Role.ADMIN, organisation=OrganisationFactory()),
    }[who]
    client.force_login(user)
    for url in (_live(section), reverse("class_session", args=[section.pk, session.pk])):
        assert client.get(url).status_code == 404
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_an_admin_of_the_school_sees_the_live_view(klass, client):
    section, _, items = klass
    _practise(_student(section, "Ana"), section, items, [True])
    client.force_login(UserFactory(role=User.Role.ADMIN, organisation=section.organisation))
    assert len(client.get(_live(section)).context["live"].practising) == 1


def test_a_teacher_watches_a_session_in_progress_without_any_way_to_answer(klass, client):
    section, teacher, items = klass
    ana = _student(section, "Ana")
    session = _practise(ana, section, items, [True, False])
    client.force_login(teacher)
    url = reverse("class_session", args=[section.pk, session.pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ana Test's session" in html
    assert "A question on Fractions" in html and "A question on Decimals" in html
    assert "<dt>Answered</dt><dd>17</dd>" in html and "12 s" in html
    assert "Answering now" in html and "Why the scheduler chose it: Due for review" in html
    assert "Right on 1 of 2 answers, 3 of 10 items shown." in html
    # read-only: no form, no answer field, no link to the student's own practice pages
    main = html[html.index("<main") :]
    assert "<form" not in main.replace('<form method="post" action="/logout/"', "")
    assert 'name="answer"' not in html and 'name="confidence"' not in html
    assert reverse("practice", args=[session.pk]) not in html
    assert f'hx-get="{url}" hx-trigger="every 5s"' in html
    assert client.post(url).status_code == 405
    # and the practice endpoints refuse the teacher, so nothing can be answered on the student's behalf
    answer = reverse("practice_answer", args=[session.pk, 3])
    n = Attempt.objects.count()
    response = client.post(answer, {"answer": "42", "confidence": "1.0", "idempotency_key": "t"})
    assert response.status_code == 404 and Attempt.objects.count() == n
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Answering now" in partial


def test_a_session_of_another_class_is_not_shown_under_this_one(klass, client):
    section, teacher, items = klass
    other = SectionFactory(organisation=section.organisation, course=section.course)
    other.teachers.add(teacher)
    ana = _student(section, "Ana")
    enrol(ana, other)
    elsewhere = _practise(ana, other, items, [True])
    client.force_login(teacher)
    assert client.get(reverse("class_session", args=[section.pk, elsewhere.pk])).status_code == 404
    assert client.get(reverse("class_session", args=[other.pk, elsewhere.pk])).status_code == 200


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_the_live_view_reads_in_a_fixed_number_of_queries_whatever_the_class_size(klass, client):
    section, teacher, items = klass
    client.force_login(teacher)
    for i in range(2):
        _practise(_student(section, f"S{i}"), section, items, [True, False])
    small = _queries(client, _live(section))
    for i in range(2, 14):
        _practise(_student(section, f"S{i}"), section, items, [True, False, True, True])
    assert len(client.get(_live(section)).context["live"].practising) == 14
    assert _queries(client, _live(section)) == small
    # session, user, class, open sessions, their items and answers, the answer stream
    assert small == 6
