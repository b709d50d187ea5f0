"""The REST API per student: the next item served to an LMS that renders practice itself and its answer,
mastery and predictions, strategy suggestions, reflections, calibration; model versions; and JSON error
bodies for anything under /api/. Every endpoint is confined to the client's organisation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from learner_models.models import ModelVersion, TrainingRun
from metacog.models import Reflection, StrategySuggestion
from tests.factories import ApiSchool, ItemFactory, SectionFactory, StudentFactory, api, api_school, enrol
from tutor import selectors
from tutor.models import Attempt, PracticeSession, SessionItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def a() -> ApiSchool:
    return api_school("alpha")


@pytest.fixture
def b() -> ApiSchool:
    return api_school("beta")


def _next(school: ApiSchool, student_id: int | None = None, section_id: int | None = None, token: str | None = None):
    return api(token or school.token).post(
        f"/api/v1/students/{student_id or school.student.pk}/next-item/",
        {"class": section_id or school.section.pk},
        format="json",
    )


def _answer(school: ApiSchool, served_item: int, key: str, answer: str = "42", **over):
    body = {"student": school.student.external_id, "served_item": served_item, "answer": answer, "confidence": 0.75}
    return api(school.token).post("/api/v1/attempts/", {**body, **over}, format="json", HTTP_IDEMPOTENCY_KEY=key)


# --- errors under /api/ are JSON -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/nothing", "/api/v1/students/abc/", "/api/v2/"])
def test_unknown_api_urls_are_a_json_404(url, a):
    response = api(a.token).get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "field": None}}


def test_a_method_an_endpoint_lacks_is_a_json_405(a):
    response = api(a.token).put("/api/v1/classes/", {}, format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_server_error_is_a_json_500_without_the_traceback(a, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "organisations_for_client", broken)
    response = api(a.token).get("/api/v1/organisations/")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "server_error", "message": "A server error occurred.", "field": None}}
    assert "secret internals" not in response.content.decode()
    assert "secret internals" in caplog.text  # logged for the operator


def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


# --- next item ----------------------------------------------------------------------------------


def test_next_item_is_the_schedulers_choice_with_its_reason_and_repeats_until_answered(a):
    first = _next(a)
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["item"]["id"] == a.item.pk and "answer" not in body["item"]
    assert body["class_id"] == a.section.pk and body["position"] == 1 and body["reason"]
    served = SessionItem.objects.get(pk=body["served_item_id"])
    assert served.reason == body["reason"] and served.session.student == a.student
    assert _next(a).json()["served_item_id"] == served.pk  # not answered yet: the same item again


def test_answering_a_served_item_records_practice_in_the_class_and_moves_on(a):
    served_id = _next(a).json()["served_item_id"]
    response = _answer(a, served_id, "s1", hints_used=1)
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["served_item_id"] == served_id and row["source"] == "practice" and row["class_id"] == a.section.pk
    assert row["correct"] is True and row["hints_used"] == 1
    again = _answer(a, served_id, "s1", hints_used=1)
    assert again.status_code == 200 and again.json() == row  # idempotent
    other_key = _answer(a, served_id, "s2")
    assert other_key.status_code == 409 and other_key.json()["error"]["code"] == "already_answered"
    following = _next(a).json()
    assert following["served_item_id"] != served_id and following["position"] == 2


def test_a_finished_session_is_closed_and_a_new_one_serves_on(a):
    a.section.session_length = 1
    a.section.save()
    served_id = _next(a).json()["served_item_id"]
    assert _answer(a, served_id, "s1").status_code == 201
    following = _next(a).json()
    assert following["position"] == 1 and following["served_item_id"] != served_id
    sessions = PracticeSession.objects.filter(student=a.student).order_by("pk")
    assert [s.is_open for s in sessions] == [False, True]


def test_next_item_refuses_bad_input_and_saves_nothing(a, b):
    not_enrolled = StudentFactory(organisation=a.org, external_id="alpha-s2")
    cases = [
        (_next(a, section_id=b.section.pk), 400, "unknown_class", "class"),
        (_next(a, section_id=999_999), 400, "unknown_class", "class"),
        (_next(a, student_id=not_enrolled.pk), 400, "not_enrolled", "class"),
        (api(a.token).post(f"/api/v1/students/{a.student.pk}/next-item/", {}, format="json"), 400, "required", "class"),
        (_next(a, token=a.read_token), 403, "permission_denied", None),
    ]
    for response, status, code, field in cases:
        assert response.status_code == status, response.content
        assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)
    assert not PracticeSession.objects.exists() and not SessionItem.objects.exists()


def test_next_item_for_another_organisations_student_is_404(a, b):
    response = _next(a, student_id=b.student.pk)
    assert response.status_code == 404
    response = _next(a, student_id=b.student.pk, section_id=b.section.pk)
    assert response.status_code == 404
    assert not PracticeSession.objects.exists()


def test_served_items_of_other_students_or_organisations_cannot_be_answered(a, b):
    b_served = _next(b).json()["served_item_id"]
    foreign = _answer(a, b_served, "x1")
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "unknown_served_item"
    classmate = StudentFactory(organisation=a.org, external_id="alpha-s2")
    enrol(classmate, a.section)
    mine = _next(a).json()["served_item_id"]
    as_classmate = _answer(a, mine, "x2", student="alpha-s2")
    assert as_classmate.status_code == 400 and as_classmate.json()["error"]["field"] == "served_item"
    other_item = ItemFactory(skill=a.item.skill)
    wrong_item = _answer(a, mine, "x3", item=other_item.pk)
    assert wrong_item.status_code == 400 and wrong_item.json()["error"]["field"] == "item"
    assert Attempt.objects.filter(session__isnull=False).count() == 0


def test_an_attempt_needs_an_item_or_a_served_item(a):
    body = {"student": a.student.external_id, "answer": "42", "confidence": 0.5}
    response = api(a.token).post("/api/v1/attempts/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400 and response.json()["error"]["field"] == "item"


# --- mastery -------------------------------------------------------------------------------------


def test_mastery_without_a_model_is_the_fallback_and_says_so(a):
    body = api(a.read_token).get(f"/api/v1/students/{a.student.pk}/mastery/").json()
    assert body["source"] == "fallback" and body["model_version"] is None
    (skill,) = body["skills"]
    assert skill["skill_id"] == a.item.skill_id and skill["course_id"] == a.section.course_id
    assert (skill["answers"], skill["correct"]) == (1, 0)
    assert 0 <= skill["p_correct"] <= 1 and skill["mastered"] is (skill["p_correct"] >= body["mastery_threshold"])


def _active_version() -> ModelVersion:
    run = TrainingRun.objects.create(request_key="r1", algorithm="best", status="succeeded")
    return ModelVersion.objects.create(
        training_run=run, algorithm="best", checkpoint="learner_models/x.pt", checksum="0", status="active"
    )


def test_mastery_from_the_active_model_names_its_version(a, monkeypatch):
    version = _active_version()
    monkeypatch.setattr(
        selectors, "skill_predictions_for_student", lambda student, skill_ids: dict.fromkeys(skill_ids, 0.97)
    )
    body = api(a.token).get(f"/api/v1/students/{a.student.pk}/mastery/").json()
    assert body["source"] == "learner_model" and body["model_version"]["id"] == version.pk
    assert body["skills"][0]["p_correct"] == pytest.approx(0.97) and body["skills"][0]["mastered"] is True


def test_mastery_falls_back_when_the_model_fails(a, monkeypatch):
    _active_version()

    def broken(student, skill_ids):
        raise RuntimeError("checkpoint unreadable")

    monkeypatch.setattr(selectors, "skill_predictions_for_student", broken)
    body = api(a.token).get(f"/api/v1/students/{a.student.pk}/mastery/").json()
    assert body["source"] == "fallback" and body["model_version"] is None


def test_mastery_from_a_trained_model_says_what_it_believes_about_the_student(a, settings, tmp_path):
    """A real Elo model trained on the class: the student's ability, and per skill how much one more answer
    would raise p_correct (learning speed); Elo is one model and reads no clock, so no spread or forgetting."""
    from learner_models import loader
    from learner_models import services as lm_services

    settings.MEDIA_ROOT = tmp_path / "media"
    loader.clear()
    for i in range(12):
        other = StudentFactory(organisation=a.org)
        enrol(other, a.section)
        for j in range(10):
            Attempt.objects.create(
                student=other,
                item=a.item,
                skill=a.item.skill,
                answer="1",
                correct=bool((i + j) % 3),
                confidence=0.5,
                idempotency_key=f"b{i}-{j}",
                created_at=timezone.now() - timedelta(hours=1),
            )
    for j in range(6):  # the student gets everything right from now on
        Attempt.objects.create(
            student=a.student,
            item=a.item,
            skill=a.item.skill,
            answer="42",
            correct=True,
            confidence=0.9,
            idempotency_key=f"s-{j}",
            created_at=timezone.now() - timedelta(minutes=10 - j),
        )
    run, _ = lm_services.training_run_request(algorithm="elo", hyperparameters={}, enqueue=False)
    lm_services.model_version_activate(version=lm_services.training_run_execute(run_id=run.pk, device="cpu"))
    try:
        body = api(a.read_token).get(f"/api/v1/students/{a.student.pk}/mastery/").json()
    finally:
        loader.clear()
    assert body["source"] == "learner_model"
    assert body["ability"] > 0.5  # 6 right of 7: well above a new student
    (skill,) = body["skills"]
    assert skill["p_correct"] > 0.7
    assert skill["uncertainty"] is None and skill["forgetting"] is None
    assert skill["learning_speed"] is not None and abs(skill["learning_speed"]) < 0.2


# --- metacognition ---------------------------------------------------------------------------------


def _metacog(school: ApiSchool) -> tuple[StrategySuggestion, Reflection]:
    now = timezone.now()
    suggestion = StrategySuggestion.objects.create(
        student=school.student, section=school.section, strategy="spacing", reason="You forget fast.", created_at=now
    )
    reflection = Reflection.objects.create(
        student=school.student,
        section=school.section,
        kind="planning",
        prompt="Plan?",
        answer="Go slow",
        created_at=now,
    )
    return suggestion, reflection


STUDENT_READS = ["mastery", "suggestions", "reflections", "calibration"]


@pytest.mark.parametrize("what", STUDENT_READS)
def test_another_organisations_student_is_404_on_every_student_read(what, a, b):
    assert api(a.read_token).get(f"/api/v1/students/{a.student.pk}/{what}/").status_code == 200
    foreign = api(a.read_token).get(f"/api/v1/students/{b.student.pk}/{what}/")
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"


def test_suggestions_and_reflections_show_only_the_organisations_classes(a, b):
    suggestion, reflection = _metacog(a)
    _metacog(b)
    # a row from a class of another organisation (an enrolment that once crossed the boundary) stays hidden
    StrategySuggestion.objects.create(
        student=a.student, section=b.section, strategy="spacing", reason="elsewhere", created_at=timezone.now()
    )
    rows = api(a.token).get(f"/api/v1/students/{a.student.pk}/suggestions/").json()["results"]
    assert [(r["id"], r["strategy"], r["class_id"]) for r in rows] == [(suggestion.pk, "spacing", a.section.pk)]
    rows = api(a.token).get(f"/api/v1/students/{a.student.pk}/reflections/").json()["results"]
    assert [(r["id"], r["answer"]) for r in rows] == [(reflection.pk, "Go slow")]


def test_calibration_judges_the_students_answers_overall_and_per_skill(a):
    for n, correct in enumerate([True, True, False, True]):
        Attempt.objects.create(
            student=a.student,
            item=a.item,
            skill=a.item.skill,
            answer="42" if correct else "1",
            correct=correct,
            confidence=1.0,
            idempotency_key=f"c{n}",
            created_at=timezone.now(),
        )
    body = api(a.token).get(f"/api/v1/students/{a.student.pk}/calibration/").json()
    overall = body["overall"]
    assert overall["n"] == 5 and overall["n_right"] == 3
    assert overall["mean_confidence"] == pytest.approx(0.9) and overall["accuracy"] == pytest.approx(0.6)
    assert overall["gap"] == pytest.approx(0.3) and overall["verdict"] in {"over", "unclear", "too_few"}
    assert [(s["skill_id"], s["n"]) for s in body["by_skill"]] == [(a.item.skill_id, 5)]


# --- model versions --------------------------------------------------------------------------------


def test_model_versions_are_readable_by_every_client(a, b):
    version = _active_version()
    for token in (a.read_token, b.token):
        rows = api(token).get("/api/v1/model-versions/").json()["results"]
        assert [(r["id"], r["status"]) for r in rows] == [(version.pk, "active")]
        assert "checkpoint" not in rows[0] and "checksum" not in rows[0]
    assert api(a.token).get(f"/api/v1/model-versions/{version.pk}/").json()["algorithm"] == "best"
    assert api(a.token).get("/api/v1/model-versions/999/").status_code == 404
    assert api(a.token).post("/api/v1/model-versions/", {}, format="json").status_code == 405


def test_a_class_of_the_organisation_with_another_course_serves_that_course(a):
    other_item = ItemFactory()
    section = SectionFactory(organisation=a.org, course=other_item.course)
    enrol(a.student, section)
    body = _next(a, section_id=section.pk).json()
    assert body["item"]["id"] == other_item.pk and body["class_id"] == section.pk


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/v1/students/?class=421793262467720511750144", 400, "class"),
        ("/api/v1/items/?skill=938567706938876261920931840", 400, "skill"),
        ("/api/v1/xapi/statements/?cursor=17616112202753915150311358464", 400, "cursor"),
        ("/api/v1/students/99999999999999999999999/", 404, None),
        ("/api/v1/students/99999999999999999999999/mastery/", 404, None),
        ("/api/v1/attempts/?offset=99999999999999999999999999", 200, None),
    ],
)
def test_ids_past_the_databases_integers_are_client_errors_not_server_errors(a, url, status, field):
    """Found by make apicheck: such numbers reached SQLite and came back as 500s."""
    response = api(a.token).get(url)
    assert response.status_code == status, response.content
    if status != 200:
        assert response.json()["error"]["field"] == field


def test_a_nul_character_in_an_api_body_is_a_json_400_naming_the_field(a):
    body = {"student": a.student.external_id, "item": a.item.pk, "answer": "4\x002", "confidence": 0.5}
    response = api(a.token).post("/api/v1/attempts/", body, format="json", HTTP_IDEMPOTENCY_KEY="nul")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "answer"
    assert not Attempt.objects.filter(idempotency_key="nul").exists()
