"""The REST API as an integrator meets it: tokens and scopes, the organisation boundary on every endpoint,
error bodies, paging and filters, idempotent and all-or-nothing attempt ingestion, throttling, the schema."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import ApiSchool as School
from tests.factories import SkillFactory, StudentFactory, api, api_school, enrol
from tutor.models import ApiClient, Attempt, Organisation, User
from tutor.services import api_client_create, api_client_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture
def a() -> School:
    return api_school("alpha")


@pytest.fixture
def b() -> School:
    return api_school("beta")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# Each resource: its list URL, and how to find school B's object of that kind.
RESOURCES = {
    "organisations": lambda s: s.org.pk,
    "classes": lambda s: s.section.pk,
    "students": lambda s: s.student.pk,
    "enrolments": lambda s: s.section.enrollments.get().pk,
    "courses": lambda s: s.section.course_id,
    "skills": lambda s: s.item.skill_id,
    "items": lambda s: s.item.pk,
    "attempts": lambda s: s.attempt.pk,
}
LIST_URLS = [f"/api/v1/{name}/" for name in RESOURCES]


@pytest.mark.parametrize("url", [*LIST_URLS, "/api/v1/attempts/1/", "/api/v1/classes/1/"])
@pytest.mark.parametrize(
    "header", [None, "Bearer metis_000000000000_nope", "Bearer nonsense", "Token abc", "Basic dXNlcjpwYXNz"]
)
def test_missing_or_bad_token_is_401_with_an_error_body(url, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] in {"not_authenticated", "authentication_failed"}
    assert error["message"] and error["field"] is None


def test_a_signed_in_browser_session_gets_no_api_access(client, a):
    admin = User.objects.create_superuser("op", password="pw-long-enough-1")
    client.force_login(admin)
    assert client.get("/api/v1/students/").status_code == 401


def test_revoked_token_stops_working_at_once(a):
    assert api(a.token).get("/api/v1/classes/").status_code == 200
    api_client_revoke(client=ApiClient.objects.get(organisation=a.org, name="lms"))
    assert api(a.token).get("/api/v1/classes/").status_code == 401


def test_token_with_a_wrong_secret_is_refused(a):
    key_id = ApiClient.objects.get(organisation=a.org, name="lms").key_id
    assert api(f"metis_{key_id}_not-the-secret").get("/api/v1/classes/").status_code == 401


@pytest.mark.parametrize("name", RESOURCES)
def test_lists_show_only_the_clients_organisation(name, a, b):
    url = f"/api/v1/{name}/"
    find = RESOURCES[name]
    assert ids(api(a.token).get(url)) == {find(a)}
    assert ids(api(b.read_token).get(url)) == {find(b)}


@pytest.mark.parametrize("name", RESOURCES)
def test_objects_of_another_organisation_are_404(name, a, b):
    find = RESOURCES[name]
    mine = api(a.token).get(f"/api/v1/{name}/{find(a)}/")
    assert mine.status_code == 200 and mine.json()["id"] == find(a)
    foreign = api(a.token).get(f"/api/v1/{name}/{find(b)}/")
    assert foreign.status_code == 404
    assert foreign.json() == {"error": {"code": "not_found", "message": "Not found.", "field": None}}


def test_an_empty_organisation_sees_empty_lists(a):
    lonely = Organisation.objects.create(slug="lonely", name="Lonely")
    _, token = api_client_create(organisation=lonely, name="x", scopes=["read"])
    for url in LIST_URLS:
        body = api(token).get(url).json()
        if url.endswith("organisations/"):
            assert [r["slug"] for r in body["results"]] == ["lonely"]
        else:
            assert body == {"count": 0, "next": None, "previous": None, "results": []}, url


def test_items_never_show_the_answer(a):
    row = api(a.token).get(f"/api/v1/items/{a.item.pk}/").json()
    assert row["prompt"] == a.item.prompt and row["hints"] == a.item.hints
    assert "answer" not in row and "solution" not in row


@pytest.mark.parametrize(("name", "queries"), [("attempts", 3), ("students", 3), ("skills", 4), ("enrolments", 3)])
def test_list_queries_do_not_grow_with_the_rows(name, queries, a, django_assert_num_queries):
    """Token lookup, count, rows (and one prefetch for skills' prerequisites), whatever the page holds."""
    for n in range(5):
        student = StudentFactory(organisation=a.org, external_id=f"q{n}")
        enrol(student, a.section)
        Attempt.objects.create(
            student=student,
            item=a.item,
            skill=a.item.skill,
            answer="42",
            correct=True,
            confidence=1,
            idempotency_key=f"q{n}",
            created_at=timezone.now(),
        )
        SkillFactory(course=a.section.course).prerequisites.add(a.item.skill)
    with django_assert_num_queries(queries):
        assert len(api(a.token).get(f"/api/v1/{name}/").json()["results"]) == 6


def test_admin_revokes_clients_but_cannot_add_one(client, a):
    admin_user = User.objects.create_superuser("op", password="pw-long-enough-1")
    client.force_login(admin_user)
    assert client.get("/admin/tutor/apiclient/add/").status_code == 403
    page = client.get("/admin/tutor/apiclient/")
    assert page.status_code == 200 and "secret_hash" not in page.content.decode()
    lms = ApiClient.objects.get(organisation=a.org, name="lms")
    client.post("/admin/tutor/apiclient/", {"action": "revoke", "_selected_action": [lms.pk]})
    assert api(a.token).get("/api/v1/classes/").status_code == 401
    assert api(a.read_token).get("/api/v1/classes/").status_code == 200


# --- filters and paging ----------------------------------------------------------------


def test_students_filter_by_external_id_and_class(a, b):
    other = StudentFactory(organisation=a.org, external_id="alpha-s2")
    assert ids(api(a.token).get("/api/v1/students/", {"external_id": "alpha-s2"})) == {other.pk}
    assert ids(api(a.token).get("/api/v1/students/", {"class": a.section.pk})) == {a.student.pk}
    assert ids(api(a.token).get("/api/v1/students/", {"external_id": "beta-s1"})) == set()
    assert ids(api(a.token).get("/api/v1/students/", {"class": b.section.pk})) == set()


def test_a_bad_filter_is_400_naming_it(a):
    response = api(a.token).get("/api/v1/students/", {"class": "abc"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "class"
    response = api(a.token).get("/api/v1/attempts/", {"since": "yesterday"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "since"


def test_attempts_filter_by_student_and_since(a):
    other = StudentFactory(organisation=a.org, external_id="alpha-s2")
    recent = Attempt.objects.create(
        student=other,
        item=a.item,
        skill=a.item.skill,
        answer="42",
        correct=True,
        confidence=1,
        idempotency_key="k-recent",
        created_at=timezone.now(),
    )
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(api(a.token).get("/api/v1/attempts/", {"since": since})) == {recent.pk}
    assert ids(api(a.token).get("/api/v1/attempts/", {"student": "alpha-s1"})) == {a.attempt.pk}
    assert ids(api(a.token).get("/api/v1/attempts/", {"student": "alpha-s1", "since": since})) == set()


def test_enrolments_filter_by_class_and_student(a, b):
    enrolment = a.section.enrollments.get()
    assert ids(api(a.token).get("/api/v1/enrolments/", {"class": a.section.pk})) == {enrolment.pk}
    assert ids(api(a.token).get("/api/v1/enrolments/", {"student": "alpha-s1"})) == {enrolment.pk}
    assert ids(api(a.token).get("/api/v1/enrolments/", {"class": b.section.pk})) == set()


@override_settings(API_MAX_PAGE_SIZE=3)
def test_paging_with_limit_and_offset_capped_at_the_maximum(a):
    for n in range(4):
        StudentFactory(organisation=a.org, external_id=f"extra-{n}")
    first = api(a.token).get("/api/v1/students/", {"limit": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and "offset=2" in first["next"]
    rest = api(a.token).get("/api/v1/students/", {"limit": 2, "offset": 4}).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert len(api(a.token).get("/api/v1/students/", {"limit": 10_000}).json()["results"]) == 3  # the cap


# --- writes: scopes, boundary, idempotency, batches -------------------------------------------


def _attempt(school: School, **over) -> dict:
    body = {"student": school.student.external_id, "item": school.item.pk, "answer": "42", "confidence": 0.75}
    return {**body, **over}


def test_read_only_client_cannot_write(a):
    before = Attempt.objects.count()
    response = api(a.read_token).post("/api/v1/attempts/", _attempt(a), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission_denied",
        "message": "This client lacks the 'write' scope.",
        "field": None,
    }
    batch = api(a.read_token).post("/api/v1/attempts/batch/", [_attempt(a, idempotency_key="k")], format="json")
    assert batch.status_code == 403
    assert Attempt.objects.count() == before


def test_post_attempt_grades_and_stores_it_outside_any_session(a):
    response = api(a.token).post("/api/v1/attempts/", _attempt(a), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["correct"] is True and row["source"] == "ingested" and row["class_id"] is None
    stored = Attempt.objects.get(pk=row["id"])
    assert stored.session is None and stored.student == a.student and stored.idempotency_key == "k1"
    wrong = api(a.token).post("/api/v1/attempts/", _attempt(a, answer="41", idempotency_key="k2"), format="json")
    assert wrong.status_code == 201 and wrong.json()["correct"] is False


def test_same_idempotency_key_twice_stores_once_and_answers_the_same(a):
    first = api(a.token).post("/api/v1/attempts/", _attempt(a), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    again = api(a.token).post("/api/v1/attempts/", _attempt(a), format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Attempt.objects.filter(student=a.student, idempotency_key="retry-1").count() == 1


def test_a_reused_key_for_another_answer_is_409_not_a_silent_replay(a):
    api(a.token).post("/api/v1/attempts/", _attempt(a), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    response = api(a.token).post("/api/v1/attempts/", _attempt(a, answer="7"), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "idempotency_conflict",
        "message": "This idempotency key was used for another attempt.",
        "field": "idempotency_key",
    }


def test_post_without_an_idempotency_key_is_refused(a):
    response = api(a.token).post("/api/v1/attempts/", _attempt(a), format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "idempotency_key"


def test_cannot_write_for_another_organisations_student_or_item(a, b):
    before = Attempt.objects.count()
    foreign_student = api(a.token).post(
        "/api/v1/attempts/", _attempt(a, student=b.student.external_id), format="json", HTTP_IDEMPOTENCY_KEY="x1"
    )
    assert foreign_student.status_code == 400
    assert foreign_student.json()["error"]["code"] == "unknown_student"
    foreign_item = api(a.token).post(
        "/api/v1/attempts/", _attempt(a, item=b.item.pk), format="json", HTTP_IDEMPOTENCY_KEY="x2"
    )
    assert foreign_item.status_code == 400 and foreign_item.json()["error"]["code"] == "unknown_item"
    # the same answers as for ids that exist nowhere: nothing tells A what B holds
    nowhere = api(a.token).post(
        "/api/v1/attempts/", _attempt(a, item=999_999), format="json", HTTP_IDEMPOTENCY_KEY="x3"
    )
    assert nowhere.json()["error"]["message"] == "No item 999999 in this organisation's courses."
    batch = api(a.token).post(
        "/api/v1/attempts/batch/", [_attempt(a, student=b.student.external_id, idempotency_key="x4")], format="json"
    )
    assert batch.status_code == 400 and batch.json()["error"]["index"] == 0
    assert Attempt.objects.count() == before


def test_uninterpretable_answer_is_400_on_the_answer_field(a):
    response = api(a.token).post(
        "/api/v1/attempts/", _attempt(a, answer="forty-two"), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "answer"


def test_batch_stores_every_attempt(a):
    entries = [_attempt(a, idempotency_key=f"b{n}", answer=str(40 + n)) for n in range(3)]
    response = api(a.token).post("/api/v1/attempts/batch/", entries, format="json")
    assert response.status_code == 201
    assert [row["correct"] for row in response.json()] == [False, False, True]
    replay = api(a.token).post("/api/v1/attempts/batch/", entries, format="json")
    assert replay.status_code == 200 and replay.json() == response.json()
    assert Attempt.objects.filter(idempotency_key__startswith="b").count() == 3


@pytest.mark.parametrize(
    ("bad", "field", "code"),
    [
        ({"confidence": 2}, "confidence", "max_value"),
        ({"answer": "forty"}, "answer", "invalid"),
        ({"item": 999_999}, "item", "unknown_item"),
        ({"idempotency_key": ""}, "idempotency_key", "blank"),
    ],
)
def test_batch_is_all_or_nothing_and_names_the_index_and_field(a, bad, field, code):
    before = Attempt.objects.count()
    entries = [_attempt(a, idempotency_key=f"b{n}") for n in range(3)]
    entries[2].update(bad)
    response = api(a.token).post("/api/v1/attempts/batch/", entries, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["index"], error["field"], error["code"]) == (2, field, code)
    assert Attempt.objects.count() == before


def test_batch_must_be_a_non_empty_list(a):
    assert api(a.token).post("/api/v1/attempts/batch/", [], format="json").status_code == 400
    response = api(a.token).post("/api/v1/attempts/batch/", _attempt(a), format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_a_list"


# --- throttling ------------------------------------------------------------------------------


@override_settings(API_CLIENT_RATE="3/minute")
def test_each_client_is_throttled_on_its_own(a):
    for _ in range(3):
        assert api(a.token).get("/api/v1/classes/").status_code == 200
    response = api(a.token).get("/api/v1/classes/")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled" and int(response["Retry-After"]) > 0
    assert api(a.read_token).get("/api/v1/classes/").status_code == 200  # another client, its own bucket


# --- the schema and the docs -----------------------------------------------------------------


def test_schema_passes_drf_spectaculars_own_validation(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert text.startswith("openapi: 3.")
    assert "/api/v1/attempts/batch/" in text and "bearerAuth" in text


def test_schema_endpoint_serves_openapi_3_without_a_token():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/students/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_loads_its_assets_from_static_not_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"https?://", html), "the docs page must work offline"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("swagger-ui" in asset for asset in assets)
    for asset in assets:  # each is really there to serve
        assert finders.find(asset.removeprefix("/static/")), asset


# --- the management commands ---------------------------------------------------------------------


def test_api_client_create_prints_the_token_once_and_stores_only_its_hash(a):
    out, err = io.StringIO(), io.StringIO()
    call_command("api_client_create", "--org", "alpha", "--name", "canvas", "--scopes", "read", stdout=out, stderr=err)
    token = out.getvalue().strip()
    client = ApiClient.objects.get(name="canvas")
    assert token.startswith(f"metis_{client.key_id}_") and client.scopes == ["read"]
    assert token.split("_", 2)[2] not in client.secret_hash and "shown once" in err.getvalue()
    assert api(token).get("/api/v1/classes/").status_code == 200
    call_command("api_client_revoke", "--org", "alpha", "--name", "canvas", stdout=io.StringIO())
    assert api(token).get("/api/v1/classes/").status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nowhere", "--name", "x"], "no organisation 'nowhere'"),
        (["--org", "alpha", "--name", "x", "--scopes", "admin"], "Scopes are some of"),
        (["--org", "alpha", "--name", "lms"], "already has a client named 'lms'"),
    ],
)
def test_api_client_create_refuses_bad_input(a, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("api_client_create", *args, stdout=io.StringIO(), stderr=io.StringIO())
