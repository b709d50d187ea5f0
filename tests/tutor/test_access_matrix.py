"""Every page and API endpoint × every kind of outsider: nothing of a student leaks (issue 19).

The URL patterns come from Django's resolver, so a page or endpoint added later is in the matrix without
editing this file. A pattern whose parameter this file cannot fill (a new kind of id) fails the test, naming
it: add the parameter to ``_ids`` rather than letting the new page go unchecked.

A leak is any of: the victim's private text (answers, reflections, names) in a response to someone who may
not see it; a 2xx for a page about the victim's student/session/attempt/suggestion (or their class, for
anyone not in it); a change to the victim's rows or their class's settings after another viewer's request.
"""

from __future__ import annotations

import re
from itertools import product

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from lti.models import Platform, RegistrationInvite
from metacog.models import PromptRule, Reflection, StrategySetting, StrategySuggestion
from tests.factories import api
from tests.tutor import school
from tests.tutor.school import CSRF_EXEMPT, fillings, routes
from tutor import services
from tutor.models import Attempt, Course, Enrollment, Item, PracticeSession, Section, SessionItem, Skill, User

pytestmark = pytest.mark.django_db

SECRET = "zq-secret"
INJECTED = "zq-injected"

# Pages anyone may open signed out (everything else sends them to the login page or refuses), each with why.
PUBLIC = {
    "login": "where a signed-out person signs in",
    "healthz": "the load balancer's liveness probe: says ok and nothing else",
    "favicon": "a redirect to the static icon",
    "api_schema": "the OpenAPI description of the endpoints, no data",
    "api_docs": "the API's reference page over that schema, no data",
    "jwks": "Metis's public keys, which LTI platforms fetch to check the tool's signed messages",
    "lti:jwks": "the same public keyset at the path LTI tools usually publish it",
    "lti:login": "OIDC login initiation: the LMS sends the signed-out browser here; it only redirects back to the LMS",
    "lti:launch": "the LMS posts the signed id_token here; the token's signature and nonce are the authentication",
    "lti:register": "LTI Dynamic Registration: the single-use invite token in the URL is the authorisation",
}
# API details of content that belongs to no school and holds no student's data: every API client reads them.
SHARED_WITH_EVERY_CLIENT = {
    "api_model_version": "the learner-model registry (algorithm, metrics, status) is the same for every school",
}
# Section pages a classmate legitimately uses in their own class (their own practice, never the victim's).
CLASSMATE_SECTION_ACTIONS = {"practice_start"}
# The Django admin is for operators (is_staff): tested separately below, none of the viewers is staff.
STAFF_ONLY_NAMESPACES = {"admin"}
OUTSIDERS = ["classmate", "other_student", "foreign", "other_teacher", "foreign_teacher", "anonymous", "foreign_api"]


ROUTES = sorted(
    {r.name: r for r in routes() if r.namespace not in STAFF_ONLY_NAMESPACES}.values(), key=lambda r: r.name
)
WITH_IDS = [r for r in ROUTES if r.params - {"position"}]
WITHOUT_IDS = [r for r in ROUTES if not r.params]


@pytest.fixture
def world():
    w = school.build(private=lambda field: f"{SECRET}-{field.replace(' ', '-')}", authored=lambda field: field.title())
    _, w["foreign_token"] = services.api_client_create(
        organisation=w["other_org"], name="other school's LMS", scopes=["read", "write"]
    )
    return w


def _client(viewer: str, w: dict) -> Client:
    if viewer == "foreign_api":
        return api(w["foreign_token"])
    client = Client()
    if viewer != "anonymous":
        client.force_login(w[viewer])
    return client


def _snapshot(w: dict) -> dict:
    """The victim's rows and their class's settings: no outsider's request may change any of it."""
    victim, mine = w["victim"], w["mine"]
    return {
        "user": list(User.objects.filter(pk=victim.pk).values()),
        "attempts": list(Attempt.objects.filter(student=victim).values()),
        "reflections": list(Reflection.objects.filter(student=victim).values()),
        "sessions": list(PracticeSession.objects.filter(student=victim).values()),
        "items": list(SessionItem.objects.filter(session__student=victim).values()),
        "suggestions": list(StrategySuggestion.objects.filter(student=victim).values()),
        "enrolments": sorted(Enrollment.objects.filter(section=mine).values_list("student_id", flat=True)),
        "victim_enrolments": sorted(Enrollment.objects.filter(student=victim).values_list("section_id", flat=True)),
        "class": list(Section.objects.filter(pk=mine.pk).values()),
        "in_play": sorted(mine.skills_in_play.values_list("pk", flat=True)),
        "prompts": list(PromptRule.objects.filter(section=mine).values()),
        "strategies": list(StrategySetting.objects.filter(section=mine).values()),
        "content": [
            list(Course.objects.filter(pk=w["course"].pk).values()),
            list(Skill.objects.filter(course=w["course"]).values()),
            list(Item.objects.filter(skill__course=w["course"]).values()),
        ],
        "lti": [
            list(RegistrationInvite.objects.filter(organisation=w["org"]).values()),
            list(Platform.objects.filter(organisation=w["org"]).values()),
        ],
    }


def _form(w: dict) -> dict:
    """A POST that would write something wherever it got through."""
    roster = f"username,first_name,last_name,email\nzq-injected-roster,{INJECTED},{INJECTED},\n".encode()
    return {
        "username": "zq-injected-student",
        "first_name": INJECTED,
        "last_name": INJECTED,
        "target": w["other_class"].pk,
        "roster": SimpleUploadedFile("roster.csv", roster, content_type="text/csv"),
        "name": INJECTED,
        "course": w["course"].pk,
        "answer": INJECTED,
        "goal": INJECTED,
        "second_answer": INJECTED,
        "kind": "summary",
        "judgment": "0.5",
        "confidence": "0.5",
        "idempotency_key": "zq-injected-key",
        "response": "accept",
        "rating": "1",
        "form": "prompts",
        "target_success": "0.6",
        "review_weight": "2",
        "session_length": "40",
    }


def _api_body(w: dict) -> dict:
    """Create bodies naming the victim's organisation's parents (class, student, item): an attempt's, an
    enrolment's."""
    return {
        "student": w["victim"].external_id,
        "student_id": w["foreign"].pk,
        "class_id": w["mine"].pk,
        "class": w["mine"].pk,
        "item": w["item"].pk,
        "answer": INJECTED,
        "confidence": 0.5,
        "idempotency_key": "zq-injected-key",
        "name": INJECTED,
        "first_name": INJECTED,
    }


def _item_body(w: dict) -> dict:
    """An authored item under the victim's school's skill (POST), or a change to one (PATCH): valid, so a
    refusal can only come from the access rule, not from the body's shape."""
    return {
        "skill": w["skill"].pk,
        "slug": "zq-injected-item",
        "type": "text",
        "prompt": INJECTED,
        "answer": {"accepted": [INJECTED]},
        "hints": [INJECTED],
        "solution": INJECTED,
    }


def _request(client, method: str, url: str, w: dict, api_route: bool):
    if api_route:
        body = {"get": None, "patch": _item_body(w)}.get(method, _api_body(w))
        return getattr(client, method)(url, body, format="json")
    if method == "post":
        return client.post(url, _form(w))
    return client.get(url)


def _found(text: str) -> list[str]:
    return re.findall(SECRET + r"[-\w]*", text)


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode(errors="replace") + response.headers.get("Location", "")


def test_the_resolver_finds_the_pages_this_matrix_is_about():
    """A guard on the enumeration itself: if it found nothing, every other test here would pass vacuously."""
    names = {r.name for r in WITH_IDS}
    assert {"practice", "practice_summary", "student_attempts", "metacog:student", "api_student"} <= names
    assert {"class_student", "class_session", "class_student_move", "api_student_reflections", "lti:pick"} <= names
    assert len(WITH_IDS) >= 20


def test_the_allow_lists_name_only_routes_that_exist():
    """An exception left behind by a removed or renamed route would silently cover whatever takes its name."""
    names = {r.name for r in ROUTES}
    for allowed in (PUBLIC, CSRF_EXEMPT, SHARED_WITH_EVERY_CLIENT, CLASSMATE_SECTION_ACTIONS):
        assert set(allowed) <= names, set(allowed) - names


@pytest.mark.parametrize("route", WITH_IDS, ids=lambda r: r.name)
def test_no_outsider_sees_or_changes_the_victims_data(route, world):
    api_route = route.route.startswith("api/")
    methods = ["get", "post", "patch", "put", "delete"] if api_route else ["get", "post"]
    before = _snapshot(world)
    leaks = []
    for viewer, kwargs, method in product(OUTSIDERS, fillings(route, world), methods):
        url = reverse(route.name, kwargs=kwargs)
        response = _request(_client(viewer, world), method, url, world, api_route)
        status, text = response.status_code, _text(response)
        where = f"{viewer} {method.upper()} {url} -> {status}"
        if SECRET in text:
            leaks.append(f"{where}: the victim's text is in the response: {_found(text)}")
        may_act = (
            viewer == "classmate" and route.params == {"section_id"} and route.name in CLASSMATE_SECTION_ACTIONS
        ) or (viewer == "foreign_api" and method == "get" and route.name in SHARED_WITH_EVERY_CLIENT)
        if 200 <= status < 300 and not may_act:
            leaks.append(f"{where}: an outsider is served")
        if status >= 500:
            leaks.append(f"{where}: server error")
        if 300 <= status < 400 and viewer == "anonymous" and not response["Location"].startswith("/login/"):
            leaks.append(f"{where}: signed out but not sent to the login page ({response['Location']})")
        if _snapshot(world) != before:
            leaks.append(f"{where}: changed the victim's data or class")
            before = _snapshot(world)
    assert not leaks, "\n".join(leaks)
    assert not Attempt.objects.filter(answer__contains=INJECTED).exists()
    assert not Reflection.objects.filter(answer__contains=INJECTED).exists()
    assert not User.objects.filter(first_name=INJECTED).exists()
    assert not Item.objects.filter(prompt=INJECTED).exists()


@pytest.mark.parametrize("route", WITHOUT_IDS, ids=lambda r: r.name)
def test_lists_and_own_pages_show_an_outsider_nothing_of_the_victim(route, world):
    """Pages without an id (home, my progress, the API's lists filtered by the victim's class) show each
    viewer only their own: none of them has the victim's text, and signed out only the public pages answer."""
    api_route = route.route.startswith("api/")
    filters = {"class": world["mine"].pk, "student": world["victim"].external_id, "skill": world["skill"].pk}
    leaks = []
    for viewer in OUTSIDERS:
        client = _client(viewer, world)
        response = client.get(reverse(route.name), filters if api_route else None)
        status, text = response.status_code, _text(response)
        if SECRET in text:
            leaks.append(f"{viewer} GET {route.name} -> {status}: {_found(text)}")
        if status >= 500:
            leaks.append(f"{viewer} GET {route.name} -> {status}: server error")
        if viewer == "anonymous" and 200 <= status < 300 and route.name not in PUBLIC:
            leaks.append(f"anonymous GET {route.name} -> {status}: not in PUBLIC, yet served signed out")
    assert not leaks, "\n".join(leaks)


API_WRITES_WITHOUT_IDS = [r for r in WITHOUT_IDS if r.route.startswith("api/v1/")]


@pytest.mark.parametrize("route", API_WRITES_WITHOUT_IDS, ids=lambda r: r.name)
def test_another_schools_client_cannot_write_into_the_victims_school(route, world):
    """The API's collections take POSTs (attempts, enrolments, items, rosters): bodies naming the victim,
    their class and their school's skill, from another organisation's client, are refused and change nothing."""
    client, before = _client("foreign_api", world), _snapshot(world)
    for body in (_api_body(world), _item_body(world)):
        response = client.post(reverse(route.name), body, format="json")
        assert response.status_code >= 400 and response.status_code < 500, (route.name, body, response.content)
        assert SECRET not in _text(response)
    assert _snapshot(world) == before
    assert not Item.objects.filter(prompt=INJECTED).exists()
    assert not Attempt.objects.filter(answer__contains=INJECTED).exists()


def test_the_victim_and_their_teacher_do_see_it(world):
    """The positive control: the same requests that show outsiders nothing show the text to those who may
    see it, so the matrix above would notice a leak."""
    victim, teacher = Client(), Client()
    victim.force_login(world["victim"])
    teacher.force_login(world["own_teacher"])
    ended, student = world["ended"].pk, world["victim"].pk
    assert f"{SECRET}-what-worked" in victim.get(reverse("practice_summary", args=[ended])).content.decode()
    assert f"{SECRET}-summary" in victim.get(reverse("metacog:me")).content.decode()
    assert f"{SECRET}-open-answer" in victim.get(reverse("my_progress")).content.decode()
    assert f"{SECRET}-answer-1" in teacher.get(reverse("student_attempts", args=[student])).content.decode()
    assert f"{SECRET}-what-worked" in teacher.get(reverse("metacog:student", args=[student])).content.decode()
    _, token = services.api_client_create(organisation=world["org"], name="own LMS", scopes=["read"])
    assert f"{SECRET}-first-name" in api(token).get(reverse("api_student", args=[student])).content.decode()


def test_the_admin_turns_away_every_viewer_who_is_not_staff(world):
    """Every admin change/delete/history page of the victim's user row sends non-staff to the admin login."""
    admin_routes = [r for r in routes() if r.namespace == "admin" and r.params == {"object_id"}]
    user_routes = [r for r in admin_routes if r.name.startswith("admin:tutor_user_")]
    assert user_routes
    for route, viewer in product(user_routes, OUTSIDERS[:-1]):
        response = _client(viewer, world).get(reverse(route.name, kwargs={"object_id": world["victim"].pk}))
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), (route, viewer)
        assert SECRET not in _text(response)


def test_the_same_writes_go_through_for_the_classs_own_teacher(world):
    """The positive control for the writes: the form the outsiders post adds students, by hand and by roster, and
    moves the victim, when the class's own teacher posts it, so the snapshot above would notice it from anyone else."""
    teacher = _client("own_teacher", world)
    world["other_class"].teachers.add(world["own_teacher"])  # a class to move the victim to
    mine, victim = world["mine"].pk, world["victim"].pk
    for name in ("class_student_add", "class_roster_upload"):
        assert teacher.post(reverse(name, args=[mine]), _form(world)).status_code in (200, 302), name
    enrolled = set(Enrollment.objects.filter(section=world["mine"]).values_list("student__username", flat=True))
    assert {"zq-injected-student", "zq-injected-roster"} <= enrolled
    assert User.objects.filter(username="zq-injected-roster", first_name=INJECTED).exists()
    response = teacher.post(reverse("class_student_move", args=[mine, victim]), _form(world))
    assert response.status_code == 302
    assert list(Enrollment.objects.filter(student_id=victim).values_list("section_id", flat=True)) == [
        world["other_class"].pk
    ]


def test_the_same_api_body_authors_an_item_for_the_schools_own_client(world):
    """The API's positive control: the body the foreign client sends does rewrite the victim's school's item
    when that school's own client sends it."""
    _, token = services.api_client_create(organisation=world["org"], name="own LMS", scopes=["read", "write"])
    item = world["item"]
    response = api(token).patch(reverse("api_item", args=[item.pk]), _item_body(world), format="json")
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert item.prompt == INJECTED
