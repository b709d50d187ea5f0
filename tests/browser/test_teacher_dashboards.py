"""demo-teacher opens the class overview, one student's page, the items page and the model check: the numbers
shown match the database, and each page is saved as a screenshot in the artefacts folder (docs/img/ holds
copies of them for docs/dashboards.md)."""

from __future__ import annotations

import pytest
from django.db.models import Max, Min

from learner_models import loader
from learner_models import services as lm_services
from tutor.demo import DEMO_CLASS, DEMO_TEACHER, demo_seed
from tutor.models import Attempt, Section, User
from tutor.templatetags.tutor_extras import percent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "teacher-dash-pass"


def _shoot(page, artifacts_dir, name: str) -> None:
    """The whole page, and its first screen (the picture docs/dashboards.md shows, kept small)."""
    page.screenshot(path=str(artifacts_dir / f"teacher-{name}.png"), full_page=True)
    page.screenshot(path=str(artifacts_dir / f"teacher-{name}-first-screen.png"))


@pytest.fixture
def demo_with_model(settings, tmp_path):
    """The demo school, and an Elo model trained on the first half of its answers, as if trained yesterday:
    the second half are answers the model had not seen, so the model check has something to check."""
    settings.MEDIA_ROOT = tmp_path / "media"
    loader.clear()
    demo_seed(password=PASSWORD, sessions_per_student=2, items_per_session=8)
    ids = Attempt.objects.aggregate(lo=Min("id"), hi=Max("id"))
    run, _ = lm_services.training_run_request(algorithm="elo", hyperparameters={}, enqueue=False)
    run.cutoff_attempt_id = (ids["lo"] + ids["hi"]) // 2
    run.save(update_fields=["cutoff_attempt_id"])
    version = lm_services.training_run_execute(run_id=run.pk, device="cpu")
    yield lm_services.model_version_activate(version=version)
    loader.clear()


def test_demo_teacher_reads_the_dashboards_and_the_numbers_match(live_server, page, artifacts_dir, demo_with_model):
    version = demo_with_model
    section = Section.objects.get(name=DEMO_CLASS)
    in_class = Attempt.objects.filter(session__section=section)

    page.set_viewport_size({"width": 1100, "height": 760})
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill(DEMO_TEACHER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Class overview: who needs help and why").click()
    page.get_by_role("heading", name=f"{DEMO_CLASS}: class overview", level=1).wait_for()
    assert f"{section.enrollments.count()} students" in page.locator("h1 + p").inner_text()
    assert page.locator(".heatmap").first.locator("tbody tr").count() == section.enrollments.count()
    _shoot(page, artifacts_dir, "overview")

    # The first student in the who-needs-help list, else the first name in the mastery table.
    helped = page.locator(".needs-help > li > a")
    link = helped.first if helped.count() else page.locator(".heatmap th[scope=row] a").first
    name = link.inner_text()
    link.click()
    page.get_by_role("heading", name=f"{name} in {DEMO_CLASS}", level=1).wait_for()
    student = User.objects.get(pk=int(page.url.rstrip("/").split("/")[-1]))
    mine = in_class.filter(student=student)
    assert page.locator(".n-answers").inner_text() == str(mine.count())
    assert page.locator(".n-right").inner_text() == str(mine.filter(correct=True).count())
    rows = page.locator("tr.answer-row")
    assert rows.count() == min(50, mine.count())
    newest = mine.order_by("-created_at", "-id").first()
    assert rows.first.locator(".given").first.inner_text().startswith(newest.answer)
    assert rows.first.locator(".confidence").inner_text() == percent(newest.confidence)
    for skill_id in mine.values_list("skill_id", flat=True).distinct():
        curve = page.locator(f"#curve-{skill_id}")
        n = mine.filter(skill_id=skill_id).count()
        k = mine.filter(skill_id=skill_id, correct=True).count()
        assert f"{k} of {n} answers right." in curve.inner_text()
    _shoot(page, artifacts_dir, "student")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: wide tables scroll inside their card
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.set_viewport_size({"width": 1100, "height": 760})
    page.locator("section[aria-labelledby=curves-h]").screenshot(path=str(artifacts_dir / "teacher-student-curves.png"))
    page.locator("section[aria-labelledby=cal-h]").screenshot(
        path=str(artifacts_dir / "teacher-student-calibration.png")
    )

    page.get_by_role("link", name="Items and skills").first.click()
    page.get_by_role("heading", name=f"{DEMO_CLASS}: items and skills", level=1).wait_for()
    for skill_id in in_class.values_list("skill_id", flat=True).distinct():
        row = page.locator(f"#skill-{skill_id}")
        on_skill = in_class.filter(skill_id=skill_id)
        assert row.locator(".answers").inner_text() == str(on_skill.count())
        assert row.locator(".share-right").inner_text() == percent(
            on_skill.filter(correct=True).count() / on_skill.count()
        )
    _shoot(page, artifacts_dir, "items")
    page.locator("table.items-table").first.screenshot(path=str(artifacts_dir / "teacher-items-table.png"))

    page.get_by_role("link", name="Can I trust the model?").first.click()
    page.get_by_role("heading", name=f"{DEMO_CLASS}: can I trust the model?", level=1).wait_for()
    after = in_class.filter(id__gt=version.training_run.cutoff_attempt_id)
    overall = page.locator("#trust-overall").inner_text()
    assert f"Over {after.count()} answers in this class since the model (version {version.pk})" in overall
    assert f"the students got {after.filter(correct=True).count()} right" in overall
    _shoot(page, artifacts_dir, "model")
