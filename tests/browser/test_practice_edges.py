"""The practice page's edges in a real browser: a multiple-choice answer shown as the option picked,
a logout in another tab, a session ended in another tab, two tabs answering one item, a character
that cannot be stored, and the page's
layout at phone, tablet and desktop widths (screenshots are left in the artefacts folder)."""

from __future__ import annotations

import re

import pytest

from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, enrol
from tutor.models import Attempt, PracticeSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-edge-pass"
MC = {"choices": ["-11", "-2", "5", "6"], "correct": 2}
WIDTHS = {"phone": 360, "tablet": 768, "desktop": 1280}


@pytest.fixture
def student():
    section = SectionFactory(session_length=3)
    skill = SkillFactory(course=section.course, name="Order of operations")
    for n in range(3):
        ItemFactory(
            skill=skill,
            slug=f"oo-{n}",
            item_type="multiple_choice",
            prompt="What is 7 - 18 ÷ 9?",
            answer=MC,
            hints=[],
            solution="Divide first: 18 ÷ 9 = 2, then 7 - 2 = 5.",
        )
    user = StudentFactory(organisation=section.organisation, username="edge-student")
    user.set_password(PASSWORD)
    user.save()
    enrol(user, section)
    return user


def _log_in(page, url: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill("edge-student")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _start(page, live_server) -> None:
    _log_in(page, live_server.url + "/")
    page.get_by_role("button", name="Practise").click()
    page.get_by_text("Item 1 of").wait_for()


def _second_tab(page, live_server):
    other = page.context.new_page()
    other.set_default_timeout(15_000)
    other.goto(page.url)
    other.get_by_text("Item 1 of").wait_for()
    return other


def test_multiple_choice_feedback_names_the_option_picked(live_server, page, student):
    _start(page, live_server)
    page.get_by_label("6", exact=True).check()
    page.get_by_label(re.compile("Fairly sure")).check()
    page.get_by_role("button", name="Check answer").click()
    page.get_by_role("status").filter(has_text="Not quite.").wait_for()
    assert page.locator("#given-answer").inner_text() == "6"
    assert "You answered 6; the answer is 5." in page.locator("#item-area").inner_text()
    assert "You were 75 % sure" in page.locator("#item-area").inner_text()
    assert Attempt.objects.get().answer == "6"


def test_logged_out_in_another_tab_keeps_the_answer_and_comes_back_to_the_item(live_server, page, student):
    _start(page, live_server)
    item_url = page.url
    other = _second_tab(page, live_server)
    other.get_by_role("button", name="Log out").click()
    other.get_by_label("Username").wait_for()  # the logout has landed: closing mid-navigation can hang Playwright
    other.close()

    page.get_by_label("5", exact=True).check()
    page.get_by_label(re.compile("Certain")).check()
    page.get_by_role("button", name="Check answer").click()
    alert = page.locator("#flash").get_by_role("alert")
    alert.wait_for()
    assert "You are no longer logged in" in alert.inner_text()
    assert page.get_by_label("5", exact=True).is_checked()  # the card and the answer are still there
    assert page.get_by_role("heading", name="What is 7 - 18 ÷ 9?").is_visible()
    assert not Attempt.objects.exists()

    page.get_by_role("link", name="Log in again").click()
    page.get_by_label("Username").fill("edge-student")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Item 1 of").wait_for()
    assert page.url == item_url
    assert page.get_by_label("5", exact=True).is_checked()  # restored after logging in again
    page.get_by_role("button", name="Check answer").click()
    page.get_by_role("status").filter(has_text="Correct!").wait_for()
    assert Attempt.objects.get().answer == "5"


def test_answering_after_the_session_ended_in_another_tab(live_server, page, student):
    _start(page, live_server)
    other = _second_tab(page, live_server)
    other.get_by_role("button", name="End session").click()
    other.get_by_role("heading", name="Session summary").wait_for()
    other.close()

    page.get_by_label("5", exact=True).check()
    page.get_by_label(re.compile("Certain")).check()
    page.get_by_role("button", name="Check answer").click()
    page.get_by_role("heading", name="This session has ended").wait_for()
    assert "No SessionItem" not in page.content()
    page.get_by_role("button", name="Start a new session").click()
    page.get_by_text("Item 1 of").wait_for()
    assert PracticeSession.objects.filter(student=student, ended_at=None).count() == 1


def test_two_tabs_on_one_item_say_which_answer_counts(live_server, page, student):
    _start(page, live_server)
    other = _second_tab(page, live_server)
    page.get_by_label("5", exact=True).check()
    page.get_by_label(re.compile("Certain")).check()
    page.get_by_role("button", name="Check answer").click()
    page.get_by_role("status").filter(has_text="Correct!").wait_for()

    other.get_by_label("-2", exact=True).check()
    other.get_by_label(re.compile("Guessing")).check()
    other.get_by_role("button", name="Check answer").click()
    notice = other.locator("#not-recorded")
    notice.wait_for()
    assert "your answer here (-2) was not recorded" in notice.inner_text()
    assert other.locator("#given-answer").inner_text() == "5"
    assert list(Attempt.objects.values_list("answer", flat=True)) == ["5"]


def test_a_character_that_cannot_be_stored_is_named_and_the_answer_kept(live_server, page, student):
    """A NUL pasted into an answer (PostgreSQL cannot store it) is refused above the card, naming the field."""
    _start(page, live_server)
    page.get_by_label("5", exact=True).check()
    page.get_by_label(re.compile("Certain")).check()
    page.evaluate("document.querySelector('input[name=answer]:checked').value = '5\\u0000'")
    page.get_by_role("button", name="Check answer").click()
    alert = page.locator("#flash").get_by_role("alert")
    alert.wait_for()
    assert "The field 'answer' contains a character that is not allowed." in alert.inner_text()
    assert page.get_by_label("5", exact=True).is_checked()  # the card and the choice are still there
    assert not Attempt.objects.exists()


def test_practice_page_layout_at_three_widths(live_server, page, student, artifacts_dir):
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    _start(page, live_server)
    for name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(artifacts_dir / f"practice-{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"horizontal scroll at {width} px"
        # each confidence option's text stays inside its own label (no '(25 %)' running into the next one)
        spill = page.evaluate(
            """() => Array.from(document.querySelectorAll('label.conf')).map(l => {
                 const box = l.getBoundingClientRect(), pct = l.querySelector('small').getBoundingClientRect();
                 return Math.max(0, pct.right - box.right);
               })"""
        )
        assert max(spill) <= 0.5, f"confidence text overflows its option at {width} px: {spill}"
    assert not missing, missing  # favicon.ico included
