"""Login throttling per account: wrong passwords lock that username for a while, nobody else."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, StudentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _login(client, username, password, url=None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_then_the_right_one_does_not_log_in(client):
    student = StudentFactory()
    for _ in range(40):
        assert _login(client, student.username, "guess").status_code == 200
    response = _login(client, student.username, PASSWORD)
    assert not _logged_in(client)
    assert response.status_code == 200 and "Too many failed logins for this account" in response.content.decode()
    assert "Wait 15 minutes" in response.content.decode()


def test_the_lock_starts_at_the_fifth_failure_and_names_no_password_problem(client):
    student = StudentFactory()
    for n in range(1, 5):
        html = _login(client, student.username, f"guess-{n}").content.decode()
        assert "Please enter a correct username and password" in html
    html = _login(client, student.username.upper(), "guess-5").content.decode()  # the case does not escape it
    assert "Too many failed logins" in html


def test_other_accounts_behind_the_same_address_still_log_in(client):
    locked, classmate = StudentFactory(), StudentFactory()
    for _ in range(6):
        _login(client, locked.username, "guess")
    _login(client, classmate.username, PASSWORD)
    assert _logged_in(client)


def test_a_success_clears_the_count(client):
    student = StudentFactory()
    for _ in range(4):
        _login(client, student.username, "guess")
    _login(client, student.username, PASSWORD)
    assert _logged_in(client)
    client.logout()
    for _ in range(4):
        _login(client, student.username, "guess")
    _login(client, student.username, PASSWORD)
    assert _logged_in(client)


def test_the_lock_ends_after_the_cool_down(client, settings):
    settings.LOGIN_LOCKOUT_S = 1
    student = StudentFactory()
    for _ in range(5):
        _login(client, student.username, "guess")
    _login(client, student.username, PASSWORD)
    assert not _logged_in(client)
    time.sleep(1.2)
    _login(client, student.username, PASSWORD)
    assert _logged_in(client)


def test_the_admin_login_is_throttled_too(client):
    operator = UserFactory(is_staff=True, is_superuser=True)
    url = reverse("admin:login")
    for _ in range(5):
        _login(client, operator.username, "guess", url=url)
    response = _login(client, operator.username, PASSWORD, url=url)
    assert not _logged_in(client) and "Too many failed logins" in response.content.decode()


# --- sessions on shared classroom computers ---------------------------------------------------------------


def test_the_session_ends_with_the_browser_and_after_a_school_day(client):
    student = StudentFactory()
    _login(client, student.username, PASSWORD)
    cookie = client.cookies["sessionid"]
    assert not cookie["max-age"] and not cookie["expires"]  # a browser-session cookie: closing the browser ends it
    assert client.session.get_expiry_age() <= 12 * 3600  # and the server forgets it after 12 hours anyway


def test_no_script_can_read_the_csrf_cookie_and_htmx_still_posts(served_student):
    """The token reaches htmx through the page (hx-headers on <body>), so the cookie can be HttpOnly."""
    import re

    client, session = served_student
    page = client.get(reverse("practice", args=[session.pk]))
    assert client.cookies["csrftoken"]["httponly"]
    token = re.search(r"""<body hx-headers='\{"X-CSRFToken": "([^"]+)"\}'>""", page.content.decode()).group(1)
    url = reverse("practice_hint", args=[session.pk, 1])
    assert client.post(url, headers={"HX-Request": "true", "X-CSRFToken": token}).status_code == 200
    assert client.post(url, headers={"HX-Request": "true"}).status_code == 403  # without the page's token


@pytest.fixture
def served_student():
    from django.test import Client

    from tests.factories import ItemFactory, SectionFactory, SkillFactory, enrol
    from tutor import services

    section = SectionFactory()
    ItemFactory(skill=SkillFactory(course=section.course))
    student = StudentFactory(organisation=section.organisation)
    enrol(student, section)
    session = services.session_start(student=student, section=section)
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)
    return client, session
