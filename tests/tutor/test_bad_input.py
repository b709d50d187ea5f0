"""Bad input gets a clear 4xx and stores nothing, never a 500 (issue 19).

PostgreSQL refuses a NUL character in text (DataError); SQLite, which the tests run on, stores it, so
these tests check that such a request never reaches a view, whatever the database.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from metacog.models import Reflection
from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, enrol, serve
from tutor import services
from tutor.models import Attempt

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def served(client):
    section = SectionFactory()
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    session = services.session_start(student=student, section=section)
    si = serve(session, ItemFactory(skill=SkillFactory(course=section.course)))
    client.force_login(student)
    return session, si


def _answer_url(session, si):
    return reverse("practice_answer", args=[session.pk, si.position])


@pytest.mark.parametrize("sent", ["²", "٣٤", "9" * 5000, "-5", "12.5", "1e6", "12345678901"])
def test_a_response_time_that_is_not_a_plain_number_is_ignored(client, served, sent):
    session, si = served
    data = {"answer": "42", "confidence": "0.75", "idempotency_key": "k1", "response_time_ms": sent}
    response = client.post(_answer_url(session, si), data, headers=HTMX)
    assert response.status_code == 200
    attempt = Attempt.objects.get()
    assert attempt.correct and attempt.response_time_ms < 60_000  # the server's own timing


def test_a_plain_response_time_is_kept(client, served):
    session, si = served
    data = {"answer": "42", "confidence": "0.75", "idempotency_key": "k1", "response_time_ms": "4200"}
    assert client.post(_answer_url(session, si), data, headers=HTMX).status_code == 200
    assert Attempt.objects.get().response_time_ms == 4200


@pytest.mark.parametrize("field", ["answer", "idempotency_key", "confidence"])
def test_a_nul_character_in_a_practice_form_is_refused_naming_the_field(client, served, field):
    session, si = served
    data = {"answer": "42", "confidence": "0.75", "idempotency_key": "k1"}
    data[field] = data[field][:1] + "\x00" + data[field][1:]
    response = client.post(_answer_url(session, si), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f"The field '{field}' contains a character that is not allowed." in html
    assert "<html" in html  # a whole page for a plain form post
    assert not Attempt.objects.exists()


def test_htmx_gets_the_refusal_in_the_flash_area_keeping_the_form(client, served):
    session, si = served
    response = client.post(
        _answer_url(session, si), {"answer": "4\x002", "confidence": "0.75", "idempotency_key": "k"}, headers=HTMX
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#flash" and response["HX-Reswap"] == "innerHTML"
    html = response.content.decode()
    assert "contains a character that is not allowed" in html and "<html" not in html
    assert not Attempt.objects.exists()


def test_a_nul_character_in_a_metacog_form_is_refused(client, served):
    session, _ = served
    response = client.post(
        reverse("metacog:plan", args=[session.pk]), {"goal": "no\x00slips", "strategy": "slow_down"}, headers=HTMX
    )
    assert response.status_code == 400
    assert "The field 'goal' contains a character that is not allowed." in response.content.decode()
    assert not Reflection.objects.exists()


def test_a_nul_character_in_the_query_string_or_another_method_is_refused(client, served):
    session, si = served
    assert client.get(reverse("my_progress") + "?page=1%00").status_code == 400
    url = _answer_url(session, si)
    form = client.put(url, "answer=4%002&confidence=0.75", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400 and "'answer'" in form.content.decode()
    body = json.dumps({"attempt": {"answer": "4\x002"}})
    api = client.patch(url, body, content_type="application/json")
    assert api.status_code == 400 and "'attempt.answer'" in api.content.decode()
    assert not Attempt.objects.exists()


def test_a_nul_character_in_a_posted_json_body_is_refused(client, db):
    """The REST API posts JSON; Django leaves request.POST empty for it, so the body itself is read."""
    body = json.dumps({"student": "s1", "item": 1, "answer": "4\x002", "confidence": 0.5})
    response = client.post("/api/v1/attempts/", body, content_type="application/json")
    assert response.status_code == 400 and "'answer'" in response.content.decode()
