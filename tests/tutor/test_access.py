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
