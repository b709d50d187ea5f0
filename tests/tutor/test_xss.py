"""Stored script in any free-text field renders as text, CSRF is enforced, the session id changes at login.

Every free-text field of the school in ``tests.tutor.school`` (answers, reflections, plan goals, names, course,
skill, item and class texts) holds both a ``<script>`` and an attribute-breaking ``<img onerror>`` payload; every
page the resolver knows is fetched as the student, their teacher and their organisation's admin.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from lti.models import Platform
from metacog.models import Reflection
from tests.factories import PASSWORD, CourseFactory, SectionFactory, SkillFactory, api, enrol
from tests.tutor import school
from tests.tutor.school import CSRF_EXEMPT, fillings, payload, routes
from tutor import services
from tutor.models import Attempt, User

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


def _pages(world, *, csrf_exempt: bool = True) -> list[str]:
    urls = []
    for route in routes():
        if route.namespace == "admin" or route.route.startswith("api/"):
            continue
        if not csrf_exempt and route.name in CSRF_EXEMPT:
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
    for url in _pages(world, csrf_exempt=False):
        response = client.post(url, {"answer": "x", "goal": "x", "confidence": "0.5", "idempotency_key": "csrf"})
        if response.status_code != 403:
            refused.append(f"{url} -> {response.status_code}")
    assert not refused, "\n".join(refused)
    assert (Attempt.objects.count(), Reflection.objects.count()) == before


@pytest.mark.parametrize("name", sorted(CSRF_EXEMPT))
def test_the_lti_endpoints_without_csrf_refuse_a_post_that_lacks_the_protocols_own_proof(world, name):
    """The LMS posts login initiation and launch cross-site, so they take no CSRF token; a browser's forged POST
    without the platform's parameters or signed id_token is refused there, signs nobody in and stores nothing."""
    client = Client(enforce_csrf_checks=True)
    before = (Attempt.objects.count(), Reflection.objects.count())
    response = client.post(reverse(name), {"answer": "x", "state": "forged", "id_token": "forged"})
    assert response.status_code == 400, response.status_code
    assert "_auth_user_id" not in client.session
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


def _unsafe(html: str) -> list[str]:
    return [raw for raw in RAW if raw in html]


def test_names_a_teacher_types_or_uploads_render_as_text(world):
    """Students added by hand and by roster CSV carry names the school typed: the once-shown passwords page and
    the class pages show them as text."""
    client = Client()
    client.force_login(world["own_teacher"])
    section = world["mine"].pk
    typed = {"username": "xss-typed", "first_name": payload("typed first"), "last_name": payload("typed last")}
    added = client.post(reverse("class_student_add", args=[section]), typed)
    assert added.status_code == 200 and not _unsafe(added.content.decode())
    assert "&lt;script&gt;alert(&quot;typed_first" in added.content.decode()
    rows = io.StringIO()
    csv.writer(rows).writerows(
        [
            ["username", "first_name", "last_name", "email"],
            ["xss-roster", payload("roster first"), payload("roster last"), ""],
        ]
    )
    roster = SimpleUploadedFile("roster.csv", rows.getvalue().encode(), content_type="text/csv")
    uploaded = client.post(reverse("class_roster_upload", args=[section]), {"roster": roster})
    assert uploaded.status_code == 200 and not _unsafe(uploaded.content.decode())
    assert "&lt;script&gt;alert(&quot;roster_last" in uploaded.content.decode()
    student = User.objects.get(username="xss-roster")
    for name, args in (
        ("class_manage", [section]),
        ("class_overview", [section]),
        ("class_student", [section, student.pk]),
    ):
        html = _html(client.get(reverse(name, args=args)))
        assert not _unsafe(html), name
        assert "&lt;script&gt;alert(&quot;roster_first" in html, name
    export = client.get(reverse("class_export", args=[section]))  # the names in a CSV, never served as a page
    assert export.status_code == 200 and "text/html" not in export.headers["Content-Type"]


def test_an_item_authored_through_the_api_renders_as_text(world):
    """A multiple-choice item written through the API, script in its prompt, choices (shown inside attributes),
    hints and solution: the practice page, its hint and its feedback show all of it as text."""
    skill = SkillFactory(course=CourseFactory(), name="authored skill")
    section = SectionFactory(organisation=world["org"], course=skill.course, session_length=1)
    enrol(world["victim"], section)
    _, token = services.api_client_create(organisation=world["org"], name="authoring tool", scopes=["read", "write"])
    body = {
        "skill": skill.pk,
        "slug": "xss-authored",
        "type": "multiple_choice",
        "prompt": payload("authored prompt"),
        "answer": {"choices": [payload("choice 0"), payload("choice 1")], "correct": 1},
        "hints": [payload("authored hint")],
        "solution": payload("authored solution"),
    }
    created = api(token).post(reverse("api_items"), body, format="json")
    assert created.status_code == 201, created.content
    session = services.session_start(student=world["victim"], section=section)
    client = Client()
    client.force_login(world["victim"])
    page = client.get(reverse("practice", args=[session.pk])).content.decode()
    assert not _unsafe(page)
    assert "&lt;script&gt;alert(&quot;authored_prompt" in page and "alert(&quot;choice_0" in page
    hint = client.post(reverse("practice_hint", args=[session.pk, 1]), headers={"HX-Request": "true"})
    assert not _unsafe(hint.content.decode()) and "alert(&quot;authored_hint" in hint.content.decode()
    data = {"answer": "0", "confidence": "0.9", "idempotency_key": "xss-authored"}
    feedback = client.post(reverse("practice_answer", args=[session.pk, 1]), data, headers={"HX-Request": "true"})
    html = feedback.content.decode()
    assert feedback.status_code == 200 and not _unsafe(html)
    assert "alert(&quot;authored_solution" in html


def test_the_lti_class_picker_renders_class_and_school_names_as_text(world):
    """A teacher's deep-linking launch lists their classes (names, course titles, the school) to pick from."""
    platform = Platform.objects.create(
        organisation=world["org"],
        name=payload("platform name"),
        issuer="https://lms.example",
        client_id="metis",
        auth_login_url="https://lms.example/auth",
        auth_token_url="https://lms.example/token",
        key_set_url="https://lms.example/jwks",
    )
    client = Client()
    client.force_login(world["own_teacher"])
    session = client.session
    session["lti-launch-xss"] = {
        "body": {},
        "kind": "deep_link",
        "platform": platform.pk,
        "link": None,
        "user": world["own_teacher"].pk,
    }
    session.save()
    response = client.get(reverse("lti:pick", args=["xss"]))
    html = response.content.decode()
    assert response.status_code == 200 and not _unsafe(html)
    assert "&lt;script&gt;alert(&quot;class_name" in html and "alert(&quot;organisation_name" in html
