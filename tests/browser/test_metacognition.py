"""A student plans a session, practises, sees the calibration chart and accepts a strategy suggestion."""

from __future__ import annotations

import re

import pytest

from metacog.models import Reflection, StrategySuggestion
from tests.factories import ItemFactory, SectionFactory, SkillFactory, StudentFactory, enrol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "browser-test-pass"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The scheduler caches per-student estimates by id, and ids restart after this test's flush."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_plan_practise_calibration_chart_and_accept_a_suggestion(live_server, page):
    section = SectionFactory(session_length=3)
    for name in ("Fractions", "Decimals"):
        skill = SkillFactory(course=section.course, name=name)
        for _ in range(2):
            ItemFactory(skill=skill, answer={"value": 42, "tolerance": 0})
    student = StudentFactory(organisation=section.organisation, username="meta-student")
    student.set_password(PASSWORD)
    student.save()
    enrol(student, section)

    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("meta-student")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Practise").click()

    # Planning prompt: inline above the first item, one optional card.
    page.get_by_role("heading", name="Plan this session").wait_for()
    page.get_by_text("Item 1 of 3").wait_for()
    page.get_by_label("Your goal for this session").fill("Get 2 of 3 right")
    page.get_by_label("A strategy to try (optional)").select_option("slow_down")
    page.get_by_role("button", name="Save plan").click()
    page.get_by_text("Your plan: Get 2 of 3 right").wait_for()

    for n in range(3):
        page.get_by_text(f"Item {n + 1} of 3").wait_for()
        page.get_by_label("Your answer").fill("42" if n != 1 else "7")
        page.get_by_label(re.compile("Certain")).check()
        page.get_by_role("button", name="Check answer").click()
        page.get_by_role("status").filter(has_text="Correct!" if n != 1 else "Not quite.").first.wait_for()
        if n < 2:
            page.get_by_role("link", name="Next item").click()
    page.get_by_role("button", name="See summary").click()
    page.get_by_role("heading", name="Session summary").wait_for()

    chart = page.locator("#calibration-chart svg")
    chart.wait_for()
    assert chart.is_visible()
    assert page.locator("#calibration-chart .mc-point").count() == 1  # all three answers were "Certain"
    assert "too few to judge" in page.locator("#calibration-sentence").inner_text()

    suggestion = StrategySuggestion.objects.get(student=student)
    card = page.locator("#mc-suggestion")
    assert suggestion.reason in card.inner_text()
    page.get_by_role("button", name="Try it").click()
    page.get_by_text("Accepted: it starts with your next items.").wait_for()

    suggestion.refresh_from_db()
    assert suggestion.status == "accepted"
    plan = Reflection.objects.get(student=student, kind="planning")
    assert plan.answer == "Get 2 of 3 right" and plan.strategy == "slow_down"

    # The next session shows the accepted strategy in use.
    page.get_by_role("link", name="Back to my classes").click()
    page.get_by_role("button", name="Practise").click()
    page.get_by_text("Strategy in use:").wait_for()
    assert suggestion.strategy_info.name in page.locator(".mc-strategy-banner").inner_text()
