"""The student practice flow through services and pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, enrol, serve
from tutor import services
from tutor.models import Attempt, PracticeSession, SessionItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    section = SectionFactory()
    skills = [SkillFactory(course=section.course) for _ in range(3)]
    items = [ItemFactory(skill=s, answer={"value": 42, "tolerance": 0}) for s in skills for _ in range(3)]
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    return section, skills, items, student


def _session(section, student) -> PracticeSession:
    return services.session_start(student=student, section=section)


def test_attempt_records_everything(setup):
    section, _, _, student = setup
    session = _session(section, student)
    si = services.session_item_current(session=session)
    si.item.hints and services.hint_reveal(session_item=si)
    outcome = services.attempt_record(
        student=student, session_item=si, answer=" 42 ", confidence="0.75", idempotency_key="k1", response_time_ms=4200
    )
    a = outcome.attempt
    assert outcome.created and a.correct
    assert (a.student, a.item, a.skill, a.session) == (student, si.item, si.item.skill, session)
    assert a.answer == "42" and a.confidence == 0.75 and a.response_time_ms == 4200 and a.hints_used == 1
    assert a.served_at == si.served_at and a.created_at >= si.served_at


def test_double_submit_records_one_attempt(setup):
    section, _, _, student = setup
    session = _session(section, student)
    si = services.session_item_current(session=session)
    first = services.attempt_record(student=student, session_item=si, answer="41", confidence=1, idempotency_key="abc")
    again = services.attempt_record(student=student, session_item=si, answer="42", confidence=1, idempotency_key="abc")
    other_key = services.attempt_record(
        student=student, session_item=si, answer="42", confidence=1, idempotency_key="x"
    )
    assert first.created and not again.created and not other_key.created
    assert again.attempt.pk == first.attempt.pk == other_key.attempt.pk
    assert Attempt.objects.count() == 1 and not Attempt.objects.get().correct


@pytest.mark.parametrize(
    ("answer", "confidence", "field"),
    [
        ("", "0.5", "answer"),
        ("forty-two", "0.5", "answer"),
        ("42", "", "confidence"),
        ("42", "7", "confidence"),
        ("x" * 501, "0.5", "answer"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(setup, answer, confidence, field):
    section, _, _, student = setup
    si = services.session_item_current(session=_session(section, student))
    with pytest.raises(services.PracticeError) as exc:
        services.attempt_record(
            student=student, session_item=si, answer=answer, confidence=confidence, idempotency_key="k"
        )
    assert exc.value.field == field and exc.value.message
    assert not Attempt.objects.exists()


def test_interleaves_skills_and_never_repeats_the_last_item(setup):
    section, skills, _, student = setup
    section.session_length = 9
    section.save()
    session = _session(section, student)
    seen = []
    for n in range(9):
        si = services.session_item_current(session=session)
        seen.append(si)
        services.attempt_record(student=student, session_item=si, answer="42", confidence=0.5, idempotency_key=f"k{n}")
    assert services.session_item_current(session=session) is None
    skill_ids = [si.item.skill_id for si in seen]
    assert all(a != b for a, b in zip(skill_ids, skill_ids[1:], strict=False)), "consecutive items share a skill"
    assert set(skill_ids) == {s.pk for s in skills}
    assert all(a.item_id != b.item_id for a, b in zip(seen, seen[1:], strict=False))


def test_student_cannot_submit_to_another_students_session(setup, client):
    section, _, _, student = setup
    intruder = StudentFactory(organisation=section.organisation)
    enrol(intruder, section)
    session = _session(section, student)
    si = services.session_item_current(session=session)
    client.force_login(intruder)
    url = reverse("practice_answer", args=[session.pk, si.position])
    response = client.post(url, {"answer": "42", "confidence": "1.0", "idempotency_key": "k"})
    assert response.status_code == 404
    assert client.get(reverse("practice", args=[session.pk])).status_code == 404
    assert client.get(reverse("practice_summary", args=[session.pk])).status_code == 404
    assert client.post(reverse("practice_hint", args=[session.pk, si.position])).status_code == 404
    assert client.post(reverse("practice_end", args=[session.pk])).status_code == 404
    with pytest.raises(services.PracticeError):
        services.attempt_record(student=intruder, session_item=si, answer="42", confidence=1, idempotency_key="k")
    assert not Attempt.objects.exists()
    si.refresh_from_db()
    assert si.hints_shown == 0


def test_student_cannot_start_practice_in_a_class_they_are_not_in(setup, client):
    section, _, _, _ = setup
    outsider = StudentFactory(organisation=section.organisation)
    client.force_login(outsider)
    assert client.post(reverse("practice_start", args=[section.pk])).status_code == 404
    assert not PracticeSession.objects.exists()


def test_page_flow_with_htmx_and_summary(setup, client):
    section, _, _, student = setup
    client.force_login(student)
    response = client.post(reverse("practice_start", args=[section.pk]))
    session = PracticeSession.objects.get(student=student)
    assert response.url == reverse("practice", args=[session.pk])
    for n in range(section.session_length):
        page = client.get(reverse("practice", args=[session.pk]))
        assert page.status_code == 200
        html = page.content.decode()
        key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
        position = n + 1
        assert f"Item {position} of {section.session_length}" in html
        hint = client.post(reverse("practice_hint", args=[session.pk, position]), headers={"HX-Request": "true"})
        assert "Think of 6" in hint.content.decode()
        answer_url = reverse("practice_answer", args=[session.pk, position])
        bad = client.post(
            answer_url, {"answer": "lots", "confidence": "0.5", "idempotency_key": key}, headers={"HX-Request": "true"}
        )
        assert bad.status_code == 422 and "Enter a number" in bad.content.decode()
        good = client.post(
            answer_url,
            {"answer": "42" if n % 2 else "7", "confidence": "0.75", "idempotency_key": key},
            headers={"HX-Request": "true"},
        )
        assert good.status_code == 200
        body = good.content.decode()
        assert ("Correct!" if n % 2 else "Not quite.") in body and "6 × 7 = 42." in body
    assert Attempt.objects.filter(student=student).count() == section.session_length
    assert all(a.hints_used == 1 for a in Attempt.objects.all())
    end = client.post(reverse("practice_end", args=[session.pk]))
    summary = client.get(end.url).content.decode()
    assert 'id="summary-answered">5<' in summary
    assert 'id="summary-accuracy">40 %<' in summary  # 2 of 5 right
    assert 'id="summary-confidence">75 %<' in summary
    # Five answers are too few for a verdict (metacog.calibration); the page says so, and only so.
    assert "Only 5 answers so far: too few to judge your confidence yet" in summary
    assert "You felt surer than your results" not in summary


def test_ending_a_session_drops_the_unanswered_item(setup):
    section, _, _, student = setup
    session = _session(section, student)
    si = services.session_item_current(session=session)
    services.attempt_record(student=student, session_item=si, answer="42", confidence=1, idempotency_key="a")
    services.session_item_current(session=session)
    services.session_end(session=session)
    assert SessionItem.objects.filter(session=session).count() == 1
    assert services.session_item_current(session=session) is None
    with pytest.raises(services.PracticeError):
        services.attempt_record(
            student=student, session_item=serve(session, si.item, 2), answer="42", confidence=1, idempotency_key="b"
        )
