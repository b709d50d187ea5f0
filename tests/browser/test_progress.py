"""A demo student with a history opens My progress: the numbers match the database, and it reads at 360 and 1280 px."""

from __future__ import annotations

import pytest

from tutor.demo import DEMO_STUDENTS, demo_seed
from tutor.models import Attempt, Skill, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass"


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_student_sees_their_own_progress_at_phone_and_desktop_widths(live_server, page, artifacts_dir):
    demo_seed(password=PASSWORD, sessions_per_student=2, items_per_session=6)
    username = DEMO_STUDENTS[0]
    student = User.objects.get(username=username)
    own = Attempt.objects.filter(student=student)
    assert own.count() == 12

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Account").get_by_role("link", name="My progress").click()
    page.get_by_role("heading", name="My progress", level=1).wait_for()

    # Answers so far, per skill of the course, as stored.
    skills = list(Skill.objects.filter(course__sections__enrollments__student=student).order_by("position"))
    assert len(skills) >= 2
    for skill in skills:
        card = page.locator(f"#skill-{skill.pk}")
        n = own.filter(skill=skill).count()
        if n:
            assert card.locator(".progress-answer-count").inner_text() == str(n), skill.name
        else:
            assert "Not started" in card.inner_text()

    # The newest past answer comes first, with what the student answered and how sure they were.
    newest = own.select_related("item").order_by("-created_at", "-id").first()
    first = page.locator(".progress-answer").first
    assert newest.item.prompt.split("\n")[0] in first.locator(".progress-prompt").inner_text()
    assert first.locator(".progress-given").inner_text() == newest.answer
    assert first.locator(".progress-confidence").inner_text() == f"{round(100 * newest.confidence)} %"
    assert first.locator(".progress-verdict").inner_text() == ("Right" if newest.correct else "Wrong")
    assert page.locator(".progress-answer").count() == 12

    # Statistics stay folded away until asked for.
    details = page.locator(f"#skill-{skills[0].pk} details")
    assert not details.locator("dl").is_visible()
    details.locator("summary").click()
    assert details.locator("dl").is_visible()

    folder = artifacts_dir
    assert no_horizontal_scroll(page)
    page.screenshot(path=str(folder / "progress-1280.png"), full_page=True)

    page.set_viewport_size({"width": 360, "height": 780})
    page.reload()
    page.get_by_role("heading", name="My progress", level=1).wait_for()
    assert no_horizontal_scroll(page), "the page scrolls sideways at 360 px"
    page.screenshot(path=str(folder / "progress-360.png"), full_page=True)
