"""What the practice pages tell a student: their own answer, the checker's explanation, the session's edges.

Each test here pins a defect a student met (issue 14): the feedback said "you answered 3" when they
picked the option 6, dropped the checker's explanation, spoke of "0.75 sure", showed Django's 404 after
"End session", swapped the login page into the question card, or silently showed another tab's answer.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, TeacherFactory, enrol, serve
from tutor import services
from tutor.models import Attempt, PracticeSession

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
MC = {"choices": ["-11", "-2", "5", "6"], "correct": 2}


@pytest.fixture
def student_and_section():
    section = SectionFactory()
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    return student, section


def _serve(student, section, **item_fields):
    item = ItemFactory(skill=SkillFactory(course=section.course), **item_fields)
    session = services.session_start(student=student, section=section)
    return session, serve(session, item)


def _answer(client, session, si, answer, *, key="k1", confidence="0.75", headers=HTMX):
    url = reverse("practice_answer", args=[session.pk, si.position])
    data = {"answer": answer, "confidence": confidence, "idempotency_key": key}
    return client.post(url, data, headers=headers)


def test_multiple_choice_feedback_shows_the_option_picked_not_its_position(client, student_and_section):
    student, section = student_and_section
    session, si = _serve(
        student, section, item_type="multiple_choice", prompt="What is 7 - 18 ÷ 9?", answer=MC, hints=[]
    )
    client.force_login(student)
    page = client.get(reverse("practice", args=[session.pk])).content.decode()
    assert 'value="6"' in page  # the radio button sends the option itself

    response = _answer(client, session, si, "6")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'You answered <strong id="given-answer">6</strong>; the answer is <strong>5</strong>' in html
    attempt = Attempt.objects.get()
    assert (attempt.answer, attempt.normalized_answer, attempt.correct) == ("6", "6", False)


def test_a_position_sent_by_an_older_form_is_stored_as_the_option(student_and_section):
    student, section = student_and_section
    session, si = _serve(student, section, item_type="multiple_choice", answer=MC, hints=[])
    outcome = services.attempt_record(student=student, session_item=si, answer="2", confidence=1, idempotency_key="k")
    assert (outcome.attempt.answer, outcome.attempt.correct) == ("5", True)


def test_the_checkers_explanation_reaches_the_student(client, student_and_section):
    student, section = student_and_section
    spec = {"value": "12x + 12", "variables": ["x"], "form": "expanded"}
    session, si = _serve(student, section, item_type="expression", prompt="Expand 6(2x + 2)", answer=spec)
    client.force_login(student)
    html = _answer(client, session, si, "6(2x + 2)").content.decode()
    assert "Not quite." in html
    assert "Equivalent, but the brackets are not expanded." in html
    assert Attempt.objects.get().feedback == "Equivalent, but the brackets are not expanded."


def test_confidence_reads_as_a_percentage_like_everywhere_else(client, student_and_section):
    student, section = student_and_section
    session, si = _serve(student, section)
    client.force_login(student)
    html = _answer(client, session, si, "42", confidence="0.75").content.decode()
    assert "You were 75 % sure" in html and "0.75" not in html.split("You were")[1][:40]


def test_answering_after_the_session_ended_says_so_and_offers_a_new_one(client, student_and_section):
    student, section = student_and_section
    session, si = _serve(student, section)
    client.force_login(student)
    client.post(reverse("practice_end", args=[session.pk]))  # deletes the unanswered item

    for headers in (HTMX, {}):
        response = _answer(client, session, si, "42", headers=headers)
        html = response.content.decode()
        assert response.status_code == 409
        assert "This session has ended" in html and "No SessionItem matches" not in html
        assert reverse("practice_start", args=[section.pk]) in html
        assert reverse("practice_summary", args=[session.pk]) in html
    assert not Attempt.objects.exists()
    # the offered button really starts a new session
    new = client.post(reverse("practice_start", args=[section.pk]))
    assert new.status_code == 302 and PracticeSession.objects.filter(student=student, ended_at=None).count() == 1


def test_an_item_answered_in_another_tab_says_this_answer_was_not_recorded(client, student_and_section):
    student, section = student_and_section
    session, si = _serve(student, section, item_type="multiple_choice", answer=MC, hints=[])
    client.force_login(student)
    _answer(client, session, si, "5", key="tab-1")
    html = _answer(client, session, si, "-2", key="tab-2").content.decode()
    assert "already answered this item in another tab" in html
    assert "(<strong>-2</strong>) was not recorded" in html
    assert 'id="given-answer">5<' in html
    assert Attempt.objects.get().answer == "5"
    # the same answer from the other tab, or a replay of this tab's key, is not a conflict
    assert "not recorded" not in _answer(client, session, si, "5", key="tab-3").content.decode()
    assert "not recorded" not in _answer(client, session, si, "5", key="tab-1").content.decode()


def test_a_signed_out_htmx_answer_gets_a_message_not_the_login_page(client, student_and_section):
    student, section = student_and_section
    session, si = _serve(student, section)
    page_url = reverse("practice", args=[session.pk])
    headers = {**HTMX, "HX-Current-URL": f"http://testserver{page_url}"}
    response = _answer(client, session, si, "42", headers=headers)  # never logged in = logged out elsewhere
    html = response.content.decode()
    assert response.status_code == 401
    assert response["HX-Retarget"] == "#flash" and response["HX-Reswap"] == "innerHTML"
    assert "You are no longer logged in" in html and "<form" not in html
    assert f'href="/login/?next={page_url.replace("/", "%2F")}"' in html
    # a foreign page in HX-Current-URL is not used as the way back
    evil = _answer(client, session, si, "42", headers={**HTMX, "HX-Current-URL": "https://evil.example/x"})
    assert "evil.example" not in evil.content.decode()
    # without htmx, the usual redirect to the login page stays
    plain = _answer(client, session, si, "42", headers={})
    assert plain.status_code == 302 and plain.url.startswith("/login/")
    assert not Attempt.objects.exists()


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url.endswith("favicon.svg")
    assert finders.find("favicon.svg")


def test_scheduling_form_confirms_saving_and_has_bounded_number_fields(client):
    section = SectionFactory()
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    client.force_login(teacher)
    url = reverse("class_schedule", args=[section.pk])
    page = client.get(url).content.decode()
    assert 'type="number" min="0.5" max="0.95"' in page and 'type="number" min="1" max="50" step="1"' in page
    saved = client.post(url, {"target_success": "0.8", "review_weight": "1", "session_length": "12"}, follow=True)
    assert f"Saved: how {section.name} practises." in saved.content.decode()
    bad = client.post(url, {"target_success": "abc", "review_weight": "1", "session_length": "12"})
    assert bad.status_code == 422 and "Target chance of success must be a number." in bad.content.decode()
    section.refresh_from_db()
    assert (section.target_success, section.session_length) == (0.8, 12)


def test_stored_positions_become_option_text(student_and_section):
    """The data migration: attempts recorded as a position ("3") now hold the option ("6")."""
    from importlib import import_module

    migration = import_module("tutor.migrations.0004_attempt_mc_option_text")
    student, section = student_and_section
    session, si = _serve(student, section, item_type="multiple_choice", answer=MC, hints=[])
    common = {"student": student, "item": si.item, "skill": si.item.skill, "session": session, "confidence": 1}
    old = Attempt.objects.create(
        **common, session_item=si, answer="3", normalized_answer="3", correct=False, idempotency_key="a",
        created_at=si.served_at,
    )  # fmt: skip
    seeded = Attempt.objects.create(
        **common, answer="5", normalized_answer="", correct=True, idempotency_key="b", created_at=si.served_at
    )
    migration.positions_to_text(apps, None)
    old.refresh_from_db()
    seeded.refresh_from_db()
    assert (old.answer, old.normalized_answer) == ("6", "6")
    assert (seeded.answer, seeded.normalized_answer) == ("5", "")
    migration.positions_to_text(apps, None)  # running it twice changes nothing
    old.refresh_from_db()
    assert old.answer == "6"
    migration.text_to_positions(apps, None)
    old.refresh_from_db()
    assert (old.answer, old.normalized_answer) == ("3", "3")


def test_asking_for_a_hint_after_the_session_ended_says_so(client, student_and_section):
    student, section = student_and_section
    session, si = _serve(student, section)
    client.force_login(student)
    client.post(reverse("practice_end", args=[session.pk]))
    response = client.post(reverse("practice_hint", args=[session.pk, si.position]), headers=HTMX)
    assert response.status_code == 409 and "This session has ended" in response.content.decode()
    assert response["HX-Retarget"] == "#item-area"  # replaces the card, not just the hint box


def test_scheduling_form_error_with_a_huge_skill_id_is_a_422_not_a_500(client):
    """int() refuses numbers of more than 4,300 digits; the page must still answer with the form."""
    section = SectionFactory()
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    client.force_login(teacher)
    data = {"target_success": "abc", "review_weight": "1", "session_length": "5", "skills_in_play": ["9" * 5000]}
    assert client.post(reverse("class_schedule", args=[section.pk]), data).status_code == 422
