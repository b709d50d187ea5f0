"""In a real browser, stored script payloads in every free-text field stay inert: no page opens a dialog.

The server-side test (tests/tutor/test_xss.py) reads the HTML; this one lets Chromium run the pages, htmx
swaps included (htmx would run a <script> in a swapped fragment), and counts ``alert()`` dialogs.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import PASSWORD
from tests.tutor import school
from tests.tutor.school import payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The scheduler caches per-student estimates by id, and ids restart after this test's flush."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _log_in(page, base: str, user) -> None:
    page.context.clear_cookies()
    page.goto(base + reverse("login"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login/)"))


def test_no_stored_payload_opens_a_dialog_on_the_practice_progress_teacher_and_metacog_pages(live_server, page):
    w = school.build(private=payload, authored=payload)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))
    base = live_server.url
    session, ended, victim = w["open"], w["ended"], w["victim"]

    _log_in(page, base, victim)
    page.goto(base + reverse("practice", args=[session.pk]))
    page.get_by_label("Your answer").fill(payload("typed answer"))
    page.get_by_label(re.compile("Certain")).check()
    page.get_by_role("button", name="Check answer").click()
    page.get_by_text("You answered").wait_for()  # the feedback fragment, swapped in by htmx
    given = page.locator("#given-answer").inner_text()
    student_pages = [
        reverse("practice_summary", args=[ended.pk]),
        reverse("my_progress"),
        reverse("metacog:me"),
        reverse("home"),
    ]
    for url in student_pages:
        page.goto(base + url)
        page.wait_for_load_state("load")

    _log_in(page, base, w["own_teacher"])
    teacher_pages = [
        reverse("class_overview", args=[w["mine"].pk]),
        reverse("metacog:class_overview", args=[w["mine"].pk]),
        reverse("metacog:class_settings", args=[w["mine"].pk]),
        reverse("class_schedule", args=[w["mine"].pk]),
        reverse("student_attempts", args=[victim.pk]),
        reverse("metacog:student", args=[victim.pk]),
        reverse("practice_summary", args=[ended.pk]),
        reverse("home"),
    ]
    for url in teacher_pages:
        page.goto(base + url)
        page.wait_for_load_state("load")
    assert page.get_by_text('<script>alert("first_name")</script>', exact=False).count() >= 1  # rendered as text
    assert dialogs == []
    assert given == payload("typed answer")  # shown as the text it is
