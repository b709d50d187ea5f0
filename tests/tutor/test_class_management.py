"""Managing a class (create, add students, roster upload, password reset, move, archive) and the class
overview's filters, CSV export and print layout: what a teacher can do, and what nobody else can."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    PASSWORD,
    CourseFactory,
    ItemFactory,
    OrganisationFactory,
    SectionFactory,
    SkillFactory,
    StudentFactory,
    TeacherFactory,
    UserFactory,
    enrol,
)
from tutor import class_services
from tutor.models import Attempt, Enrollment, PracticeSession, Section, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def klass():
    section = SectionFactory(name="7B maths")
    teacher = TeacherFactory(organisation=section.organisation)
    section.teachers.add(teacher)
    return section, teacher


def _student(section, username, **kw):
    s = StudentFactory(organisation=section.organisation, username=username, **kw)
    enrol(s, section)
    return s


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _outsiders(section):
    """Signed-in people who must not manage ``section``: a teacher of another class of the same school, a
    student of the class, an admin of another school."""
    other_class = SectionFactory(organisation=section.organisation, course=section.course)
    other_teacher = TeacherFactory(organisation=section.organisation)
    other_class.teachers.add(other_teacher)
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    foreign_admin = UserFactory(role=User.Role.ADMIN, organisation=OrganisationFactory())
    return {"other teacher": other_teacher, "student": student, "foreign admin": foreign_admin}


# --- access -----------------------------------------------------------------------------------------


def _get_pages(section, session_id):
    return [
        reverse("class_manage", args=[section.pk]),
        reverse("class_export", args=[section.pk]),
        reverse("class_overview", args=[section.pk]) + "?start=2025-01-01",
        reverse("class_live", args=[section.pk]),
        reverse("class_session", args=[section.pk, session_id]),
    ]


def test_every_page_and_the_export_are_for_the_class_staff_only(klass, client):
    section, teacher = klass
    pupil = _student(section, "pupil")
    session = PracticeSession.objects.create(student=pupil, section=section, started_at=timezone.now())
    pages = _get_pages(section, session.pk)
    allowed = [
        teacher,
        UserFactory(role=User.Role.ADMIN, organisation=section.organisation),
        UserFactory(is_superuser=True, organisation=None, role=User.Role.ADMIN),
    ]
    for user in allowed:
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 200, (user.username, url)
    for who, user in _outsiders(section).items():
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 404, (who, url)
    client.logout()
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


def test_every_change_is_post_only_and_refused_to_outsiders_without_changing_anything(klass, client):
    section, teacher = klass
    pupil = _student(section, "pupil")
    target = SectionFactory(organisation=section.organisation, course=section.course)
    target.teachers.add(teacher)
    before_hash = User.objects.get(pk=pupil.pk).password
    posts = [
        (reverse("class_student_add", args=[section.pk]), {"username": "newbie"}),
        (reverse("class_roster_upload", args=[section.pk]), {}),
        (reverse("class_student_password_reset", args=[section.pk, pupil.pk]), {}),
        (reverse("class_student_move", args=[section.pk, pupil.pk]), {"target": target.pk}),
        (reverse("class_archive", args=[section.pk]), {}),
    ]
    client.force_login(teacher)
    for url, _ in posts:
        assert client.get(url).status_code == 405, url
    for who, user in _outsiders(section).items():
        client.force_login(user)
        for url, data in posts:
            assert client.post(url, data).status_code == 404, (who, url)
    assert User.objects.get(pk=pupil.pk).password == before_hash
    assert not User.objects.filter(username="newbie").exists()
    assert Enrollment.objects.filter(section=section, student=pupil).exists()
    section.refresh_from_db()
    assert section.archived_at is None


def test_a_post_without_the_csrf_token_is_refused(klass):
    section, teacher = klass
    client = Client(enforce_csrf_checks=True)
    client.force_login(teacher)
    response = client.post(reverse("class_student_add", args=[section.pk]), {"username": "newbie"})
    assert response.status_code == 403
    assert not User.objects.filter(username="newbie").exists()
    assert client.post(reverse("class_archive", args=[section.pk])).status_code == 403
    section.refresh_from_db()
    assert section.archived_at is None


# --- creating a class ---------------------------------------------------------------------------------


def test_a_teacher_creates_a_class_in_their_own_school_and_teaches_it(klass, client):
    section, teacher = klass
    course = CourseFactory()
    elsewhere = OrganisationFactory()
    client.force_login(teacher)
    assert client.get(reverse("class_create")).status_code == 200
    # an organisation field sent by hand is ignored: a teacher's classes are in their school
    response = client.post(
        reverse("class_create"), {"name": " 8C science ", "course": course.pk, "organisation": elsewhere.pk}
    )
    created = Section.objects.get(name="8C science")
    assert response.status_code == 302 and response["Location"] == reverse("class_manage", args=[created.pk])
    assert created.organisation == teacher.organisation and created.course == course
    assert list(created.teachers.all()) == [teacher]
    assert "Created the class 8C science. Add its students below." in _messages(response)
    assert reverse("class_create") in client.get(reverse("home")).content.decode()


def test_a_class_name_taken_in_the_school_is_refused_and_nothing_is_created(klass, client):
    section, teacher = klass
    client.force_login(teacher)
    n = Section.objects.count()
    response = client.post(reverse("class_create"), {"name": "7b MATHS", "course": section.course.pk})
    assert response.status_code == 422
    assert (
        "Class name:" in response.content.decode()
        and "already has a class called 7b MATHS" in response.content.decode()
    )
    assert Section.objects.count() == n
    response = client.post(reverse("class_create"), {"name": "", "course": section.course.pk})
    assert response.status_code == 422 and "Class name: This field is required." in response.content.decode()
    response = client.post(reverse("class_create"), {"name": "9A", "course": 999999})
    assert response.status_code == 422 and "Course:" in response.content.decode()
    assert Section.objects.count() == n


def test_a_student_cannot_create_a_class(klass, client):
    section, _ = klass
    client.force_login(_student(section, "pupil"))
    assert client.get(reverse("class_create")).status_code == 403
    assert client.post(reverse("class_create"), {"name": "Mine", "course": section.course.pk}).status_code == 403
    assert not Section.objects.filter(name="Mine").exists()


# --- adding students one by one ------------------------------------------------------------------------


def test_a_new_student_gets_an_account_and_a_one_time_password_that_works(klass, client):
    section, teacher = klass
    client.force_login(teacher)
    response = client.post(
        reverse("class_student_add", args=[section.pk]),
        {"username": "ana.lopez", "first_name": "Ana", "last_name": "Lopez", "email": ""},
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    ana = User.objects.get(username="ana.lopez")
    assert ana.organisation == section.organisation and ana.role == User.Role.STUDENT
    assert Enrollment.objects.filter(section=section, student=ana).exists()
    password = response.context["added"][0].password
    assert password and password in response.content.decode()
    assert "Added Ana Lopez to 7B maths with a new account." in response.content.decode()
    assert Client().login(username="ana.lopez", password=password)
    shown = _messages(response)
    assert shown == ["Added Ana Lopez to 7B maths with a new account."]
    assert not any(password in m for m in shown)  # never stored in a message (a cookie)
    # shown once: the manage page does not show it again
    assert password not in client.get(reverse("class_manage", args=[section.pk])).content.decode()


def test_an_existing_student_of_the_school_is_enrolled_with_their_password_unchanged(klass, client):
    section, teacher = klass
    ben = StudentFactory(organisation=section.organisation, username="ben")
    client.force_login(teacher)
    response = client.post(reverse("class_student_add", args=[section.pk]), {"username": "ben"})
    assert response.status_code == 302
    assert Enrollment.objects.filter(section=section, student=ben).exists()
    assert Client().login(username="ben", password=PASSWORD)
    assert "ben already had an account at" in " ".join(_messages(response))
    response = client.post(reverse("class_student_add", args=[section.pk]), {"username": "ben"})
    assert any("already in 7B maths: nothing changed" in m for m in _messages(response))
    assert Enrollment.objects.filter(section=section, student=ben).count() == 1


@pytest.mark.parametrize(
    ("holder", "expected"),
    [("other school", "is taken by an account outside"), ("teacher", "belongs to a staff account")],
)
def test_a_username_that_cannot_join_is_refused_and_nothing_changes(klass, client, holder, expected):
    section, teacher = klass
    if holder == "other school":
        StudentFactory(username="taken", organisation=OrganisationFactory())
    else:
        TeacherFactory(username="taken", organisation=section.organisation)
    client.force_login(teacher)
    response = client.post(reverse("class_student_add", args=[section.pk]), {"username": "taken"})
    assert response.status_code == 422
    assert "Username (what the student logs in with): " in response.content.decode()
    assert expected in response.content.decode()
    assert not Enrollment.objects.filter(section=section).exists()


def test_a_malformed_username_or_email_names_the_field(klass, client):
    section, teacher = klass
    client.force_login(teacher)
    response = client.post(reverse("class_student_add", args=[section.pk]), {"username": "has space"})
    assert response.status_code == 422 and "may hold only letters, digits" in response.content.decode()
    response = client.post(reverse("class_student_add", args=[section.pk]), {"username": "ok", "email": "nope"})
    assert response.status_code == 422 and "Email (optional): Enter a valid email address." in response.content.decode()
    assert not User.objects.filter(username__in=["has space", "ok"]).exists()


# --- roster upload -------------------------------------------------------------------------------------


def _upload(client, section, text: str | bytes, name="roster.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        reverse("class_roster_upload", args=[section.pk]), {"roster": SimpleUploadedFile(name, data, "text/csv")}
    )


def test_a_roster_enrols_everyone_and_shows_each_new_password_once(klass, client):
    section, teacher = klass
    kept = StudentFactory(organisation=section.organisation, username="kept")
    roster = "\ufeffUsername,first_name,last_name,email\r\nana,Ana,Lopez,ana@example.org\r\nben,Ben,Okafor,\r\nkept,,,\r\n\r\n"
    client.force_login(teacher)
    response = _upload(client, section, roster)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert set(Enrollment.objects.filter(section=section).values_list("student__username", flat=True)) == {
        "ana",
        "ben",
        "kept",
    }
    ana = User.objects.get(username="ana")
    assert (ana.first_name, ana.last_name, ana.email) == ("Ana", "Lopez", "ana@example.org")
    added = {a.student.username: a for a in response.context["added"]}
    assert added["kept"].password is None and not added["kept"].created
    for username in ("ana", "ben"):
        assert added[username].password in response.content.decode()
        assert Client().login(username=username, password=added[username].password)
    assert Client().login(username="kept", password=PASSWORD)  # an existing account keeps its password
    assert kept.pk == User.objects.get(username="kept").pk
    assert (
        "Roster saved for 7B maths: 2 new accounts, 1 existing accounts enrolled, 0 already in the class."
        in response.content.decode()
    )


@pytest.mark.parametrize(
    ("roster", "error"),
    [
        ("username,first_name,email\nana,Ana,ana@example.org\nben,Ben,not-an-email\n", "Line 3: email “not-an-email”"),
        ("username,first_name\nana,Ana\nana,Ann\n", "Line 3: username “ana” is also on line 2."),
        ("username,first_name\nana,Ana\n,Nobody\n", "Line 3: username is empty."),
        ("username,first_name\nana,Ana\nbad name,Bad\n", "Line 3: username “bad name” may hold only"),
        ("username,first_name\nana,Ana\nben,Ben,extra\n", "Line 3: 3 values for 2 columns."),
        ("username,nickname\nana,A\n", "Line 1: unknown column “nickname”"),
        ("first_name,last_name\nAna,Lopez\n", "Line 1: the column “username” is missing."),
        ("username\n", "The roster has a header line but no students."),
        ("", "The file is empty"),
        ("username,first_name\nana,Ana\nforeign,F\n", "Line 3: username “foreign” is taken by an account outside"),
        ("username,first_name\nana," + "x" * 151 + "\n", "Line 2: first_name is longer than 150 characters."),
    ],
)
def test_one_bad_line_saves_nothing_and_the_error_names_the_line_and_field(klass, client, roster, error):
    section, teacher = klass
    StudentFactory(username="foreign", organisation=OrganisationFactory())
    users = User.objects.count()
    client.force_login(teacher)
    response = _upload(client, section, roster)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Nothing was saved." in html and error in html
    assert User.objects.count() == users
    assert not Enrollment.objects.filter(section=section).exists()


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(klass, client):
    section, teacher = klass
    client.force_login(teacher)
    response = _upload(client, section, "username,first_name\nana,Ana\njos,Jos\xe9\n".encode("latin-1"))
    assert response.status_code == 422
    assert "Line 3: the file is not UTF-8 text" in response.content.decode()
    assert not User.objects.filter(username="ana").exists()


def test_a_roster_that_fails_while_saving_leaves_nothing_behind(klass, client, monkeypatch):
    """All or nothing even when the database refuses a row half-way (a username taken by a parallel request)."""
    section, teacher = klass
    real_create = Enrollment.objects.create
    calls = []

    def failing_create(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise IntegrityError("taken meanwhile")
        return real_create(**kwargs)

    monkeypatch.setattr(Enrollment.objects, "create", failing_create)
    client.force_login(teacher)
    response = _upload(client, section, "username\nana\nben\n")
    assert response.status_code == 422
    assert "Nothing was saved. Someone else changed these accounts" in response.content.decode()
    assert len(calls) == 2
    assert not User.objects.filter(username__in=["ana", "ben"]).exists()
    assert not Enrollment.objects.filter(section=section).exists()


# --- reset, move, archive --------------------------------------------------------------------------------


def test_a_password_reset_shows_a_new_password_once_and_the_old_one_stops_working(klass, client):
    section, teacher = klass
    pupil = _student(section, "pupil", first_name="Pia", last_name="Upil")
    client.force_login(teacher)
    response = client.post(reverse("class_student_password_reset", args=[section.pk, pupil.pk]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = response.context["added"][0].password
    assert new in response.content.decode() and "New temporary password for Pia Upil." in response.content.decode()
    assert not Client().login(username="pupil", password=PASSWORD)
    assert Client().login(username="pupil", password=new)


def test_a_password_reset_of_a_student_outside_the_class_is_refused(klass, client):
    section, teacher = klass
    other = SectionFactory(organisation=section.organisation, course=section.course)
    stranger = _student(other, "stranger")
    client.force_login(teacher)
    response = client.post(reverse("class_student_password_reset", args=[section.pk, stranger.pk]))
    assert response.status_code == 404
    assert Client().login(username="stranger", password=PASSWORD)


def test_moving_a_student_ends_their_open_session_and_keeps_their_answers(klass, client):
    section, teacher = klass
    target = SectionFactory(organisation=section.organisation, course=section.course, name="7C maths")
    target.teachers.add(teacher)
    pupil = _student(section, "pupil")
    item = ItemFactory(skill=SkillFactory(course=section.course))
    session = PracticeSession.objects.create(student=pupil, section=section, started_at=timezone.now())
    Attempt.objects.create(
        student=pupil,
        item=item,
        skill=item.skill,
        session=session,
        answer="42",
        correct=True,
        confidence=0.5,
        idempotency_key="k1",
        created_at=timezone.now(),
    )
    client.force_login(teacher)
    page = client.get(reverse("class_manage", args=[section.pk])).content.decode()
    assert f'<option value="{target.pk}">7C maths</option>' in page
    response = client.post(reverse("class_student_move", args=[section.pk, pupil.pk]), {"target": target.pk})
    assert response.status_code == 302
    assert "Moved pupil from 7B maths to 7C maths." in _messages(response)
    assert list(Enrollment.objects.filter(student=pupil).values_list("section_id", flat=True)) == [target.pk]
    session.refresh_from_db()
    assert session.ended_at is not None
    assert Attempt.objects.filter(session=session).count() == 1


def test_a_student_cannot_be_moved_to_a_class_the_teacher_does_not_teach(klass, client):
    section, teacher = klass
    foreign = SectionFactory(organisation=section.organisation, course=section.course)  # not theirs
    archived = SectionFactory(organisation=section.organisation, course=section.course, archived_at=timezone.now())
    archived.teachers.add(teacher)
    pupil = _student(section, "pupil")
    client.force_login(teacher)
    for target in (foreign, archived, section):
        response = client.post(reverse("class_student_move", args=[section.pk, pupil.pk]), {"target": target.pk})
        assert response.status_code == 422
        assert "Move: Choose one of your other classes." in response.content.decode()
    response = client.post(reverse("class_student_move", args=[section.pk, pupil.pk]), {"target": "x"})
    assert response.status_code == 422
    assert list(Enrollment.objects.filter(student=pupil).values_list("section_id", flat=True)) == [section.pk]


def test_move_refuses_a_class_of_another_school_even_from_the_service(klass):
    section, _ = klass
    pupil = _student(section, "pupil")
    elsewhere = SectionFactory(course=section.course)
    with pytest.raises(class_services.ClassError) as err:
        class_services.student_move(student=pupil, source=section, target=elsewhere)
    assert err.value.field == "target" and "own organisation only" in err.value.message
    assert Enrollment.objects.filter(student=pupil, section=section).exists()


def test_an_archived_class_leaves_the_home_list_and_keeps_its_data(klass, client):
    section, teacher = klass
    pupil = _student(section, "pupil")
    client.force_login(teacher)
    overview = reverse("class_overview", args=[section.pk])
    assert overview in client.get(reverse("home")).content.decode()
    response = client.post(reverse("class_archive", args=[section.pk]))
    assert response.status_code == 302
    assert any(m.startswith("Archived 7B maths: it is off your home page") for m in _messages(response))
    section.refresh_from_db()
    assert section.archived_at is not None
    home = client.get(reverse("home"))
    assert list(home.context["sections"]) == [] and list(home.context["archived"]) == [section]
    assert f'href="{overview}"' not in home.content.decode()
    assert Enrollment.objects.filter(section=section, student=pupil).exists()
    assert client.get(overview).status_code == 200  # the data is still there to read
    response = client.post(reverse("class_unarchive", args=[section.pk]))
    assert "7B maths is back on your home page." in _messages(response)
    assert list(client.get(reverse("home")).context["sections"]) == [section]


# --- filters, export, print -------------------------------------------------------------------------------


@pytest.fixture
def answered(klass):
    """Two skills; Ana answered skill 0 three times 20 days ago and skill 1 twice today."""
    section, teacher = klass
    skills = [SkillFactory(course=section.course, name=n) for n in ("Fractions", "Decimals")]
    items = [ItemFactory(skill=s) for s in skills]
    ana = _student(section, "ana", first_name="Ana", last_name="Lopez")
    now = timezone.now()
    session = PracticeSession.objects.create(student=ana, section=section, started_at=now - timedelta(days=21))
    rows = [
        (items[0], True, 20),
        (items[0], False, 20),
        (items[0], False, 20),
        (items[1], True, 0),
        (items[1], True, 0),
    ]
    Attempt.objects.bulk_create(
        Attempt(
            student=ana,
            item=item,
            skill=item.skill,
            session=session,
            answer="42" if ok else "1",
            correct=ok,
            confidence=0.5,
            idempotency_key=f"k{i}",
            created_at=now - timedelta(days=days, minutes=10 - i),
        )
        for i, (item, ok, days) in enumerate(rows)
    )
    return section, teacher, skills, ana


def _overview(client, section, **params):
    return client.get(reverse("class_overview", args=[section.pk]), params)


def test_the_skill_filter_shows_that_skill_only(answered, client):
    section, teacher, skills, _ = answered
    client.force_login(teacher)
    overview = _overview(client, section, skill=skills[1].pk).context["overview"]
    assert [s.name for s in overview.skills] == ["Decimals"]
    row = overview.rows[0]
    assert (row.n_answers, row.n_correct) == (2, 2) and [c.n for c in row.cells] == [2]


def test_the_date_filter_counts_the_answers_of_those_days_only(answered, client):
    section, teacher, skills, _ = answered
    client.force_login(teacher)
    today = timezone.localdate()
    response = _overview(
        client, section, start=(today - timedelta(days=25)).isoformat(), end=(today - timedelta(days=10)).isoformat()
    )
    row = response.context["overview"].rows[0]
    assert (row.n_answers, row.n_correct) == (3, 1)
    assert [(c.n, c.n_correct) for c in row.cells] == [(3, 1), (0, 0)]
    assert "Showing only answers from" in response.content.decode()
    row = _overview(client, section, start=today.isoformat()).context["overview"].rows[0]
    assert (row.n_answers, row.n_correct) == (2, 2)
    # no filter: everything, from the tallies
    row = _overview(client, section).context["overview"].rows[0]
    assert (row.n_answers, row.n_correct) == (5, 3)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2025-13-01"}, "From (day): Enter a day as YYYY-MM-DD"),
        ({"end": "yesterday"}, "To (day, included): Enter a day as YYYY-MM-DD"),
        ({"start": "2025-03-02", "end": "2025-03-01"}, "The end day is before the start day."),
        ({"end": "9999-12-31"}, "Enter a day between 2000-01-01 and 2100-12-31."),
        ({"skill": "abc"}, "Skill: Choose a skill of this class"),
    ],
)
def test_bad_filters_get_a_clear_error_not_a_crash(answered, client, params, message):
    section, teacher, *_ = answered
    client.force_login(teacher)
    for url in (reverse("class_overview", args=[section.pk]), reverse("class_export", args=[section.pk])):
        response = client.get(url, params)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_a_skill_of_another_course_is_refused(answered, client):
    section, teacher, *_ = answered
    client.force_login(teacher)
    response = _overview(client, section, skill=SkillFactory().pk)
    assert response.status_code == 400 and "Choose a skill of this class" in response.content.decode()


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_csv_export_holds_what_the_page_shows_under_the_same_filters(answered, client):
    section, teacher, skills, ana = answered
    _student(section, "bob", first_name="=HYPERLINK(1)", last_name="")
    client.force_login(teacher)
    params = {"start": (timezone.localdate() - timedelta(days=25)).isoformat(), "skill": skills[0].pk}
    page = _overview(client, section, **params)
    assert reverse("class_export", args=[section.pk]) + "?" in page.content.decode()
    response = client.get(reverse("class_export", args=[section.pk]), params)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="class-{section.pk}-overview-')
    header, *rows = _csv(response)
    assert header == [
        "student",
        "username",
        "answers",
        "right",
        "accuracy_pct",
        "last_answer",
        "needs_help",
        "Fractions: chance_right_pct",
        "Fractions: answers",
        "Fractions: sure_wrong/sure",
    ]
    shown = {r.student.username: r for r in page.context["overview"].rows}
    by_user = {r[1]: r for r in rows}
    assert set(by_user) == set(shown) == {"ana", "bob"}
    assert by_user["ana"][:5] == ["Ana Lopez", "ana", "3", "1", "33"]
    assert by_user["ana"][6] == " ".join(f.reason for f in shown["ana"].flags)
    assert by_user["ana"][8] == "3"
    assert by_user["bob"][0] == "'=HYPERLINK(1)"  # a name is never run as a spreadsheet formula
    # unfiltered: both skills and all five answers
    header, *rows = _csv(client.get(reverse("class_export", args=[section.pk])))
    assert len(header) == 7 + 3 * 2
    assert {r[1]: r[2] for r in rows}["ana"] == "5"


def test_the_overview_filters_do_not_add_queries_per_student(answered, client):
    section, teacher, skills, _ = answered
    client.force_login(teacher)
    params = {"start": "2024-01-01", "end": "2100-01-01", "skill": skills[0].pk}
    _overview(client, section, **params)
    with CaptureQueriesContext(connection) as small:
        _overview(client, section, **params)
    for i in range(8):
        _student(section, f"extra-{i}")
    with CaptureQueriesContext(connection) as big:
        _overview(client, section, **params)
    assert len(big) == len(small)


def test_the_print_layout_is_a_local_static_file_linked_from_every_page(answered, client):
    section, teacher, *_ = answered
    client.force_login(teacher)
    html = _overview(client, section).content.decode()
    assert 'href="/static/css/print.css" media="print"' in html
    assert "data-print" in html and "/static/js/print.js" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    css = (Path(settings.BASE_DIR) / "static" / "css" / "print.css").read_text()
    assert "display: none" in css and ".bar" in css


def test_a_roster_over_the_size_limits_is_refused_whole(klass, client):
    section, teacher = klass
    client.force_login(teacher)
    rows = "".join(f"s{i}\n" for i in range(class_services.ROSTER_MAX_ROWS + 1))
    response = _upload(client, section, "username\n" + rows)
    assert response.status_code == 422
    assert f"The roster has more than {class_services.ROSTER_MAX_ROWS} students: split it." in response.content.decode()
    response = _upload(client, section, "username\n" + "x" * (class_services.ROSTER_MAX_BYTES + 1))
    assert (
        response.status_code == 422
        and "Nothing was saved. The file is larger than 512 KB." in response.content.decode()
    )
    assert not Enrollment.objects.filter(section=section).exists()
