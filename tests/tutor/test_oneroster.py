"""OneRoster 1.2 CSV import, by command and through the API: classes, users and enrolments land in the one
organisation named; a bad roster is refused as a whole, its problems named by file, row and field."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import ApiSchool, CourseFactory, SectionFactory, StudentFactory, api, api_school
from tutor.models import Enrollment, Section, User
from tutor.oneroster import RosterError, roster_parse

pytestmark = pytest.mark.django_db

ORGS = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\norg-1,,,Alpha High,school,,\n"
CLASSES = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId\n"
    "cls-1,,,Maths 7A,07,{course},7A,scheduled,,org-1\n"
)
USERS = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,email\n"
    "u-t,,,true,mr-teach,,Tom,Teach,,\n"
    "u-1,,,true,ada,,Ada,Lovelace,,\n"
    "u-2,,,true,alan,,Alan,Turing,,\n"
)
ENROLLMENTS = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n"
    "e-t,,,cls-1,org-1,u-t,teacher,true\n"
    "e-1,,,cls-1,org-1,u-1,student,false\n"
    "e-2,,,cls-1,org-1,u-2,student,false\n"
)


def roster_zip(**files: str) -> bytes:
    """A zip of the four files; ``users="..."`` replaces one, ``users=None`` leaves it out."""
    contents = {"orgs": ORGS, "classes": CLASSES, "users": USERS, "enrollments": ENROLLMENTS}
    contents.update(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in contents.items():
            if text is not None:
                archive.writestr(f"{name}.csv", text)
    return buffer.getvalue()


@pytest.fixture
def a() -> ApiSchool:
    return api_school("alpha")


@pytest.fixture
def b() -> ApiSchool:
    return api_school("beta")


def _post(school: ApiSchool, data: bytes, token: str | None = None):
    upload = io.BytesIO(data)
    upload.name = "roster.zip"
    return api(token or school.token).post("/api/v1/rosters/oneroster/", {"file": upload}, format="multipart")


def test_import_creates_the_class_its_teacher_and_students_and_is_idempotent(a):
    classes = CLASSES.format(course=a.section.course.slug)
    response = _post(a, roster_zip(classes=classes))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "classes_created": 1,
        "classes_updated": 0,
        "users_created": 3,
        "users_updated": 0,
        "enrolments_created": 2,
        "enrolments_deleted": 0,
    }
    section = Section.objects.get(organisation=a.org, external_id="cls-1")
    assert section.name == "Maths 7A" and section.course == a.section.course
    assert [t.external_id for t in section.teachers.all()] == ["u-t"]
    assert section.teachers.get().role == User.Role.TEACHER
    ada = User.objects.get(organisation=a.org, external_id="u-1")
    assert (ada.username, ada.first_name, ada.role, ada.has_usable_password()) == ("ada", "Ada", "student", False)
    assert set(section.enrollments.values_list("student__external_id", flat=True)) == {"u-1", "u-2"}
    again = _post(a, roster_zip(classes=classes)).json()
    assert (again["classes_created"], again["users_created"], again["enrolments_created"]) == (0, 0, 0)
    assert again["classes_updated"] == 1 and again["users_updated"] == 3
    # the new students are visible to the client, by their roster id
    assert api(a.read_token).get("/api/v1/students/", {"external_id": "u-2"}).json()["count"] == 1


def test_tobedeleted_takes_a_student_out_of_the_class(a):
    classes = CLASSES.format(course=a.section.course.slug)
    _post(a, roster_zip(classes=classes))
    delta = ENROLLMENTS.replace("e-2,,,", "e-2,tobedeleted,,")
    report = _post(a, roster_zip(classes=classes, enrollments=delta)).json()
    assert report["enrolments_deleted"] == 1
    section = Section.objects.get(external_id="cls-1")
    assert set(section.enrollments.values_list("student__external_id", flat=True)) == {"u-1"}


@pytest.mark.parametrize(
    ("files", "file", "row", "field"),
    [
        ({"users": None}, "users.csv", None, None),
        ({"classes": CLASSES.format(course="no-such-course")}, "classes.csv", 2, "courseSourcedId"),
        ({"users": USERS.replace("u-2,,,true,alan", "u-2,,,true,")}, "users.csv", 4, "username"),
        ({"users": USERS.replace("u-2,,,true,alan", "u-1,,,true,alan")}, "users.csv", 4, "sourcedId"),
        ({"enrollments": ENROLLMENTS.replace("u-2,student", "u-9,student")}, "enrollments.csv", 4, "userSourcedId"),
        ({"enrollments": ENROLLMENTS.replace("u-2,student", "u-2,guardian")}, "enrollments.csv", 4, "role"),
        (
            {"enrollments": ENROLLMENTS.replace("cls-1,org-1,u-2", "cls-9,org-1,u-2")},
            "enrollments.csv",
            4,
            "classSourcedId",
        ),
        ({"enrollments": ENROLLMENTS + "e-3,,,cls-1,org-1,u-t,student,false\n"}, "enrollments.csv", 5, "role"),
        ({"classes": CLASSES.replace("org-1", "org-9")}, "classes.csv", 2, "schoolSourcedId"),
        ({"orgs": "sourcedId,type\norg-1,school\n"}, "orgs.csv", 1, "name"),
    ],
)
def test_a_bad_roster_saves_nothing_and_names_file_row_and_field(a, files, file, row, field):
    files.setdefault("classes", CLASSES.format(course=a.section.course.slug))
    users_before, sections_before = User.objects.count(), Section.objects.count()
    response = _post(a, roster_zip(**files))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_roster" and error["field"] == "file"
    first = error["problems"][0]
    assert (first["file"], first["row"], first["field"]) == (file, row, field), error
    assert error["message"].startswith(file)
    assert (User.objects.count(), Section.objects.count()) == (users_before, sections_before)


def test_a_username_taken_in_another_organisation_refuses_the_whole_roster(a, b):
    StudentFactory(organisation=b.org, username="alan")
    response = _post(a, roster_zip(classes=CLASSES.format(course=a.section.course.slug)))
    problem = response.json()["error"]["problems"][0]
    assert (problem["file"], problem["row"], problem["field"]) == ("users.csv", 4, "username")
    assert not User.objects.filter(username="ada").exists()


def test_import_never_touches_another_organisation(a, b):
    """B's class and student carry the same roster ids as A's file: A's import makes its own, leaves B's alone."""
    course = a.section.course
    b.section.external_id = "cls-1"
    b.section.save()
    b.student.external_id = "u-1"
    b.student.save()
    response = _post(a, roster_zip(classes=CLASSES.format(course=course.slug)))
    assert response.status_code == 200, response.content
    assert response.json()["classes_created"] == 1 and response.json()["users_created"] == 3
    assert Section.objects.get(organisation=a.org, external_id="cls-1").pk != b.section.pk
    assert Enrollment.objects.filter(section=b.section).count() == 1  # B's own student only
    b.student.refresh_from_db()
    assert b.student.first_name != "Ada"


def test_an_existing_member_whose_role_differs_is_refused(a):
    StudentFactory(organisation=a.org, external_id="u-t", role=User.Role.STUDENT)
    response = _post(a, roster_zip(classes=CLASSES.format(course=a.section.course.slug)))
    problem = response.json()["error"]["problems"][0]
    assert (problem["file"], problem["row"], problem["field"]) == ("users.csv", 2, "sourcedId")


def test_a_class_made_by_hand_with_the_same_title_is_taken_over(a):
    course = CourseFactory()
    by_hand = SectionFactory(organisation=a.org, course=course, name="Maths 7A")
    _post(a, roster_zip(classes=CLASSES.format(course=course.slug)))
    by_hand.refresh_from_db()
    assert by_hand.external_id == "cls-1" and by_hand.enrollments.count() == 2


def test_roster_import_needs_the_write_scope_and_a_zip(a):
    assert _post(a, roster_zip(), token=a.read_token).status_code == 403
    response = _post(a, b"not a zip")
    assert response.status_code == 400 and response.json()["error"]["problems"][0]["message"] == "not a zip file"
    missing = api(a.token).post("/api/v1/rosters/oneroster/", {}, format="multipart")
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "file"


def test_parse_collects_every_problem_at_once():
    bad = ENROLLMENTS.replace("u-2,student", "u-9,student").replace("u-1,student", "u-1,aide")
    with pytest.raises(RosterError) as caught:
        roster_parse(roster_zip(classes=CLASSES.format(course="c"), enrollments=bad))
    assert [(p.row, p.field) for p in caught.value.problems] == [(3, "role"), (4, "userSourcedId")]


def test_the_command_imports_into_the_organisation_named(a, tmp_path: Path):
    path = tmp_path / "roster.zip"
    path.write_bytes(roster_zip(classes=CLASSES.format(course=a.section.course.slug)))
    out = io.StringIO()
    call_command("oneroster_import", str(path), "--organisation", str(a.org.pk), stdout=out)
    assert "classes 1 created" in out.getvalue() and "users 3 created" in out.getvalue()
    assert Section.objects.filter(organisation=a.org, external_id="cls-1").exists()
    path.write_bytes(roster_zip(classes=CLASSES.format(course="nope")))
    with pytest.raises(CommandError, match=r"classes.csv row 2, courseSourcedId: no Metis course"):
        call_command("oneroster_import", str(path), "--organisation", "alpha", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no organisation"):
        call_command("oneroster_import", str(path), "--organisation", "nowhere", stdout=io.StringIO())
