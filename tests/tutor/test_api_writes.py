"""Roster and authoring writes through the REST API: enrolments created and deleted, items created and changed
under the content format's rules. A client writes only inside its organisation, and only content that no
other organisation's classes use."""

from __future__ import annotations

import pytest

from tests.factories import ApiSchool, ItemFactory, SectionFactory, SkillFactory, StudentFactory, api, api_school
from tutor.models import Enrollment, Item, PracticeSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def a() -> ApiSchool:
    return api_school("alpha")


@pytest.fixture
def b() -> ApiSchool:
    return api_school("beta")


def _enrol(school: ApiSchool, section_id: int, student: str, token: str | None = None):
    return api(token or school.token).post(
        "/api/v1/enrolments/", {"class": section_id, "student": student}, format="json"
    )


# --- enrolments --------------------------------------------------------------------------------


def test_enrolment_create_is_idempotent(a):
    newcomer = StudentFactory(organisation=a.org, external_id="alpha-s2")
    first = _enrol(a, a.section.pk, "alpha-s2")
    assert first.status_code == 201, first.content
    assert first.json()["student_id"] == newcomer.pk and first.json()["class_id"] == a.section.pk
    again = _enrol(a, a.section.pk, "alpha-s2")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert Enrollment.objects.filter(student=newcomer).count() == 1


def test_enrolment_create_naming_a_foreign_class_or_student_reads_as_unknown(a, b):
    cases = [
        (_enrol(a, b.section.pk, a.student.external_id), "unknown_class", "class"),
        (_enrol(a, 999_999, a.student.external_id), "unknown_class", "class"),
        (_enrol(a, a.section.pk, b.student.external_id), "unknown_student", "student"),
        (_enrol(a, a.section.pk, "nobody"), "unknown_student", "student"),
        (api(a.token).post("/api/v1/enrolments/", {"student": "x"}, format="json"), "required", "class"),
    ]
    for response, code, field in cases:
        assert response.status_code == 400, response.content
        assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)
    assert Enrollment.objects.count() == 2  # the two schools' own


def test_enrolment_writes_need_the_write_scope(a):
    StudentFactory(organisation=a.org, external_id="alpha-s2")
    assert _enrol(a, a.section.pk, "alpha-s2", token=a.read_token).status_code == 403
    enrolment = a.section.enrollments.get()
    assert api(a.read_token).delete(f"/api/v1/enrolments/{enrolment.pk}/").status_code == 403
    assert Enrollment.objects.filter(section=a.section).count() == 1


def test_enrolment_delete_ends_the_open_session_and_keeps_the_answers(a):
    api(a.token).post(f"/api/v1/students/{a.student.pk}/next-item/", {"class": a.section.pk}, format="json")
    enrolment = a.section.enrollments.get()
    response = api(a.token).delete(f"/api/v1/enrolments/{enrolment.pk}/")
    assert response.status_code == 204
    assert not Enrollment.objects.filter(pk=enrolment.pk).exists()
    assert not PracticeSession.objects.get(student=a.student).is_open
    assert a.student.attempts.count() == 1
    assert api(a.token).delete(f"/api/v1/enrolments/{enrolment.pk}/").status_code == 404


def test_another_organisations_enrolment_cannot_be_deleted(a, b):
    theirs = b.section.enrollments.get()
    response = api(a.token).delete(f"/api/v1/enrolments/{theirs.pk}/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Enrollment.objects.filter(pk=theirs.pk).exists()


# --- authoring items ---------------------------------------------------------------------------------


def _item(skill_id: int, **over) -> dict:
    body = {
        "skill": skill_id,
        "slug": "half-of-ten",
        "type": "numeric",
        "prompt": "What is half of 10?",
        "answer": {"value": 5, "tolerance": 0},
        "hints": ["Split 10 into two equal parts."],
        "difficulty": 0.2,
    }
    return {**body, **over}


def test_item_create_stores_an_authored_item_the_checker_grades(a):
    response = api(a.token).post("/api/v1/items/", _item(a.item.skill_id), format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert row["answer"] == {"value": 5, "tolerance": 0} and row["source"] == "authored"
    item = Item.objects.get(pk=row["id"])
    assert item.course_id == a.section.course_id and item.skill_id == a.item.skill_id
    graded = api(a.token).post(
        "/api/v1/attempts/",
        {"student": a.student.external_id, "item": item.pk, "answer": "5", "confidence": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="h1",
    )
    assert graded.status_code == 201 and graded.json()["correct"] is True


@pytest.mark.parametrize(
    ("over", "field", "code"),
    [
        ({"answer": {"tolerance": 0}}, "answer.value", "invalid"),
        ({"type": "multiple_choice", "answer": {"choices": ["a"], "correct": 3}}, "answer.choices", "invalid"),
        ({"slug": "Not A Slug"}, "slug", "invalid"),
        ({"prompt": "   "}, "prompt", "blank"),
        ({"difficulty": 2}, "difficulty", "max_value"),
        ({"type": "essay"}, "type", "invalid_choice"),
    ],
)
def test_item_create_refuses_what_the_content_format_refuses_and_saves_nothing(a, over, field, code):
    before = Item.objects.count()
    response = api(a.token).post("/api/v1/items/", _item(a.item.skill_id, **over), format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code), error
    assert Item.objects.count() == before


def test_item_create_with_a_taken_slug_is_a_409(a):
    response = api(a.token).post("/api/v1/items/", _item(a.item.skill_id, slug=a.item.slug), format="json")
    assert response.status_code == 409 and response.json()["error"]["field"] == "slug"


def test_items_cannot_be_created_under_a_foreign_or_shared_skill(a, b):
    before = Item.objects.count()
    foreign = api(a.token).post("/api/v1/items/", _item(b.item.skill_id), format="json")
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "unknown_skill"
    shared_skill = SkillFactory()
    SectionFactory(organisation=a.org, course=shared_skill.course)
    SectionFactory(organisation=b.org, course=shared_skill.course)
    shared = api(a.token).post("/api/v1/items/", _item(shared_skill.pk), format="json")
    assert shared.status_code == 400 and shared.json()["error"]["field"] == "skill"
    read_only = api(a.read_token).post("/api/v1/items/", _item(a.item.skill_id), format="json")
    assert read_only.status_code == 403
    assert Item.objects.count() == before


def test_item_update_changes_only_the_fields_sent_and_validates_the_result(a):
    other_skill = SkillFactory(course=a.section.course)
    response = api(a.token).patch(
        f"/api/v1/items/{a.item.pk}/", {"prompt": "What is 7 × 6?", "skill": other_skill.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    a.item.refresh_from_db()
    assert a.item.prompt == "What is 7 × 6?" and a.item.skill == other_skill and a.item.answer["value"] == 42
    bad = api(a.token).patch(f"/api/v1/items/{a.item.pk}/", {"answer": {"value": "x"}}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"].startswith("answer")
    a.item.refresh_from_db()
    assert a.item.answer["value"] == 42


def test_items_of_other_organisations_or_shared_courses_or_generators_cannot_be_changed(a, b):
    foreign = api(a.token).patch(f"/api/v1/items/{b.item.pk}/", {"prompt": "hacked"}, format="json")
    assert foreign.status_code == 404
    shared_item = ItemFactory()
    SectionFactory(organisation=a.org, course=shared_item.course)
    SectionFactory(organisation=b.org, course=shared_item.course)
    shared = api(a.token).patch(f"/api/v1/items/{shared_item.pk}/", {"prompt": "hacked"}, format="json")
    assert shared.status_code == 400 and shared.json()["error"]["code"] == "course_shared"
    generated = ItemFactory(skill=a.item.skill, source=Item.Source.GENERATED)
    response = api(a.token).patch(f"/api/v1/items/{generated.pk}/", {"prompt": "hacked"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "generated_item"
    foreign_skill = api(a.token).patch(f"/api/v1/items/{a.item.pk}/", {"skill": b.item.skill_id}, format="json")
    assert foreign_skill.status_code == 400 and foreign_skill.json()["error"]["code"] == "unknown_skill"
    assert not Item.objects.filter(prompt="hacked").exists()
    b.item.refresh_from_db()
    assert b.item.prompt != "hacked"
