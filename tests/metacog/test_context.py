"""Context signals and the reasons that cite them: the numbers in a reason are the numbers in the data."""

from __future__ import annotations

import pytest

from metacog.catalog import BY_SLUG, CATALOG
from metacog.context import AnswerRecord, context_from_answers, reason_for


def rec(correct, conf, skill="fractions", session=1, rt=20000, hints=0):
    return AnswerRecord(
        correct=correct, confidence=conf, skill=skill, session=session, response_time_ms=rt, hints_used=hints
    )


def test_confident_errors_reason_cites_skill_counts():
    answers = [rec(False, 1.0), rec(False, 0.75), rec(True, 1.0), rec(False, 1.0), rec(False, 0.75)]
    answers += [rec(True, 0.5, skill="decimals")] * 3
    ctx = context_from_answers(answers)
    assert ctx.n_confident_wrong == 4 and ctx.focus_skill == "fractions" and ctx.focus_n == 5
    text = reason_for(BY_SLUG["self_explanation"], ctx)
    assert text == "You were fairly sure or certain but wrong on 4 of your last 5 fractions items."


def test_overconfidence_reason_matches_means():
    answers = [rec(i % 2 == 0, 1.0) for i in range(10)]  # 5 of 10 right at 100 %
    ctx = context_from_answers(answers)
    assert ctx.values["overconfidence"] == pytest.approx(0.5)
    assert ctx.calibration.verdict == "over"
    reason = reason_for(BY_SLUG["calibration_check"], ctx)
    assert reason.startswith("You tend to feel surer than your results show: over your last 10 answers")
    assert "confidence averaged 100 % but you got 5 of 10 right (50 %)" in reason


@pytest.mark.parametrize(
    ("outcomes", "confidence"),
    [
        ([True, False, True, False], 0.75),  # too few answers for a verdict
        ([True] * 5 + [False] * 5, 0.75),  # a 25-point gap within the noise: can't tell
    ],
)
def test_a_gap_the_verdict_does_not_call_overconfidence_is_not_cited_as_one(outcomes, confidence):
    ctx = context_from_answers([rec(y, confidence) for y in outcomes])
    assert ctx.values["overconfidence"] > 0 and ctx.calibration.verdict != "over"
    reason = reason_for(BY_SLUG["calibration_check"], ctx)
    assert "confidence" not in reason and "surer" not in reason
    assert reason.startswith(f"Based on your last {len(outcomes)} answers")


def test_fast_errors_and_streaks_are_counted():
    answers = [rec(True, 0.5, rt=20000)] * 6 + [rec(False, 0.5, rt=3000), rec(False, 0.5, rt=3000)]
    ctx = context_from_answers(answers)
    assert ctx.n_fast_wrong == 2 and ctx.n_streak_errors == 1
    assert reason_for(BY_SLUG["slow_down"], ctx).startswith("2 of your last 8 answers were wrong")
    assert "1 times in your last 8 answers" in reason_for(BY_SLUG["help_seeking"], ctx)


def test_retention_drop_uses_first_items_after_a_gap():
    answers = [rec(True, 0.5, session=1)] * 3 + [rec(False, 0.5, session=2), rec(True, 0.5, session=2)]
    ctx = context_from_answers(answers)
    assert (ctx.first_right, ctx.first_n) == (0, 1)
    assert (ctx.later_right, ctx.later_n) == (3, 3)
    assert "0 of 1 first items right, against 3 of 3" in reason_for(BY_SLUG["spacing"], ctx)


def test_learner_model_prediction_is_used_when_given():
    answers = [rec(True, 0.5)] * 4
    assert context_from_answers(answers, predicted_accuracy=0.3).values["accuracy"] == pytest.approx(-0.3)
    assert context_from_answers(answers).prediction_source == "observed"
    assert context_from_answers([]).prediction_source == "none"


def test_every_strategy_gets_a_reason_even_without_signal():
    ctx = context_from_answers([rec(True, 0.5)] * 3)
    for s in CATALOG:
        assert reason_for(s, ctx)
    assert "no answers yet" in reason_for(CATALOG[0], context_from_answers([]))


def test_catalog_has_at_least_ten_strategies_with_evidence_and_actions():
    assert len(CATALOG) >= 10
    assert len({s.slug for s in CATALOG}) == len(CATALOG)
    for s in CATALOG:
        assert s.description and s.evidence and s.signals and s.action and s.action_text
