"""Reflections, suggestions and their outcomes through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from metacog import selectors, services
from metacog.models import PolicyPrior, Reflection, ScheduledReview, StrategySuggestion
from tutor.models import Attempt

pytestmark = pytest.mark.django_db


def test_plan_is_stored_once_and_validated(world):
    session = world.session()
    with pytest.raises(services.MetacogError) as exc:
        services.reflection_plan_record(student=world.student, session=session, goal="", strategy="")
    assert exc.value.field == "goal"
    with pytest.raises(services.MetacogError) as exc:
        services.reflection_plan_record(student=world.student, session=session, goal="x", strategy="telepathy")
    assert exc.value.field == "strategy"
    first = services.reflection_plan_record(student=world.student, session=session, goal="4 of 5", strategy="spacing")
    again = services.reflection_plan_record(student=world.student, session=session, goal="other")
    assert again.pk == first.pk and first.answer == "4 of 5" and first.strategy == "spacing"
    with pytest.raises(services.MetacogError):
        services.reflection_plan_record(student=world.other_student(), session=session, goal="x")


def test_item_reflections_validate_and_latest_wins(world):
    session = world.session()
    (attempt,) = world.answers(session, [False])
    si = attempt.session_item
    for bad in ("", "abc", "1.5", "nan"):
        with pytest.raises(services.MetacogError) as exc:
            services.reflection_item_record(student=world.student, session_item=si, kind="judgment", judgment=bad)
        assert exc.value.field == "judgment"
    services.reflection_item_record(student=world.student, session_item=si, kind="judgment", judgment="0.25")
    r = services.reflection_item_record(student=world.student, session_item=si, kind="judgment", judgment="0.75")
    assert Reflection.objects.filter(kind="judgment").count() == 1 and r.judgment == 0.75 and r.skill == si.item.skill
    with pytest.raises(services.MetacogError) as exc:
        services.reflection_item_record(student=world.student, session_item=si, kind="confident_error", answer=" ")
    assert exc.value.field == "answer"
    with pytest.raises(services.MetacogError) as exc:
        services.reflection_item_record(student=world.student, session_item=si, kind="gossip", answer="x")
    assert exc.value.field == "kind"


def test_suggestion_is_deterministic_under_a_seed_and_once_per_session(world):
    other = world.other_student()
    picks = []
    for student in (world.student, other):
        s = world.session(student, ended=True)
        world.answers(s, [False, False, True, False, True, False], confidence=1.0)
        picks.append(s)
    a = services.suggestion_make(session=picks[0], seed=3)
    b = services.suggestion_make(session=picks[1], seed=3)
    assert services.suggestion_make(session=picks[0], seed=99).pk == a.pk  # once per session
    # Same answers, same (seed, history): the same posterior means, and a reason citing the same numbers.
    assert a.context["posterior_means"] == b.context["posterior_means"]
    assert a.context["vector"] == b.context["vector"]
    StrategySuggestion.objects.all().delete()
    again = services.suggestion_make(session=picks[0], seed=3)
    assert again.strategy == a.strategy and again.reason == a.reason


def test_suggestion_reason_matches_the_data(world):
    s = world.session(ended=True)
    world.answers(s, [False, False, False, False, True], confidence=1.0, skill=0)
    sug = services.suggestion_make(session=s)
    assert sug.context["n"] == 5 and sug.context["prediction_source"] == "observed"
    assert sug.context["predicted_accuracy"] == pytest.approx((1 + 1) / (5 + 2))
    # whichever strategy was chosen, its reason quotes these five answers, never other numbers
    assert "confidence averaged" not in sug.reason  # five answers: too few for a claim about calibration
    if "fairly sure or certain" in sug.reason:
        assert "wrong on 4 of your last 5 fractions items" in sug.reason


def test_teacher_disabled_strategies_are_never_suggested(world):
    from metacog.catalog import SLUGS

    for slug in SLUGS:
        if slug != "spacing":
            services.strategy_setting_set(section=world.section, strategy=slug, enabled=False)
    for seed in range(4):
        s = world.session(ended=True, minutes_ago=seed)
        world.answers(s, [True, False])
        assert services.suggestion_make(session=s, seed=seed).strategy == "spacing"
    services.strategy_setting_set(section=world.section, strategy="spacing", enabled=False)
    s = world.session(ended=True)
    world.answers(s, [True])
    assert services.suggestion_make(session=s) is None
    with pytest.raises(services.MetacogError) as exc:
        services.strategy_setting_set(section=world.section, strategy="nope", enabled=False)
    assert exc.value.field == "strategy"


def test_other_students_data_reaches_a_suggestion_only_through_the_prior(world):
    s = world.session(ended=True)
    world.answers(s, [True, False, True])
    before = services.suggestion_make(session=s, seed=1)
    # Another student with many strong outcomes for one strategy: not a prior, so no effect.
    other = world.other_student()
    for i in range(10):
        os_ = world.session(other, ended=True, minutes_ago=100 + i)
        StrategySuggestion.objects.create(
            student=other, section=world.section, session=os_, strategy="rereading", reason="r",
            context={"vector": before.context["vector"]}, reward=1.0, status="accepted",
            created_at=timezone.now(), measured_at=timezone.now(),
        )  # fmt: skip
    StrategySuggestion.objects.filter(pk=before.pk).delete()
    after = services.suggestion_make(session=s, seed=1)
    assert after.context["posterior_means"] == before.context["posterior_means"]


def test_outcome_is_measured_against_the_models_prediction_on_the_items_served(world, monkeypatch):
    """Issue 16, point 5: with a model, the gain is accuracy minus the model's P on exactly the served items."""
    s = world.session(ended=True, minutes_ago=30)
    world.answers(s, [True, False, True, False], confidence=1.0, when=timezone.now() - timedelta(minutes=30))
    sug = services.suggestion_make(session=s)
    sug = services.suggestion_respond(suggestion=sug, student=world.student, response="accept")
    used = world.session(ended=True, minutes_ago=-1)  # the session the strategy is used in
    world.answers(used, [False] * 5, confidence=0.75, when=timezone.now() + timedelta(minutes=1))
    nxt = world.session(minutes_ago=-5)  # the session after it: where the outcome is measured
    world.answers(nxt, [True, True, True, True, False], confidence=0.75, when=timezone.now() + timedelta(minutes=5))
    asked = []

    def predictions(*, student_id, attempt_ids):
        asked.append((student_id, sorted(attempt_ids)))
        return dict.fromkeys(attempt_ids, 0.9)  # the items served were easy for this student

    monkeypatch.setattr(services, "attempt_predictions_for_student", predictions)
    (measured,) = services.suggestion_outcomes_measure(student=world.student, section=world.section)
    after = sorted(Attempt.objects.filter(session=nxt).values_list("id", flat=True))
    assert asked == [(world.student.pk, after)]
    assert measured.performance_gain == pytest.approx(0.8 - 0.9)  # 4 of 5 right on easy items: no gain
    assert measured.context["outcome_baseline"] == "model, per served item"


def test_accept_starts_the_action_and_outcome_is_measured(world):
    s = world.session(ended=True, minutes_ago=30)
    world.answers(s, [True, False, True, False], confidence=1.0, when=timezone.now() - timedelta(minutes=30))
    sug = services.suggestion_make(session=s)
    sug.strategy = "spacing"
    sug.save()
    sug = services.suggestion_respond(suggestion=sug, student=world.student, response="accept")
    assert sug.status == "accepted" and sug.is_active
    review = ScheduledReview.objects.get(suggestion=sug)
    assert review.due_at > timezone.now() + timedelta(days=1)
    assert selectors.active_suggestion(student=world.student, section=world.section) == sug
    # The session the strategy is used in is not what it is judged on, however many answers it has.
    used = world.session(ended=True, minutes_ago=-1)
    world.answers(used, [False] * 8, confidence=0.75, when=timezone.now() + timedelta(minutes=1))
    assert services.suggestion_outcomes_measure(student=world.student, section=world.section) == []
    # The session after it: too few answers yet, then enough.
    nxt = world.session(minutes_ago=-5)
    world.answers(nxt, [True, True], confidence=0.75, when=timezone.now() + timedelta(minutes=5))
    assert services.suggestion_outcomes_measure(student=world.student, section=world.section) == []
    world.answers(nxt, [True, True, False], confidence=0.75, when=timezone.now() + timedelta(minutes=6))
    (measured,) = services.suggestion_outcomes_measure(student=world.student, section=world.section)
    assert measured.context["outcome_window"] == f"the session after session {used.pk}, where it was used"
    # accuracy after 4/5 = 0.8, predicted (Laplace, 2 of 4) 0.5; bias before 0.5, after 0.75 − 0.8 = −0.05
    assert measured.outcome_n == 5
    assert measured.performance_gain == pytest.approx(0.8 - 0.5)
    assert measured.calibration_gain == pytest.approx(0.5 - 0.05)
    assert measured.reward == pytest.approx(0.3 + 0.5 * 0.45)
    services.suggestion_respond(suggestion=measured, student=world.student, response="helpful")
    measured.refresh_from_db()
    assert measured.rating == 1 and measured.reward == pytest.approx(0.3 + 0.5 * 0.45 + 0.05)
    # measuring the suggestion does not cancel the review: it is due in two days and done when practised
    assert ScheduledReview.objects.get(pk=review.pk).done_at is None


def test_a_due_review_is_served_next_and_done_once_practised(world, monkeypatch):
    from tests.factories import ItemFactory, SkillFactory
    from tutor import scheduler
    from tutor import services as tutor_services

    # fractions answered right 4 times, decimals last; a third skill is still new ground, which the
    # policy would otherwise pick (fractions looks mastered and fresh)
    ItemFactory(skill=SkillFactory(course=world.section.course, name="percentages"), answer={"value": 42})
    s = world.session(ended=True, minutes_ago=120)
    world.answers(s, [True, True, True, True], skill=0, when=timezone.now() - timedelta(hours=3))
    world.answers(s, [True, False, True], skill=1, when=timezone.now() - timedelta(hours=2))
    sug = services.suggestion_make(session=s)
    sug.strategy = "spacing"
    sug.save()
    services.suggestion_respond(suggestion=sug, student=world.student, response="accept")
    review = ScheduledReview.objects.get(suggestion=sug)
    # the student agreed to review fractions, due an hour ago
    review.skills.set([world.skills[0]])
    review.due_at = timezone.now() - timedelta(hours=1)
    review.save()
    assert selectors.review_skills_due_at(
        student_id=world.student.pk, section_id=world.section.pk, now=timezone.now()
    ) == [(world.skills[0].pk, review.due_at)]

    reads = []
    real = scheduler.review_skills_due_at
    monkeypatch.setattr(scheduler, "review_skills_due_at", lambda **kw: reads.append(1) or real(**kw))
    session = tutor_services.session_start(student=world.student, section=world.section)
    served = tutor_services.session_item_current(session=session)
    assert served.item.skill == world.skills[0]
    assert served.reason.startswith("review you agreed to: fractions")
    assert ScheduledReview.objects.get(pk=review.pk).done_at is None  # served, not yet answered
    tutor_services.attempt_record(
        student=world.student, session_item=served, answer="42", confidence=0.75, idempotency_key="review-1"
    )
    assert ScheduledReview.objects.get(pk=review.pk).done_at is not None
    # the next choices of the session: no more review reason, and the reviews were read once per session
    for k in range(2):
        nxt = tutor_services.session_item_current(session=session)
        assert not nxt.reason.startswith("review you agreed to")
        tutor_services.attempt_record(
            student=world.student, session_item=nxt, answer="42", confidence=0.75, idempotency_key=f"after-{k}"
        )
    assert reads == [1]
    assert selectors.reviews_for_student(student=world.student) == []
    assert not selectors.review_skills_due_at(
        student_id=world.student.pk, section_id=world.section.pk, now=timezone.now()
    )


def test_a_review_not_yet_due_or_of_another_class_changes_nothing(world):
    s = world.session(ended=True, minutes_ago=30)
    world.answers(s, [True, False], skill=1)
    sug = services.suggestion_make(session=s)
    sug.strategy = "spacing"
    sug.save()
    services.suggestion_respond(suggestion=sug, student=world.student, response="accept")
    review = ScheduledReview.objects.get(suggestion=sug)
    now = timezone.now()
    assert not selectors.review_skills_due_at(student_id=world.student.pk, section_id=world.section.pk, now=now)
    later = review.due_at + timedelta(minutes=1)
    assert selectors.review_skills_due_at(student_id=world.student.pk, section_id=world.section.pk, now=later)
    assert not selectors.review_skills_due_at(student_id=world.student.pk, section_id=world.section.pk + 999, now=later)
    assert services.reviews_settle(student_id=world.student.pk, section_id=world.section.pk, now=later) == 0


def test_not_helpful_is_an_outcome_and_is_not_offered_again_right_away(world):
    s = world.session(ended=True, minutes_ago=5)
    world.answers(s, [True, False])
    sug = services.suggestion_make(session=s)
    sug = services.suggestion_respond(suggestion=sug, student=world.student, response="not_helpful")
    assert sug.status == "not_helpful" and sug.reward == pytest.approx(-0.05)
    s2 = world.session(ended=True)
    world.answers(s2, [True])
    assert services.suggestion_make(session=s2).strategy != sug.strategy
    with pytest.raises(services.MetacogError) as exc:
        services.suggestion_respond(suggestion=sug, student=world.student, response="love it")
    assert exc.value.field == "response"
    with pytest.raises(services.MetacogError):
        services.suggestion_respond(suggestion=sug, student=world.other_student(), response="accept")


def test_prior_fit_needs_enough_students_then_becomes_active(world):
    with pytest.raises(services.MetacogError) as exc:
        services.policy_prior_fit(min_students=2)
    assert exc.value.field == "min_students"
    for _ in range(3):
        st = world.other_student()
        for i in range(3):
            ses = world.session(st, ended=True, minutes_ago=i)
            world.answers(ses, [True, False, i % 2 == 0])
            sug = services.suggestion_make(session=ses, seed=i)
            StrategySuggestion.objects.filter(pk=sug.pk).update(reward=0.1 * i, measured_at=timezone.now())
    row = services.policy_prior_fit(min_students=3)
    assert row.active and row.n_students == 3 and row.n_observations == 9
    prior, active = services.policy_prior_active()
    assert active == row and prior.kind == "meta_learned"
    # A fitted prior chooses by the guarded rule, centred on the strategy with the best mean outcome.
    assert prior.guard_z is not None and prior.default_arm in prior.arms and prior.weight_cov is not None
    assert PolicyPrior.objects.filter(active=True).count() == 1


def test_session_evaluation_once_and_needs_text(world):
    s = world.session(ended=True)
    with pytest.raises(services.MetacogError) as exc:
        services.reflection_session_record(student=world.student, session=s, kind="evaluation")
    assert exc.value.field == "worked"
    r = services.reflection_session_record(student=world.student, session=s, kind="evaluation", answer="hints")
    assert r.answer == "hints"
    assert (
        services.reflection_session_record(student=world.student, session=s, kind="evaluation", answer="x").pk == r.pk
    )


def test_a_judgment_survives_ending_the_session_before_answering(world):
    from tutor import services as tutor_services

    session = tutor_services.session_start(student=world.student, section=world.section)
    si = tutor_services.session_item_current(session=session)
    services.reflection_item_record(student=world.student, session_item=si, kind="judgment", judgment="0.5")
    tutor_services.session_end(session=session)  # drops the unanswered item
    r = Reflection.objects.get(kind="judgment")
    assert r.session_item is None and r.session == session and r.judgment == 0.5
