"""Every metacognition endpoint: who may use it, what bad input gets, and the hooks in the practice pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from metacog import services
from metacog.models import PromptRule, Reflection, StrategySetting, StrategySuggestion
from tests.factories import SectionFactory, StudentFactory, TeacherFactory, enrol
from tutor import services as tutor_services
from tutor.models import Attempt

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def ended(world):
    s = world.session(ended=True)
    world.answers(s, [True, False, False, True, False, True], confidence=1.0)
    return s


@pytest.fixture
def suggestion(ended):
    return services.suggestion_make(session=ended, seed=0)


def _outsider_teacher(world):
    """A teacher in the same organisation who teaches another class."""
    t = TeacherFactory(organisation=world.section.organisation)
    SectionFactory(organisation=world.section.organisation, course=world.section.course).teachers.add(t)
    return t


# --- permissions, endpoint by endpoint ---------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login(client, world, ended, suggestion):
    urls = [
        reverse("metacog:me"),
        reverse("metacog:catalog"),
        reverse("metacog:student", args=[world.student.pk]),
        reverse("metacog:class_overview", args=[world.section.pk]),
        reverse("metacog:class_settings", args=[world.section.pk]),
    ]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 302 and "/login/" in r.url
    posts = [
        reverse("metacog:plan", args=[ended.pk]),
        reverse("metacog:item_reflect", args=[ended.pk, 1]),
        reverse("metacog:session_reflect", args=[ended.pk]),
        reverse("metacog:suggestion_respond", args=[suggestion.pk]),
    ]
    for url in posts:
        assert client.post(url).status_code == 302
    assert not Reflection.objects.exists()


def test_another_student_cannot_write_into_my_session_or_answer_my_suggestion(client, world, ended, suggestion):
    other = world.other_student()
    client.force_login(other)
    assert client.post(reverse("metacog:plan", args=[ended.pk]), {"goal": "x"}).status_code == 404
    assert (
        client.post(reverse("metacog:item_reflect", args=[ended.pk, 1]), {"kind": "judgment", "judgment": "0.5"})
    ).status_code == 404
    assert (
        client.post(reverse("metacog:session_reflect", args=[ended.pk]), {"kind": "evaluation", "answer": "x"})
    ).status_code == 404
    assert (
        client.post(reverse("metacog:suggestion_respond", args=[suggestion.pk]), {"response": "accept"})
    ).status_code == 404
    assert not Reflection.objects.exists()
    assert StrategySuggestion.objects.get(pk=suggestion.pk).status == "offered"
    assert client.get(reverse("metacog:student", args=[world.student.pk])).status_code == 404


def test_teacher_sees_class_students_but_cannot_act_for_them(client, world, ended, suggestion):
    services.reflection_session_record(student=world.student, session=ended, kind="evaluation", answer="hint first")
    client.force_login(world.teacher)
    page = client.get(reverse("metacog:student", args=[world.student.pk]))
    assert page.status_code == 200 and "hint first" in page.content.decode()
    assert suggestion.reason in page.content.decode()
    overview = client.get(reverse("metacog:class_overview", args=[world.section.pk]))
    assert overview.status_code == 200 and "hint first" in overview.content.decode()
    assert (
        client.post(reverse("metacog:suggestion_respond", args=[suggestion.pk]), {"response": "accept"}).status_code
        == 404
    )
    assert client.post(reverse("metacog:plan", args=[ended.pk]), {"goal": "x"}).status_code == 404
    assert client.get(reverse("metacog:me")).status_code == 302  # teachers have no learning history of their own


def test_teacher_of_another_class_sees_nothing(client, world, ended):
    client.force_login(_outsider_teacher(world))
    assert client.get(reverse("metacog:student", args=[world.student.pk])).status_code == 404
    assert client.get(reverse("metacog:class_overview", args=[world.section.pk])).status_code == 404
    assert client.get(reverse("metacog:class_settings", args=[world.section.pk])).status_code == 404
    r = client.post(reverse("metacog:class_settings", args=[world.section.pk]), {"form": "prompts"})
    assert r.status_code == 404 and not PromptRule.objects.exists()


def test_teacher_in_another_organisation_sees_nothing(client, world, ended):
    stranger = TeacherFactory()
    client.force_login(stranger)
    assert client.get(reverse("metacog:student", args=[world.student.pk])).status_code == 404
    assert client.get(reverse("metacog:class_settings", args=[world.section.pk])).status_code == 404


def test_students_cannot_open_class_pages(client, world):
    client.force_login(world.student)
    assert client.get(reverse("metacog:class_settings", args=[world.section.pk])).status_code == 404
    assert client.get(reverse("metacog:class_overview", args=[world.section.pk])).status_code == 404


def test_student_history_shows_only_their_own(client, world, ended, suggestion):
    services.reflection_session_record(student=world.student, session=ended, kind="evaluation", answer="mine")
    other = world.other_student()
    os_ = world.session(other, ended=True)
    services.reflection_session_record(student=other, session=os_, kind="evaluation", answer="theirs")
    client.force_login(world.student)
    html = client.get(reverse("metacog:me")).content.decode()
    assert "mine" in html and "theirs" not in html
    assert suggestion.reason in html and 'id="calibration-chart"' in html
    assert client.get(reverse("metacog:student", args=[world.student.pk])).status_code == 200


def test_catalog_page_lists_every_strategy_with_evidence(client, world):
    from metacog.catalog import CATALOG

    client.force_login(world.student)
    html = client.get(reverse("metacog:catalog")).content.decode()
    for s in CATALOG:
        assert f'id="{s.slug}"' in html and s.name in html
    assert "Dunlosky" in html


# --- class settings ----------------------------------------------------------------------------------------


def test_teacher_switches_prompts_and_strategies(client, world):
    client.force_login(world.teacher)
    url = reverse("metacog:class_settings", args=[world.section.pk])
    assert client.get(url).status_code == 200
    r = client.post(url, {"form": "prompts", "prompt_judgment": "on", "every_judgment": "2", "prompt_evaluation": "on"})
    assert r.status_code == 302
    rules = {p.kind: p for p in PromptRule.objects.filter(section=world.section)}
    assert not rules["planning"].enabled and rules["judgment"].enabled and rules["judgment"].every_n_items == 2
    bad = client.post(url, {"form": "prompts", "prompt_judgment": "on", "every_judgment": "zero"})
    assert bad.status_code == 422 and "Ask a judgment of learning every n items" in bad.content.decode()
    r = client.post(url, {"form": "strategies", "strategy_spacing": "on"})
    assert r.status_code == 302
    from metacog.selectors import enabled_strategy_slugs

    assert enabled_strategy_slugs(section=world.section) == ["spacing"]
    assert client.post(url, {"form": "other"}).status_code == 422


def test_a_failed_prompt_settings_save_changes_nothing_and_names_the_field_by_its_label(client, world):
    from metacog.selectors import prompt_rules_for_section

    client.force_login(world.teacher)
    url = reverse("metacog:class_settings", args=[world.section.pk])
    form = client.get(url).content.decode()
    assert re.search(r'<input id="every-judgment"[^>]*type="number"[^>]*min="1"[^>]*max="50"[^>]*step="1"', form)
    # Planning unticked (the others kept on) and "abc" for every n items.
    posted = {"form": "prompts", "prompt_judgment": "on", "prompt_confident_error": "on", "prompt_evaluation": "on"}
    bad = client.post(url, {**posted, "every_judgment": "abc"})
    html = bad.content.decode()
    assert bad.status_code == 422
    assert not PromptRule.objects.exists()  # all or nothing: Planning was not switched off
    assert prompt_rules_for_section(section=world.section)["planning"].enabled
    error = re.search(r'<p class="error" role="alert" id="settings-error">(.*?)</p>', html, re.S).group(1)
    assert "Ask a judgment of learning every n items" in error and "every_n_items" not in html
    assert re.search(r'<input id="every-judgment"[^>]*aria-invalid="true"[^>]*aria-describedby="settings-error"', html)
    # The page shows what the teacher posted, so the fix is one field, not the whole form again.
    assert not re.search(r'name="prompt_planning"[^>]*checked', html)
    assert re.search(r'name="prompt_judgment"[^>]*checked', html)
    assert "Settings saved." not in html

    saved = client.post(url, {**posted, "every_judgment": "3"}, follow=True)
    assert saved.status_code == 200 and "Settings saved." in saved.content.decode()
    rules = prompt_rules_for_section(section=world.section)
    assert not rules["planning"].enabled and rules["judgment"].every_n_items == 3
    assert 'aria-invalid="true"' not in saved.content.decode()


def test_strategy_settings_save_all_or_nothing(client, world, monkeypatch):
    from metacog.selectors import enabled_strategy_slugs

    client.force_login(world.teacher)
    url = reverse("metacog:class_settings", args=[world.section.pk])
    real = StrategySetting.objects.update_or_create
    calls = []

    def fail_on_third(**kw):
        calls.append(kw["strategy"])
        if len(calls) == 3:
            raise services.MetacogError("The database said no.", field="form")
        return real(**kw)

    monkeypatch.setattr(StrategySetting.objects, "update_or_create", fail_on_third)
    r = client.post(url, {"form": "strategies", "strategy_spacing": "on"})
    assert r.status_code == 422 and len(calls) == 3
    assert not StrategySetting.objects.exists()  # the two written before the failure were rolled back
    assert len(enabled_strategy_slugs(section=world.section)) > 1


# --- forms inside the practice flow ------------------------------------------------------------------------


def test_bad_reflection_input_is_422_naming_the_field(client, world):
    s = world.session()
    world.answers(s, [False])
    client.force_login(world.student)
    r = client.post(reverse("metacog:item_reflect", args=[s.pk, 1]), {"kind": "judgment", "judgment": "7"}, headers=HX)
    assert r.status_code == 422 and 'aria-invalid="true"' in r.content.decode()
    r = client.post(reverse("metacog:item_reflect", args=[s.pk, 1]), {"kind": "judgment", "judgment": "7"})
    assert r.status_code == 422 and "Choose how likely it is: Unlikely" in r.content.decode()
    assert "(field:" not in r.content.decode()  # the page names no internal field
    r = client.post(reverse("metacog:plan", args=[s.pk]), {"goal": "x" * 1001}, headers=HX)
    assert r.status_code == 422 and "At most 1000" in r.content.decode()
    r = client.post(reverse("metacog:suggestion_respond", args=[999999]), {"response": "accept"})
    assert r.status_code == 404
    assert not Reflection.objects.exists()


def test_planning_card_on_first_item_and_teacher_can_switch_it_off(client, world):
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.get()
    html = client.get(reverse("practice", args=[session.pk])).content.decode()
    assert "Plan this session" in html and "Item 1 of" in html  # inline: the item is on the same screen
    r = client.post(
        reverse("metacog:plan", args=[session.pk]), {"goal": "no slips", "strategy": "slow_down"}, headers=HX
    )
    assert r.status_code == 200 and "Your plan: no slips" in r.content.decode()
    assert "Plan this session" not in client.get(reverse("practice", args=[session.pk])).content.decode()
    services.prompt_rule_set(section=world.section, kind="planning", enabled=False)
    other = world.other_student()
    client.force_login(other)
    client.post(reverse("practice_start", args=[world.section.pk]))
    s2 = other.practice_sessions.get()
    assert "Plan this session" not in client.get(reverse("practice", args=[s2.pk])).content.decode()


def _answer(client, session, position, answer="42", confidence="1.0", **extra):
    page = client.get(reverse("practice", args=[session.pk])).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page).group(1)
    data = {"answer": answer, "confidence": confidence, "idempotency_key": key, **extra}
    return page, client.post(reverse("practice_answer", args=[session.pk, position]), data, headers=HX)


def test_the_judgment_of_learning_asks_about_tomorrow_only_after_the_item_is_answered(client, world):
    services.prompt_rule_set(section=world.section, kind="judgment", enabled=True, every_n_items=1)
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.get()
    page, fb = _answer(client, session, 1, answer="42", confidence="0.75")
    assert "tomorrow" not in page.lower() and 'id="mc-judgment"' not in page  # nothing asked before answering
    html = fb.content.decode()
    legend = re.search(r'<form id="mc-judgment".*?<legend>(.*?)</legend>', html, re.S).group(1)
    skill = Attempt.objects.get(session=session).skill.name
    assert "Now that you have answered" in legend and "tomorrow" in legend and skill in legend
    bad = client.post(
        reverse("metacog:item_reflect", args=[session.pk, 1]), {"kind": "judgment", "judgment": "7"}, headers=HX
    )
    # the form comes back with its choices, so the student can pick one
    assert bad.status_code == 422 and bad.content.decode().count('name="judgment"') == 4
    assert "tomorrow" in bad.content.decode()
    r = client.post(
        reverse("metacog:item_reflect", args=[session.pk, 1]), {"kind": "judgment", "judgment": "0.75"}, headers=HX
    )
    assert r.status_code == 200
    stored = Reflection.objects.get(kind="judgment")
    assert stored.prompt in legend  # the history quotes the question the student saw


def test_judgment_every_n_items_and_confident_error_prompt(client, world):
    services.prompt_rule_set(section=world.section, kind="judgment", enabled=True, every_n_items=2)
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.get()
    page, fb = _answer(client, session, 1, answer="7", confidence="1.0")
    assert "how likely are you to get" not in fb.content.decode().lower()
    assert "What could make an answer like this wrong?" in fb.content.decode()
    r = client.post(
        reverse("metacog:item_reflect", args=[session.pk, 1]),
        {"kind": "confident_error", "answer": "misread"},
        headers=HX,
    )
    assert r.status_code == 200 and Reflection.objects.get(kind="confident_error").answer == "misread"
    page, fb = _answer(client, session, 2, answer="42", confidence="0.5")
    assert "how likely are you to get" in fb.content.decode().lower()
    assert "What could make" not in fb.content.decode()


def test_slow_down_enforces_the_check_step(client, world, ended, suggestion):
    StrategySuggestion.objects.filter(pk=suggestion.pk).update(strategy="slow_down")
    client.force_login(world.student)
    r = client.post(reverse("metacog:suggestion_respond", args=[suggestion.pk]), {"response": "accept"}, headers=HX)
    assert r.status_code == 200 and "Accepted" in r.content.decode()
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    page, fb = _answer(client, session, 1)
    assert "I re-read the question" in page
    assert fb.status_code == 422 and "tick the check box" in fb.content.decode()
    assert not Attempt.objects.filter(session=session).exists()
    _, fb = _answer(client, session, 1, checked="1")
    assert fb.status_code == 200 and Attempt.objects.filter(session=session).count() == 1


def test_explain_box_and_calibration_feedback_follow_the_accepted_strategy(client, world, ended, suggestion):
    StrategySuggestion.objects.filter(pk=suggestion.pk).update(strategy="self_explanation")
    services.suggestion_respond(
        suggestion=StrategySuggestion.objects.get(pk=suggestion.pk), student=world.student, response="accept"
    )
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    page, _ = _answer(client, session, 1)
    assert "Explain why your answer is right" in page
    r = client.post(
        reverse("metacog:item_reflect", args=[session.pk, 1]),
        {"kind": "strategy_note", "answer": "6 sevens"},
        headers=HX,
    )
    assert r.status_code == 200 and Reflection.objects.get(kind="strategy_note").answer == "6 sevens"


def test_summary_shows_chart_sentence_suggestion_and_evaluation(client, world):
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.get()
    for pos in range(1, 4):
        _answer(client, session, pos, answer="42" if pos != 2 else "7", confidence="0.75")
    end = client.post(reverse("practice_end", args=[session.pk]))
    html = client.get(end.url).content.decode()
    assert 'id="calibration-chart"' in html and "<svg" in html
    assert "Only 3 answers so far: too few to judge" in html  # no verdict from three answers
    sug = StrategySuggestion.objects.get(session=session)
    assert 'id="mc-suggestion"' in html and sug.reason in html
    assert "What worked in this session?" in html
    # The teacher sees the chart and the suggestion but gets no buttons and no evaluation form.
    client.force_login(world.teacher)
    html = client.get(end.url).content.decode()
    assert sug.reason in html and "Try it" not in html and "What worked in this session?" not in html


def test_accepting_spacing_schedules_a_review_shown_in_history(client, world, ended, suggestion):
    StrategySuggestion.objects.filter(pk=suggestion.pk).update(strategy="spacing")
    client.force_login(world.student)
    client.post(reverse("metacog:suggestion_respond", args=[suggestion.pk]), {"response": "accept"})
    html = client.get(reverse("metacog:me")).content.decode()
    assert "Reviews scheduled" in html
    assert ("fractions, due" in html) or ("decimals, due" in html)


def test_student_of_another_org_cannot_see_anything(client, world, ended):
    stranger = StudentFactory()
    enrol(stranger, SectionFactory(organisation=stranger.organisation))
    client.force_login(stranger)
    assert client.get(reverse("metacog:student", args=[world.student.pk])).status_code == 404
    assert client.get(reverse("practice_summary", args=[ended.pk])).status_code == 404


def test_tutor_services_unaffected_without_metacog_rows(world):
    session = tutor_services.session_start(student=world.student, section=world.section)
    si = tutor_services.session_item_current(session=session)
    out = tutor_services.attempt_record(
        student=world.student, session_item=si, answer="42", confidence=1, idempotency_key="a"
    )
    assert out.created


def test_history_and_summary_queries_do_not_grow_with_data(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.student)

    def counts():
        with CaptureQueriesContext(connection) as me:
            assert client.get(reverse("metacog:me")).status_code == 200
        last = world.student.practice_sessions.order_by("-started_at").first()
        with CaptureQueriesContext(connection) as summary:
            assert client.get(reverse("practice_summary", args=[last.pk])).status_code == 200
        return len(me), len(summary)

    def add_session(i):
        s = world.session(ended=True, minutes_ago=100 - i)
        world.answers(s, [True, False, True])
        sug = services.suggestion_make(session=s, seed=i)
        services.suggestion_respond(suggestion=sug, student=world.student, response="accept")
        services.reflection_session_record(student=world.student, session=s, kind="evaluation", answer=f"e{i}")

    add_session(0)
    small = counts()
    for i in range(1, 6):
        add_session(i)
    assert counts() == small


def _accept(world, strategy):
    s = world.session(ended=True, minutes_ago=10)
    world.answers(s, [True, False], when=timezone.now() - timedelta(minutes=10))
    sug = services.suggestion_make(session=s)
    StrategySuggestion.objects.filter(pk=sug.pk).update(strategy=strategy)
    return services.suggestion_respond(
        suggestion=StrategySuggestion.objects.get(pk=sug.pk), student=world.student, response="accept"
    )


@pytest.mark.parametrize(
    ("strategy", "on_item", "absent_on_item"),
    [
        ("worked_examples", "Worked example (fractions)", None),
        ("practice_testing", "hints open after you answer", "Show a hint"),
        ("elaborative_interrogation", "Why is this true?", None),
        ("concrete_examples", "Give a concrete example", None),
    ],
)
def test_item_page_actions(client, world, strategy, on_item, absent_on_item):
    _accept(world, strategy)
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    si = tutor_services.session_item_current(session=session)
    # make sure the item is a fractions item, so the worked example has a sibling to show
    si.item = world.items[0]
    si.save()
    html = client.get(reverse("practice", args=[session.pk])).content.decode()
    assert on_item in html and "Strategy in use" in html
    if absent_on_item:
        assert absent_on_item not in html


def test_feedback_actions_calibration_nudge_and_open_solution(client, world):
    _accept(world, "calibration_check")
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    _, fb = _answer(client, session, 1, answer="42", confidence="0.5")
    # the two answers before accepting and this one: the window the summary and the suggestions judge
    running = "over your last 3 answers your confidence averaged 83 % and you got 2 of 3 right (67 %). Too few"
    assert running in fb.content.decode()
    assert "You were 50 % sure" in fb.content.decode()  # in the same units as the check, not "0.50 sure"

    client.post(reverse("practice_end", args=[session.pk]))
    _accept(world, "help_seeking")
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    _, fb = _answer(client, session, 1, answer="7", confidence="0.5")
    assert "Two misses in a row" not in fb.content.decode()
    _, fb = _answer(client, session, 2, answer="7", confidence="0.5")
    assert "Two misses in a row" in fb.content.decode()

    client.post(reverse("practice_end", args=[session.pk]))
    _accept(world, "rereading")
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    _, fb = _answer(client, session, 1, answer="42", confidence="0.5")
    assert "<details open>" in fb.content.decode()


def test_summary_box_appears_after_a_session_with_summarisation(client, world):
    _accept(world, "summarisation")
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    _answer(client, session, 1)
    end = client.post(reverse("practice_end", args=[session.pk]))
    html = client.get(end.url).content.decode()
    assert "the main idea of what you practised" in html
    r = client.post(
        reverse("metacog:session_reflect", args=[session.pk]), {"kind": "summary", "answer": "6×7"}, headers=HX
    )
    assert r.status_code == 200 and Reflection.objects.get(kind="summary").answer == "6×7"


def test_learner_model_prediction_feeds_the_context(world, monkeypatch):
    import metacog.selectors as lm  # where the learner model's predictions are read

    monkeypatch.setattr(
        lm, "skill_predictions_for_student", lambda *, student, skill_ids: dict.fromkeys(skill_ids, 0.9)
    )
    s = world.session(ended=True)
    world.answers(s, [False, False])
    sug = services.suggestion_make(session=s)
    assert sug.context["prediction_source"] == "learner_model" and sug.context["predicted_accuracy"] == 0.9
    monkeypatch.setattr(lm, "skill_predictions_for_student", lambda *, student, skill_ids: None)
    s2 = world.session(ended=True)
    world.answers(s2, [False, False])
    assert services.suggestion_make(session=s2).context["prediction_source"] == "observed"


def test_a_strategy_in_use_is_not_offered_again_and_the_history_lists_it_once(client, world):
    from metacog import selectors
    from metacog.catalog import SLUGS

    for slug in SLUGS:
        if slug != "rereading":
            services.strategy_setting_set(section=world.section, strategy=slug, enabled=False)
    first = world.session(ended=True, minutes_ago=30)
    world.answers(first, [True, False], when=timezone.now() - timedelta(minutes=30))
    sug = services.session_ended(session=first)
    assert sug.strategy == "rereading"
    services.suggestion_respond(suggestion=sug, student=world.student, response="accept")
    # The session it is used in: not yet measured (what it taught shows in the next one).
    second = world.session(ended=True)
    world.answers(second, [True] * 5, when=timezone.now() + timedelta(seconds=5))
    assert services.session_ended(session=second) is None  # the only strategy the class allows is in use
    sug.refresh_from_db()
    assert sug.measured_at is None
    # Five answers in the session after, all right: the outcome is measured (it "helped"), still in use.
    after = world.session(ended=True)
    world.answers(after, [True] * 5, when=timezone.now() + timedelta(seconds=10))
    assert services.session_ended(session=after) is None
    sug.refresh_from_db()
    assert sug.measured_at is not None and sug.reward > 0
    assert selectors.active_suggestion(student=world.student, section=world.section) == sug
    # With another strategy allowed, that one is offered, never the one in use.
    services.strategy_setting_set(section=world.section, strategy="summarisation", enabled=True)
    third = world.session(ended=True)
    world.answers(third, [True, True], when=timezone.now() + timedelta(seconds=30))
    assert services.session_ended(session=third).strategy == "summarisation"

    client.force_login(world.student)
    summary = client.get(reverse("practice_summary", args=[third.pk])).content.decode()
    assert "Trying it replaces Rereading the solution, the strategy you are using now." in summary
    html = client.get(reverse("metacog:me")).content.decode()
    listed = re.search(r'id="h-sug".*?</section>', html, re.S).group(0)
    assert listed.count("<strong>Rereading the solution</strong>") == 1 and "in use" in listed
    assert "When you tried it before" not in listed


def test_accepting_another_strategy_or_rating_it_not_helpful_ends_the_one_in_use(world):
    from metacog import selectors

    old = _accept(world, "rereading")
    new = _accept(world, "summarisation")
    old.refresh_from_db()
    assert old.status == "accepted" and old.ended_at is not None and not old.is_active  # tried, then replaced
    assert selectors.active_suggestion(student=world.student, section=world.section) == new
    services.suggestion_respond(suggestion=new, student=world.student, response="not_helpful")
    new.refresh_from_db()
    assert new.status == "accepted" and new.rating == -1 and not new.is_active
    assert selectors.active_suggestion(student=world.student, section=world.section) is None


# --- one calibration verdict per page ----------------------------------------------------------------------

# Words each verdict uses, in its sentence, headline and table label; a page may use one verdict's words only.
VERDICT_WORDS = {
    "too_few": ("too few", "not enough answers"),
    "over": ("surer than",),
    "under": ("know more than", "knows more than", "less sure than"),
    "calibrated": ("matches your results", "matches their results", "confidence matches"),
    "unclear": ("can't tell",),
}
OLD_WORDS = ("within the noise", "tracked your accuracy", "matched your accuracy", "felt surer", "over-confident")


def _statements(html):
    """The page's visible text, outside the Details toggles (which hold numbers, not verdicts)."""
    html = re.sub(r"<details.*?</details>", " ", html, flags=re.S)
    html = re.sub(r"<(script|style|title|desc)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").lower()


def _assert_one_verdict(text, verdict):
    assert any(w in text for w in VERDICT_WORDS[verdict]), (verdict, text)
    for other, words in VERDICT_WORDS.items():
        if other != verdict:
            assert not [w for w in words if w in text], (verdict, other, text)
    assert not [w for w in OLD_WORDS if w in text], text


@pytest.mark.parametrize(
    ("outcomes", "confidence", "verdict"),
    [
        ([True, True, True, False, False], 1.0, "too_few"),  # below the minimum, a 40-point gap
        ([True] * 5 + [False] * 5, 0.75, "unclear"),  # a 25-point gap inside the noise of 10 answers
        ([True, False] * 10, 1.0, "over"),  # outside the noise, above
        ([True] * 16 + [False] * 4, 0.25, "under"),  # outside the noise, below
        ([True] * 23 + [False] * 7, 0.75, "calibrated"),  # 30 answers: the interval within 20 points of zero
    ],
)
def test_every_calibration_statement_on_a_page_comes_from_one_verdict(client, world, outcomes, confidence, verdict):
    # calibration_check is the only strategy the class allows, so the suggestion's reason is about calibration
    from metacog.catalog import SLUGS

    for slug in SLUGS:
        if slug != "calibration_check":
            services.strategy_setting_set(section=world.section, strategy=slug, enabled=False)
    session = world.session(ended=True)
    world.answers(session, outcomes, confidence=confidence)
    suggestion = services.session_ended(session=session)
    assert suggestion.strategy == "calibration_check"

    client.force_login(world.student)
    summary = _statements(client.get(reverse("practice_summary", args=[session.pk])).content.decode())
    _assert_one_verdict(summary, verdict)
    assert suggestion.reason.lower() in summary
    history = _statements(client.get(reverse("metacog:me")).content.decode())
    _assert_one_verdict(history, verdict)

    client.force_login(world.teacher)
    for url in (reverse("practice_summary", args=[session.pk]), reverse("metacog:student", args=[world.student.pk])):
        text = _statements(client.get(url).content.decode())
        _assert_one_verdict(text, verdict)


def test_the_running_calibration_check_states_the_summary_verdict(client, world):
    _accept(world, "calibration_check")
    client.force_login(world.student)
    client.post(reverse("practice_start", args=[world.section.pk]))
    session = world.student.practice_sessions.filter(ended_at__isnull=True).get()
    for position, answer in enumerate(["42", "7", "42"], start=1):
        _, fb = _answer(client, session, position, answer=answer, confidence="1.0")
        _assert_one_verdict(_statements(fb.content.decode()), "too_few")


def test_the_summary_judges_the_answers_the_suggestion_looked_at(client, world):
    """A short session after a long one: the summary's verdict and the suggestion's reason rest on the same
    recent answers, so the page cannot say "too few to judge" beside "you tend to feel surer"."""
    from metacog.catalog import SLUGS

    for slug in SLUGS:
        if slug != "calibration_check":
            services.strategy_setting_set(section=world.section, strategy=slug, enabled=False)
    earlier = world.session(ended=True, minutes_ago=60)
    world.answers(earlier, [True, False] * 10, confidence=1.0, when=timezone.now() - timedelta(minutes=60))
    short = world.session(ended=True)
    world.answers(short, [True, True, False, True, False], confidence=1.0)
    suggestion = services.session_ended(session=short)
    assert suggestion.reason.startswith("You tend to feel surer than your results show: over your last 25 answers")
    client.force_login(world.student)
    summary = _statements(client.get(reverse("practice_summary", args=[short.pk])).content.decode())
    _assert_one_verdict(summary, "over")
    assert suggestion.reason.lower() in summary


# --- plain words for students, "their" for teachers --------------------------------------------------------

JARGON = ("Bias", "Gamma", "gamma", "Brier", "ECE", "(se)", "±", "[0.00", "0.00 [", "95 %]", "calibrated", "verdict")


def _outside_details(html):
    return re.sub(r"<details.*?</details>", " ", html, flags=re.S)


def test_the_learning_history_speaks_plainly_with_the_numbers_behind_details(client, world):
    s = world.session(ended=True)
    world.answers(s, [True] * 12, confidence=1.0)  # every answer right: the case that printed "0.00 [0.00, 0.00]"
    world.answers(s, [True, False, True], confidence=0.75, skill=1)
    client.force_login(world.student)
    html = client.get(reverse("metacog:me")).content.decode()
    visible = _outside_details(html)
    for word in JARGON:
        assert word not in visible, word
    assert "0.00 [0.00, 0.00]" not in html and "(se)" not in html and "Brier" not in html
    assert "When you said “Certain”, you got 12 of 12 right." in visible
    assert "When you said “Fairly sure”, you got 2 of 3 right." in visible
    assert "<summary>Details</summary>" in html
    details = " ".join(re.findall(r"<details.*?</details>", html, flags=re.S))
    assert "points; the real gap is likely between" in details  # the numbers are there, behind the toggle
    assert "decimals: not enough answers yet" in details  # three answers: no numbers pretending otherwise
    assert "How well your ratings tell right answers from wrong ones" in details
    assert "+1.00 on a scale from −1 to +1" in details and "between +1.00 and +1.00" not in details


def test_a_teacher_sees_their_not_your_and_the_students_name(client, world):
    world.student.first_name, world.student.last_name = "Ana", "Lopez"
    world.student.save()
    s = world.session(ended=True)
    world.answers(s, [True, False] * 10, confidence=1.0)
    suggestion = services.session_ended(session=s)
    client.force_login(world.teacher)
    for url in (reverse("metacog:student", args=[world.student.pk]), reverse("practice_summary", args=[s.pk])):
        html = client.get(url).content.decode()
        assert "Ana Lopez tends to feel surer than their results show" in html
        assert "Reason shown to Ana Lopez" in html and f"“{suggestion.reason}”" in html
        # outside what the student was shown (quoted), the page speaks of them, not to them
        own_words = re.sub(r"“[^”]*”", " ", _statements(html))
        assert not re.search(r"\byou(r)?\b", own_words), own_words
        assert "their confidence" in own_words
    history = client.get(reverse("metacog:student", args=[world.student.pk])).content.decode()
    assert "When they said “Certain”, they got 10 of 20 right." in history
    assert "(Brier score)" in history  # teachers also get the measures' names, behind Details


def test_a_reason_citing_an_earlier_try_says_what_the_history_says(client, world):
    """Fewer right answers than expected, but a narrower calibration gap, made the reward positive: the reason
    said "it helped you" beside a history saying "fewer right than expected"."""
    from metacog.catalog import SLUGS

    for slug in SLUGS:
        if slug != "worked_examples":
            services.strategy_setting_set(section=world.section, strategy=slug, enabled=False)
    first = world.session(ended=True, minutes_ago=60)
    world.answers(first, [True, False], when=timezone.now() - timedelta(minutes=60))
    tried = services.session_ended(session=first)
    StrategySuggestion.objects.filter(pk=tried.pk).update(
        status="accepted", responded_at=timezone.now(), ended_at=timezone.now(), measured_at=timezone.now(),
        outcome_n=8, performance_gain=-0.1, calibration_gain=0.5, reward=-0.1 + 0.5 * 0.5,
    )  # fmt: skip
    later = world.session(ended=True)
    world.answers(later, [True, False, False])
    again = services.session_ended(session=later)
    assert again.strategy == "worked_examples"
    assert "helped" not in again.reason
    assert again.reason.endswith("When you tried it before, you got 10 points fewer right than expected afterwards.")
    client.force_login(world.student)
    html = client.get(reverse("metacog:me")).content.decode()
    assert "you got 10 points fewer right than expected" in html


def test_a_teacher_sees_a_shared_students_history_in_their_own_class_only(client, world):
    """A student in two classes: the teacher of the second sees nothing the student did in the first."""
    from tests.factories import SectionFactory, TeacherFactory, enrol

    first = world.session(ended=True)
    world.answers(first, [True, False, True], confidence=1.0)
    services.reflection_session_record(student=world.student, session=first, kind="evaluation", answer="class one")
    second_class = SectionFactory(organisation=world.section.organisation, course=world.section.course)
    enrol(world.student, second_class)
    other_teacher = TeacherFactory(organisation=world.section.organisation)
    second_class.teachers.add(other_teacher)

    client.force_login(other_teacher)
    html = client.get(reverse("metacog:student", args=[world.student.pk])).content.decode()
    assert "class one" not in html and "3 answers" not in html
    client.force_login(world.teacher)
    html = client.get(reverse("metacog:student", args=[world.student.pk])).content.decode()
    assert "class one" in html
