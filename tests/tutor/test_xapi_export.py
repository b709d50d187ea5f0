"""xAPI export as an integrator and an operator meet it: GET /api/v1/xapi/statements/ (tokens, the organisation
boundary, paging by ``more``) and ``manage.py xapi_export``, every statement valid against the xAPI 1.0.3 schema."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, api, enrol, serve
from tutor import xapi
from tutor.models import Attempt, Organisation, PracticeSession, Section, User
from tutor.services import api_client_create

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(xapi.__file__).parent / "xapi_schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
URL = "/api/v1/xapi/statements/"


@dataclass
class School:
    org: Organisation
    section: Section
    student: User
    practised: Attempt  # in a session of the class
    ingested: Attempt  # posted through the API, outside any class
    token: str


def _school(slug: str) -> School:
    org = Organisation.objects.create(slug=slug, name=slug.title())
    skill = SkillFactory()
    mc = ItemFactory(skill=skill, item_type="multiple_choice", answer={"choices": ["1/2", "1/3"], "correct": 0})
    numeric = ItemFactory(skill=skill)
    section = SectionFactory(organisation=org, course=skill.course)
    student = StudentFactory(organisation=org, external_id=f"{slug}-s1", first_name="Ada", last_name="Lovelace")
    enrol(student, section)
    now = timezone.now()
    session = PracticeSession.objects.create(student=student, section=section, started_at=now - timedelta(days=3))
    practised = Attempt.objects.create(
        student=student, item=mc, skill=skill, session=session, session_item=serve(session, mc), answer="1/2",
        correct=True, confidence=0.75, response_time_ms=8400, hints_used=1, idempotency_key=f"{slug}-k1",
        created_at=now - timedelta(days=3),
    )  # fmt: skip
    ingested = Attempt.objects.create(
        student=student, item=numeric, skill=skill, answer="41", correct=False, confidence=0.5,
        idempotency_key=f"{slug}-k2", created_at=now - timedelta(days=1),
    )  # fmt: skip
    _, token = api_client_create(organisation=org, name="lrs-bridge", scopes=["read"])
    return School(org, section, student, practised, ingested, token)


@pytest.fixture
def a() -> School:
    return _school("alpha")


@pytest.fixture
def b() -> School:
    return _school("beta")


def statements(response) -> list[dict]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"statements", "more"}
    for statement in body["statements"]:
        assert list(VALIDATOR.iter_errors(statement)) == []
    return body["statements"]


def sid(attempt: Attempt) -> str:
    from tutor.xapi_selectors import xapi_site

    return xapi.statement_id(site=xapi_site(), attempt_id=attempt.pk)


def test_the_endpoint_returns_valid_statements_with_class_and_course(a, settings):
    settings.SITE_URL = "https://metis.example.org"
    got = statements(api(a.token).get(URL))
    assert [s["id"] for s in got] == [sid(a.practised), sid(a.ingested)]
    practised, ingested = got
    assert practised["actor"]["account"] == {
        "homePage": "https://metis.example.org/organisations/alpha",
        "name": "alpha-s1",
    }
    assert practised["result"] == {
        "success": True,
        "response": "choice-0",
        "score": {"scaled": 1.0, "raw": 1, "min": 0, "max": 1},
        "duration": "PT8.4S",
        "extensions": {
            "https://metis.example.org/xapi/extensions/confidence": 0.75,
            "https://metis.example.org/xapi/extensions/hints-used": 1,
        },
    }
    grouping = [g["id"] for g in practised["context"]["contextActivities"]["grouping"]]
    course = f"https://metis.example.org/xapi/activities/courses/{a.section.course.slug}"
    assert grouping == [course, f"https://metis.example.org/xapi/activities/classes/{a.section.pk}"]
    assert [g["id"] for g in ingested["context"]["contextActivities"]["grouping"]] == [course]
    assert ingested["result"]["success"] is False and ingested["result"]["score"]["scaled"] == 0.0


def test_filters_by_class_and_since(a):
    assert [s["id"] for s in statements(api(a.token).get(URL, {"class": a.section.pk}))] == [sid(a.practised)]
    since = (timezone.now() - timedelta(days=2)).isoformat()
    assert [s["id"] for s in statements(api(a.token).get(URL, {"since": since}))] == [sid(a.ingested)]


def test_paging_follows_more_until_it_is_empty(a):
    extra = [
        Attempt.objects.create(
            student=a.student, item=a.ingested.item, skill=a.ingested.skill, answer="42", correct=True,
            confidence=1.0, idempotency_key=f"extra-{i}", created_at=timezone.now(),
        )
        for i in range(3)
    ]  # fmt: skip
    seen, url, pages = [], f"{URL}?limit=2", 0
    while url:
        body = api(a.token).get(url)
        seen += [s["id"] for s in statements(body)]
        url, pages = body.json()["more"], pages + 1
        assert not url or (url.startswith(URL) and "limit=2" in url)  # relative, the filters kept
    assert pages == 3
    assert seen == [sid(x) for x in (a.practised, a.ingested, *extra)]


def test_a_client_never_gets_another_organisations_statements(a, b):
    ours = {s["id"] for s in statements(api(a.token).get(URL, {"limit": 500}))}
    assert ours == {sid(a.practised), sid(a.ingested)}
    assert not ours & {sid(b.practised), sid(b.ingested)}
    assert statements(api(a.token).get(URL, {"class": b.section.pk})) == []  # their class: nothing, not an error
    assert statements(api(a.token).get(URL, {"cursor": 0, "limit": 500})) != []
    for s in statements(api(b.token).get(URL)):
        assert s["actor"]["account"]["name"] == "beta-s1"


def test_without_a_token_it_is_401(a):
    response = api().get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("param, value", [("since", "yesterday"), ("limit", "0"), ("class", "x"), ("cursor", "-1")])
def test_a_bad_parameter_is_a_400_naming_it(a, param, value):
    response = api(a.token).get(URL, {param: value})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == param


def test_the_actor_is_never_the_username_or_real_name(a):
    a.student.external_id = ""
    a.student.save()
    (statement, *_) = statements(api(a.token).get(URL))
    name = statement["actor"]["account"]["name"]
    assert name.startswith("metis-") and uuid.UUID(name.removeprefix("metis-"))  # not the row id either
    for secret in (a.student.username, "Ada", "Lovelace"):
        assert secret not in json.dumps(statement["actor"])
    assert statements(api(a.token).get(URL))[0]["actor"]["account"]["name"] == name  # stable


def test_one_page_is_a_fixed_number_of_queries(a, django_assert_num_queries):
    for i in range(10):
        Attempt.objects.create(
            student=a.student, item=a.practised.item, skill=a.practised.skill, session=a.practised.session,
            answer="1/3", correct=False, confidence=0.25, idempotency_key=f"more-{i}", created_at=timezone.now(),
        )  # fmt: skip
    client = api(a.token)
    with django_assert_num_queries(2):  # the token, then one page with everything joined
        assert len(statements(client.get(URL))) == 12


# --- manage.py xapi_export ---------------------------------------------------------------


def export(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("xapi_export", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_writes_one_json_array_of_valid_statements_matching_the_api(a, b, tmp_path):
    path = tmp_path / "alpha.json"
    _, err = export("--org", "alpha", "--out", str(path))
    exported = json.loads(path.read_text())
    assert [s["id"] for s in exported] == [sid(a.practised), sid(a.ingested)]
    for statement in exported:
        assert list(VALIDATOR.iter_errors(statement)) == []
    assert exported == statements(api(a.token).get(URL))  # one mapping, two doors
    assert "wrote 2 statements for alpha" in err
    again = tmp_path / "again.json"
    export("--org", "alpha", "--out", str(again))
    assert json.loads(again.read_text()) == exported  # same ids: idempotent for an LRS


def test_export_as_json_lines_with_class_and_since(a):
    out, _ = export("--org", "alpha", "--jsonl", "--class", str(a.section.pk))
    assert [json.loads(line)["id"] for line in out.splitlines()] == [sid(a.practised)]
    since = (timezone.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")  # naive: read as UTC
    out, _ = export("--org", "alpha", "--jsonl", "--since", since)
    assert [json.loads(line)["id"] for line in out.splitlines()] == [sid(a.ingested)]
    out, _ = export("--org", "alpha", "--since", timezone.now().isoformat())
    assert json.loads(out) == []


def test_export_shows_progress_for_large_exports(a, monkeypatch):
    from tutor.management.commands import xapi_export

    monkeypatch.setattr(xapi_export, "BATCH", 1)
    out, err = export("--org", "alpha")
    assert len(json.loads(out)) == 2
    assert "1/2 statements" in err and "2/2 statements" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--org", "nowhere"], "no organisation 'nowhere'"),
        (["--org", "alpha", "--since", "last week"], "not an ISO 8601 time"),
        (["--org", "alpha", "--class", "999999"], "no class 999999 in alpha"),
    ],
)
def test_export_errors_are_clear(a, args, message):
    with pytest.raises(CommandError, match=message):
        export(*args)


def test_export_refuses_another_organisations_class(a, b):
    with pytest.raises(CommandError, match=f"no class {b.section.pk} in alpha"):
        export("--org", "alpha", "--class", str(b.section.pk))
