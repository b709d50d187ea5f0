"""A walk through the seeded demo as two students, as a new user would take it (issue 14's "done when").

demo-student-30 has no history; demo-student-05 has one. Each page they reach is saved as a screenshot
in the artefacts folder, and none of them may say the things issue 14 found: a position for the option
picked, "0.75 sure", statistics jargon for students, Django's error pages, or a 404 for any resource.
"""

from __future__ import annotations

import re

import pytest

from tutor.answers import correct_answer_display
from tutor.demo import FRESH_STUDENT, demo_seed
from tutor.models import Attempt, SessionItem, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-walk-pass"
NEVER = [
    re.compile(r"\b0\.\d+ sure"),  # confidence reads "75 %"
    re.compile(r"Bias \[|Gamma|Brier|\(se\)"),  # jargon for students (the details toggle may hold numbers)
    re.compile(r"\[0\.00, 0\.00\]"),
    re.compile(r"No \w+ matches the given query|Page not found|Server Error"),
    re.compile(r"\(simulated"),
]


def _visible_text(page) -> str:
    """What a student reads without opening a Details toggle."""
    return page.evaluate(
        """() => { const clone = document.body.cloneNode(true);
                   clone.querySelectorAll('details:not([open]) > :not(summary)').forEach(n => n.remove());
                   return clone.innerText; }"""
    )


def _check(page, artifacts_dir, name: str) -> None:
    page.screenshot(path=str(artifacts_dir / f"demo-walk-{name}.png"), full_page=True)
    text = _visible_text(page)
    for pattern in NEVER:
        assert not pattern.search(text), f"{name}: {pattern.pattern!r} in {text[:2000]}"


def _log_in(page, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("username", [FRESH_STUDENT, "demo-student-05"])
def test_demo_walk(live_server, page, artifacts_dir, username):
    demo_seed(password=PASSWORD, sessions_per_student=2, items_per_session=6)
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    _log_in(page, live_server.url + "/", username)
    page.get_by_role("heading", name=re.compile("Hello")).wait_for()
    _check(page, artifacts_dir, f"{username}-home")

    page.get_by_role("button", name="Practise").click()
    student = User.objects.get(username=username)
    for n in range(3):
        page.get_by_text(re.compile(r"Item \d+ of")).first.wait_for()
        si = (
            SessionItem.objects.select_related("item")
            .filter(session__student=student, attempt__isnull=True)
            .order_by("-session__started_at", "-position")
            .first()
        )
        item = si.item
        if item.item_type == "multiple_choice":
            picked = item.answer["choices"][(item.answer["correct"] + n) % len(item.answer["choices"])]
            page.get_by_label(picked, exact=True).check()
        else:
            picked = correct_answer_display(item.item_type, item.answer) if n != 1 else "999"
            page.get_by_label("Your answer").fill(picked)
        page.get_by_label(re.compile("Fairly sure")).check()
        page.get_by_role("button", name="Check answer").click()
        page.get_by_role("status").filter(has_text=re.compile("Correct!|Not quite.")).first.wait_for()
        stored = Attempt.objects.get(session_item=si)
        assert page.locator("#given-answer").inner_text() == stored.answer == picked
        assert "You were 75 % sure" in page.locator("#item-area").inner_text()
        _check(page, artifacts_dir, f"{username}-feedback-{n + 1}")
        if n < 2:
            page.get_by_role("link", name="Next item").click()

    page.get_by_role("button", name="End session").click()
    page.get_by_role("heading", name="Session summary").wait_for()
    _check(page, artifacts_dir, f"{username}-summary")

    page.goto(live_server.url + "/progress/")
    page.get_by_role("heading", name="My progress", level=1).wait_for()
    _check(page, artifacts_dir, f"{username}-progress")

    page.goto(live_server.url + "/metacog/me/")
    _check(page, artifacts_dir, f"{username}-history")
    assert not missing, missing
