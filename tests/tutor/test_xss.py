"""Stored script in any free-text field renders as text, CSRF is enforced, the session id changes at login.

Every free-text field of the school in ``tests.tutor.school`` (answers, reflections, plan goals, names, course,
skill, item and class texts) holds both a ``<script>`` and an attribute-breaking ``<img onerror>`` payload; every
page the resolver knows is fetched as the student, their teacher and their organisation's admin.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from metacog.models import Reflection
from tests.factories import PASSWORD
from tests.tutor import school
from tests.tutor.school import fillings, payload, routes
from tutor import services
from tutor.models import Attempt

pytestmark = pytest.mark.django_db

RAW = ("<script>alert(", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert("


@pytest.fixture
def world():
    return school.build(private=payload, authored=payload)


def _html(response) -> str:
    if "text/html" not in response.headers.get("Content-Type", ""):
        return ""
    return response.content.decode()


def _pages(world) -> list[str]:
    urls = []
    for route in routes():
        if route.namespace == "admin" or route.route.startswith("api/"):
            continue
        urls += [reverse(route.name, kwargs=kwargs) for kwargs in fillings(route, world)]
    return urls


def test_every_page_renders_every_stored_payload_as_text(world):
    unsafe, rendered = [], 0
    for viewer in ("victim", "own_teacher", "admin"):
        client = Client()
        client.force_login(world[viewer])
        for url in _pages(world):
            response = client.get(url)
            assert response.status_code < 500, (viewer, url, response.status_code)
            html = _html(response)
            unsafe += [f"{viewer} {url}: {raw}" for raw in RAW if raw in html]
            rendered += ESCAPED in html
    assert not unsafe, "\n".join(unsafe)
    assert rendered >= 10  # the payloads were shown (escaped), on many pages


def test_answers_hints_and_feedback_render_the_payload_as_text(world, client):
    """The practice page's own responses (hint, feedback after an answer, the next item) as htmx fragments
    and as whole pages."""
    session = world["open"]
    client.force_login(world["victim"])
    si = services.session_item_current(session=session)
    for headers in ({"HX-Request": "true"}, {}):
        hint = client.post(reverse("practice_hint", args=[session.pk, si.position]), headers=headers)
        assert not [raw for raw in RAW if raw in hint.content.decode()]
    data = {"answer": payload("typed answer"), "confidence": "0.9", "idempotency_key": "xss-answer"}
    answered = client.post(
        reverse("practice_answer", args=[session.pk, si.position]), data, headers={"HX-Request": "true"}
    )
    html = answered.content.decode()
    assert answered.status_code == 200 and ESCAPED in html and not [raw for raw in RAW if raw in html]
    assert Attempt.objects.filter(answer__contains="<script>").count() >= 2  # stored as typed, shown as text
    for url in (reverse("practice", args=[session.pk]), reverse("my_progress")):
        html = client.get(url).content.decode()
        assert not [raw for raw in RAW if raw in html], url


def test_every_post_without_a_csrf_token_is_refused(world):
    """Every page (not the Bearer-token API, which no browser cookie reaches) refuses a POST without the
    token, before the view runs: nothing is stored."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["victim"])
    before = (Attempt.objects.count(), Reflection.objects.count())
    refused = []
    for url in _pages(world):
        response = client.post(url, {"answer": "x", "goal": "x", "confidence": "0.5", "idempotency_key": "csrf"})
        if response.status_code != 403:
            refused.append(f"{url} -> {response.status_code}")
    assert not refused, "\n".join(refused)
    assert (Attempt.objects.count(), Reflection.objects.count()) == before


def test_a_post_with_the_pages_token_goes_through(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["victim"])
    session = world["open"]
    client.get(reverse("practice", args=[session.pk]))
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    si = services.session_item_current(session=session)
    data = {"answer": "photosynthesis", "confidence": "0.5", "idempotency_key": "with-token"}
    url = reverse("practice_answer", args=[session.pk, si.position])
    assert client.post(url, data, headers={"X-CSRFToken": token}).status_code in (200, 302)
    assert Attempt.objects.filter(idempotency_key="with-token").exists()


def test_the_session_id_changes_at_login():
    """Session fixation: a session id planted before login (a shared classroom computer) is worth nothing
    after it, and the CSRF token changes too."""
    from tests.factories import StudentFactory

    student = StudentFactory()
    client = Client()
    client.get(reverse("login"))
    planted = client.session
    planted["planted"] = True
    planted.save()
    before_key = planted.session_key
    csrf_before = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(reverse("login"), {"username": student.username, "password": PASSWORD})
    assert response.status_code == 302
    after_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after_key != before_key
    assert not SessionStore().exists(before_key)
    assert SessionStore(session_key=after_key).get("_auth_user_id") == str(student.pk)
    assert client.cookies[settings.CSRF_COOKIE_NAME].value != csrf_before
