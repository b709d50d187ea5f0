"""A new student logs in, answers five items with confidence ratings, sees feedback and the summary."""

from __future__ import annotations

import re

import pytest

from tutor.answers import correct_answer_display
from tutor.demo import FRESH_STUDENT, demo_seed
from tutor.models import Attempt, SessionItem, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass"


def test_student_practises_five_items(live_server, page):
    demo_seed(password=PASSWORD, sessions_per_student=1, items_per_session=3)
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill(FRESH_STUDENT)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Practise").click()

    student = User.objects.get(username=FRESH_STUDENT)
    confidences = ["Guessing", "Unsure", "Fairly sure", "Certain", "Certain"]
    for n in range(5):
        page.get_by_text(f"Item {n + 1} of").wait_for()
        si = SessionItem.objects.select_related("item").get(session__student=student, position=n + 1)
        item = si.item
        right = n != 1  # answer the second item wrongly on purpose
        if n == 0 and item.hints:
            page.get_by_role("button", name="Show a hint").click()
            page.get_by_text(item.hints[0]).wait_for()
        if item.item_type == "multiple_choice":
            idx = item.answer["correct"] if right else (item.answer["correct"] + 1) % len(item.answer["choices"])
            page.get_by_label(item.answer["choices"][idx], exact=True).check()
        else:
            answer = correct_answer_display(item.item_type, item.answer) if right else "999999"
            page.get_by_label("Your answer").fill(answer)
        page.get_by_label(re.compile(confidences[n])).check()
        page.get_by_role("button", name="Check answer").click()
        page.get_by_role("status").filter(has_text="Correct!" if right else "Not quite.").wait_for()
        if n < 4:
            page.get_by_role("link", name="Next item").click()

    page.get_by_role("button", name="End session").click()
    page.get_by_role("heading", name="Session summary").wait_for()
    assert page.locator("#summary-answered").inner_text() == "5"
    assert page.locator("#summary-accuracy").inner_text() == "80 %"

    attempts = list(Attempt.objects.filter(student=student).order_by("created_at"))
    assert len(attempts) == 5
    assert [a.correct for a in attempts] == [True, False, True, True, True]
    assert [a.confidence for a in attempts] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert all(a.response_time_ms is not None and a.response_time_ms > 0 for a in attempts)
    if attempts[0].item.hints:
        assert attempts[0].hints_used == 1
