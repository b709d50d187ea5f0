"""Bad input gets a clear 4xx and stores nothing, never a 500 (issue 19)."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
