"""Per-class scheduler settings and the per-student drill-down with the scheduler's reasons."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from tests.factories import (
    ItemFactory,
    SectionFactory,
    SkillFactory,
    StudentFactory,
    TeacherFactory,
    UserFactory,
    enrol,
)
from tutor import services
from tutor.models import Section, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass():
    section = SectionFactory(session_length=4)
    skills = [SkillFactory(course=section.course) for _ in range(3)]
    for s in skills:
        ItemFactory(skill=s)
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    return section, skills, teacher, student


def _post(client, section, **overrides):
    data = {"target_success": "0.8", "review_weight": "2", "session_length": "12", "skills_in_play": [], **overrides}
    return client.post(reverse("class_schedule", args=[section.pk]), data)


def test_teacher_sets_the_schedule_of_their_class(klass, client):
    section, skills, teacher, _ = klass
    client.force_login(teacher)
    assert client.get(reverse("class_schedule", args=[section.pk])).status_code == 200
    response = _post(client, section, skills_in_play=[str(skills[0].pk), str(skills[2].pk)])
    assert response.status_code == 302
    section.refresh_from_db()
    assert (section.target_success, section.review_weight, section.session_length) == (0.8, 2.0, 12)
    assert set(section.skills_in_play.all()) == {skills[0], skills[2]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("target_success", "0.99"),
        ("target_success", "nan"),
        ("review_weight", "-1"),
        ("session_length", "2.5"),
        ("session_length", "lots"),
        ("skills_in_play", ["999999"]),
    ],
)
def test_bad_settings_are_rejected_naming_the_field_and_change_nothing(klass, client, field, value):
    section, _, teacher, _ = klass
    client.force_login(teacher)
    before = Section.objects.filter(pk=section.pk).values("target_success", "review_weight", "session_length").get()
    response = _post(client, section, **{field: value})
    assert response.status_code == 422
    assert f'name="{field}"' in response.content.decode() and 'role="alert"' in response.content.decode()
    assert (
        Section.objects.filter(pk=section.pk).values("target_success", "review_weight", "session_length").get()
        == before
    )
    assert not section.skills_in_play.exists()


def test_skills_of_another_course_are_refused(klass, client):
    section, _, teacher, _ = klass
    client.force_login(teacher)
    assert _post(client, section, skills_in_play=[str(SkillFactory().pk)]).status_code == 422


def test_only_the_classes_staff_may_see_or_change_settings(klass, client):
    section, _, _, student = klass
    outsiders = [
        student,
        TeacherFactory(organisation=section.organisation),  # teaches another class
        UserFactory(role=User.Role.ADMIN),  # admin of another organisation
    ]
    for user in outsiders:
        client.force_login(user)
        assert client.get(reverse("class_schedule", args=[section.pk])).status_code == 404
        assert _post(client, section).status_code == 404
    section.refresh_from_db()
    assert section.session_length == 4
    client.force_login(UserFactory(role=User.Role.ADMIN, organisation=section.organisation))
    assert client.get(reverse("class_schedule", args=[section.pk])).status_code == 200


def test_drill_down_shows_each_items_scheduler_reason(klass, client, django_assert_max_num_queries):
    section, _, teacher, student = klass
    session = services.session_start(student=student, section=section)
    for n in range(3):
        si = services.session_item_current(session=session)
        services.attempt_record(student=student, session_item=si, answer="42", confidence=0.75, idempotency_key=f"k{n}")
    reasons = list(session.session_items.values_list("reason", flat=True))
    assert all(reasons)
    client.force_login(teacher)
    with django_assert_max_num_queries(6):
        html = client.get(reverse("student_attempts", args=[student.pk])).content.decode()
    for reason in reasons:
        assert escape(reason) in html
    assert html.count("<tr>") == 1 + 3
    assert html.count('<td class="given">42</td>') == 3  # what the student answered, not only right/wrong


def test_drill_down_is_for_the_students_teachers_only(klass, client):
    section, _, _, student = klass
    other_student = StudentFactory(organisation=section.organisation)
    enrol(other_student, section)
    for user in (other_student, student, TeacherFactory(organisation=section.organisation)):
        client.force_login(user)
        assert client.get(reverse("student_attempts", args=[student.pk])).status_code == 404
