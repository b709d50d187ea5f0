"""A teacher creates a class and uploads a roster in headless Chromium; a new student logs in with the
password shown once. Screenshots of each step go to the artefacts folder."""

from __future__ import annotations

import re

import pytest

from tests.factories import CourseFactory, OrganisationFactory, TeacherFactory
from tutor.models import Enrollment, Section, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass"


def _log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_teacher_creates_a_class_and_uploads_a_roster(live_server, page, browser, artifacts_dir, tmp_path):
    school = OrganisationFactory(name="Hillside School")
    CourseFactory(title="Fractions and decimals")
    teacher = TeacherFactory(username="ms-rivera", organisation=school, password=PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 900})
    _log_in(page, live_server.url + "/", teacher.username, PASSWORD)

    page.get_by_role("link", name="Create a class").click()
    page.get_by_label("Class name").fill("8C maths")
    page.get_by_label("Course").select_option(label="Fractions and decimals")
    page.screenshot(path=str(artifacts_dir / "class-management-create.png"), full_page=True)
    page.get_by_role("button", name="Create the class").click()
    page.get_by_text("Created the class 8C maths. Add its students below.").wait_for()
    section = Section.objects.get(name="8C maths")
    assert section.organisation == school and list(section.teachers.all()) == [teacher]

    # a bad roster first: nothing saved, the line and field named
    bad = tmp_path / "bad.csv"
    bad.write_text("username,first_name,email\nana,Ana,ana@example.org\nben,Ben,not-an-email\n")
    page.get_by_label("Roster (CSV file)").set_input_files(str(bad))
    page.get_by_role("button", name="Upload the roster").click()
    page.get_by_text(re.compile("Nothing was saved. Line 3: email")).wait_for()
    page.screenshot(path=str(artifacts_dir / "class-management-roster-error.png"), full_page=True)
    assert not Enrollment.objects.filter(section=section).exists()

    good = tmp_path / "roster.csv"
    good.write_text("username,first_name,last_name\nana,Ana,Lopez\nben,Ben,Okafor\n")
    page.get_by_label("Roster (CSV file)").set_input_files(str(good))
    page.get_by_role("button", name="Upload the roster").click()
    page.get_by_role("heading", name="Passwords for 8C maths").wait_for()
    page.screenshot(path=str(artifacts_dir / "class-management-passwords.png"), full_page=True)
    assert set(Enrollment.objects.filter(section=section).values_list("student__username", flat=True)) == {
        "ana",
        "ben",
    }
    row = page.get_by_role("row").filter(has_text="ana")
    password = row.locator("code.password").inner_text()
    assert len(password) == 12

    page.get_by_role("link", name="Back to managing 8C maths").click()
    page.screenshot(path=str(artifacts_dir / "class-management-roster.png"), full_page=True)
    assert page.get_by_role("cell", name="Ana Lopez").count() == 1

    student_page = browser.new_context().new_page()
    _log_in(student_page, live_server.url + "/", "ana", password)
    student_page.get_by_role("heading", name=re.compile("Hello")).wait_for()
    assert User.objects.get(username="ana").last_login is not None

    # the class's other pages from the manage page: the overview with its filters, and the live view
    page.get_by_role("link", name="Class overview").click()
    page.get_by_label("From (day)").fill("2025-09-01")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Showing only answers from 1 Sep 2025").wait_for()
    page.screenshot(path=str(artifacts_dir / "class-management-overview-filtered.png"), full_page=True)
    page.get_by_role("link", name="Live: who is practising now").click()
    page.get_by_text("Nobody is practising in this class right now.").wait_for()
    page.screenshot(path=str(artifacts_dir / "class-management-live.png"), full_page=True)
