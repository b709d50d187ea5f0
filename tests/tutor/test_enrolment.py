"""Organisation is the outer boundary: a class takes students and teachers of its own organisation only,
whether they are added through the admin, a service or a change of the person's organisation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import OrganisationFactory, SectionFactory, StudentFactory, TeacherFactory, UserFactory, enrol
from tutor import services
from tutor.models import Enrollment, Section, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_schools():
    org, other = OrganisationFactory(), OrganisationFactory()
    section = SectionFactory(organisation=org)
    operator = UserFactory(organisation=None, is_staff=True, is_superuser=True)
    return {
        "section": section,
        "student": StudentFactory(organisation=org),
        "foreign_student": StudentFactory(organisation=other),
        "foreign_teacher": TeacherFactory(organisation=other),
        "operator": operator,
        "other": other,
    }


def test_an_enrolment_across_organisations_does_not_validate(two_schools):
    section = two_schools["section"]
    Enrollment(section=section, student=two_schools["student"]).full_clean()
    with pytest.raises(ValidationError) as exc:
        Enrollment(section=section, student=two_schools["foreign_student"]).full_clean()
    assert "student" in exc.value.message_dict
    assert "of its own organisation only" in exc.value.message_dict["student"][0]
    with pytest.raises(ValidationError):
        Enrollment(section=section, student=StudentFactory(organisation=None)).full_clean()


def test_the_enrolment_services_refuse_another_organisation(two_schools):
    section = two_schools["section"]
    with pytest.raises(services.PracticeError) as exc:
        services.enrollment_create(student=two_schools["foreign_student"], section=section)
    assert exc.value.field == "student"
    with pytest.raises(services.PracticeError) as exc:
        services.section_teacher_add(teacher=two_schools["foreign_teacher"], section=section)
    assert exc.value.field == "teacher"
    assert not Enrollment.objects.exists() and not section.teachers.exists()
    first = services.enrollment_create(student=two_schools["student"], section=section)
    assert services.enrollment_create(student=two_schools["student"], section=section) == first  # idempotent
    teacher = TeacherFactory(organisation=section.organisation)
    services.section_teacher_add(teacher=teacher, section=section)
    assert list(section.teachers.all()) == [teacher]


def _section_form(section, *, teachers=(), students=()):
    data = {
        "organisation": section.organisation_id,
        "name": section.name,
        "course": section.course_id,
        "session_length": section.session_length,
        "target_success": section.target_success,
        "review_weight": section.review_weight,
        "scheduling_rule": section.scheduling_rule,
        "teachers": [t.pk for t in teachers],
        "enrollments-TOTAL_FORMS": len(students),
        "enrollments-INITIAL_FORMS": 0,
        "enrollments-MIN_NUM_FORMS": 0,
        "enrollments-MAX_NUM_FORMS": 1000,
    }
    for n, student in enumerate(students):
        data[f"enrollments-{n}-student"] = student.pk
        data[f"enrollments-{n}-section"] = section.pk
    return data


def test_the_admin_refuses_a_student_or_teacher_of_another_organisation(two_schools, client):
    section = two_schools["section"]
    client.force_login(two_schools["operator"])
    url = reverse("admin:tutor_section_change", args=[section.pk])
    refused = client.post(url, _section_form(section, students=[two_schools["foreign_student"]]))
    assert refused.status_code == 200 and "of its own organisation only" in refused.content.decode()
    assert not Enrollment.objects.exists()
    refused = client.post(url, _section_form(section, teachers=[two_schools["foreign_teacher"]]))
    assert refused.status_code == 200 and "of its own organisation only" in refused.content.decode()
    assert not section.teachers.exists()
    new_class = _section_form(section, students=[two_schools["foreign_student"]])
    new_class.update({"name": "A new class", "enrollments-0-section": ""})
    refused = client.post(reverse("admin:tutor_section_add"), new_class)
    assert refused.status_code == 200 and "of its own organisation only" in refused.content.decode()
    assert not Section.objects.filter(name="A new class").exists()
    teacher = TeacherFactory(organisation=section.organisation)
    saved = client.post(url, _section_form(section, teachers=[teacher], students=[two_schools["student"]]))
    assert saved.status_code == 302
    assert list(section.teachers.all()) == [teacher] and Enrollment.objects.get().student == two_schools["student"]


def test_the_admin_refuses_moving_a_class_away_from_its_people(two_schools, client):
    section, student = two_schools["section"], two_schools["student"]
    enrol(student, section)
    client.force_login(two_schools["operator"])
    data = _section_form(section)
    data["organisation"] = two_schools["other"].pk
    data["enrollments-TOTAL_FORMS"] = data["enrollments-INITIAL_FORMS"] = 1
    data["enrollments-0-id"] = Enrollment.objects.get().pk
    data["enrollments-0-student"], data["enrollments-0-section"] = student.pk, section.pk
    response = client.post(reverse("admin:tutor_section_change", args=[section.pk]), data)
    assert response.status_code == 200 and "of its own organisation only" in response.content.decode()
    section.refresh_from_db()
    assert section.organisation_id != two_schools["other"].pk


@pytest.mark.parametrize("role", [User.Role.STUDENT, User.Role.TEACHER])
def test_moving_a_person_to_another_organisation_while_in_a_class_does_not_validate(two_schools, role):
    section = two_schools["section"]
    person = UserFactory(organisation=section.organisation, role=role)
    if role == User.Role.STUDENT:
        enrol(person, section)
    else:
        section.teachers.add(person)
    person.full_clean()
    person.organisation = two_schools["other"]
    with pytest.raises(ValidationError) as exc:
        person.full_clean()
    assert "organisation" in exc.value.message_dict
