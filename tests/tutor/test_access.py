"""Who sees what: students only themselves, teachers only their classes, admins only their organisation."""

from __future__ import annotations

import pytest

from tests.factories import OrganisationFactory, SectionFactory, StudentFactory, TeacherFactory, UserFactory, enrol
from tutor import access
from tutor.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    org, other_org = OrganisationFactory(), OrganisationFactory()
    mine, colleague_class = SectionFactory(organisation=org), SectionFactory(organisation=org)
    foreign = SectionFactory(organisation=other_org)
    teacher = TeacherFactory(organisation=org)
    mine.teachers.add(teacher)
    s_mine, s_colleague, s_foreign = (
        StudentFactory(organisation=org),
        StudentFactory(organisation=org),
        StudentFactory(organisation=other_org),
    )
    enrol(s_mine, mine)
    enrol(s_colleague, colleague_class)
    enrol(s_foreign, foreign)
    admin = UserFactory(organisation=org, role=User.Role.ADMIN)
    return locals()


def test_student_sees_only_self(school):
    s = school["s_mine"]
    assert list(access.students_visible_to(s)) == [s]
    assert list(access.sections_visible_to(s)) == [school["mine"]]
    assert not access.can_view_student(s, school["s_colleague"])


def test_teacher_sees_only_their_classes(school):
    t = school["teacher"]
    assert list(access.students_visible_to(t)) == [school["s_mine"]]
    assert list(access.sections_visible_to(t)) == [school["mine"]]
    assert not access.can_view_student(t, school["s_foreign"])


def test_admin_bounded_by_organisation(school):
    a = school["admin"]
    assert set(access.students_visible_to(a)) == {school["s_mine"], school["s_colleague"]}
    assert school["foreign"] not in access.sections_visible_to(a)


def test_teacher_moved_to_another_organisation_loses_access(school):
    t = school["teacher"]
    t.organisation = OrganisationFactory()
    t.save()
    assert not access.students_visible_to(t).exists()


@pytest.mark.parametrize("who", ["admin", "teacher", "s_mine"])
def test_user_without_an_organisation_sees_no_class_and_no_other_student(school, who):
    """Teaching a class or being enrolled in it does not cross the organisation boundary: a user whose
    organisation was removed sees no class at all, and staff see no student."""
    user = school[who]
    user.organisation = None
    user.save()
    assert not access.sections_visible_to(user).exists()
    assert list(access.students_visible_to(user)) == ([user] if user.role == User.Role.STUDENT else [])
    assert not access.sections_managed_by(user).exists()


def test_teacher_cannot_practise_and_student_only_in_own_class(school):
    assert not access.can_practise_in(school["teacher"], school["mine"])
    assert access.can_practise_in(school["s_mine"], school["mine"])
    assert not access.can_practise_in(school["s_mine"], school["colleague_class"])


def test_home_page_lists_only_own_classes(school, client):
    client.force_login(school["s_mine"])
    html = client.get("/").content.decode()
    assert school["mine"].name in html and school["colleague_class"].name not in html
    client.force_login(school["teacher"])
    html = client.get("/").content.decode()
    assert school["s_mine"].username in html and school["s_colleague"].username not in html


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


# --- a teacher sees what a student did in their own classes only -------------------------------------------


def _practise(student, section, answers: int = 2):
    from tutor import services

    session = services.session_start(student=student, section=section)
    for n in range(answers):
        si = services.session_item_current(session=session)
        services.attempt_record(
            student=student, session_item=si, answer="42", confidence=0.75, idempotency_key=f"{session.pk}-{n}"
        )
    return services.session_end(session=session)


@pytest.fixture
def shared_student():
    """One student in two classes of one school, each with its own teacher and a session of practice."""
    from tests.factories import ItemFactory, SkillFactory

    org = OrganisationFactory()
    first, second = SectionFactory(organisation=org), SectionFactory(organisation=org)
    for section in (first, second):
        ItemFactory(skill=SkillFactory(course=section.course))
    t1, t2 = TeacherFactory(organisation=org), TeacherFactory(organisation=org)
    first.teachers.add(t1)
    second.teachers.add(t2)
    student = StudentFactory(organisation=org)
    enrol(student, first)
    enrol(student, second)
    s1, s2 = _practise(student, first), _practise(student, second)
    admin = UserFactory(organisation=org, role=User.Role.ADMIN)
    return locals()


def test_teacher_sees_only_the_sessions_and_attempts_of_their_own_class(shared_student):
    t2, s1, s2 = shared_student["t2"], shared_student["s1"], shared_student["s2"]
    assert list(access.sessions_visible_to(t2)) == [s2]
    assert set(access.attempts_visible_to(t2)) == set(s2.attempts.all())
    admin = shared_student["admin"]
    assert set(access.sessions_visible_to(admin)) == {s1, s2}
    assert access.attempts_visible_to(admin).count() == 4
    assert set(access.sessions_visible_to(shared_student["student"])) == {s1, s2}


def test_teacher_pages_show_nothing_of_another_class(shared_student, client):
    from django.urls import reverse

    t2, s1, s2, student = (shared_student[k] for k in ("t2", "s1", "s2", "student"))
    client.force_login(t2)
    assert client.get(reverse("practice_summary", args=[s1.pk])).status_code == 404
    assert client.get(reverse("practice_summary", args=[s2.pk])).status_code == 200
    html = client.get(reverse("student_attempts", args=[student.pk])).content.decode()
    assert html.count('<td class="given">42</td>') == 2  # the two answers in t2's class, not the four
    client.force_login(shared_student["t1"])
    assert client.get(reverse("practice_summary", args=[s1.pk])).status_code == 200


def test_a_student_of_another_organisation_wrongly_enrolled_stays_invisible(school, client):
    """An enrolment across organisations (made before the model refused it) shows the teacher nothing:
    neither the student nor their sessions in their own school."""
    from django.urls import reverse

    from tests.factories import ItemFactory, SkillFactory
    from tutor.models import Enrollment

    foreign, foreign_class = school["s_foreign"], school["foreign"]
    ItemFactory(skill=SkillFactory(course=foreign_class.course))
    session = _practise(foreign, foreign_class)
    Enrollment.objects.create(student=foreign, section=school["mine"])  # bypasses Enrollment.clean, as old data may
    teacher = school["teacher"]
    assert foreign not in access.students_visible_to(teacher)
    assert not access.sessions_visible_to(teacher).exists() and not access.attempts_visible_to(teacher).exists()
    assert foreign not in access.students_visible_to(school["admin"])
    client.force_login(teacher)
    assert client.get(reverse("student_attempts", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("practice_summary", args=[session.pk])).status_code == 404
