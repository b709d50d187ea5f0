"""Calibration measures on hand-computed cases (no database)."""

from __future__ import annotations

import pytest

from metacog.calibration import (
    brier_score,
    calibration_bias,
    calibration_bins,
    calibration_by,
    calibration_judgment,
    calibration_report,
    calibration_sentence,
    expected_calibration_error,
    goodman_kruskal_gamma,
    murphy_decomposition,
    rolling,
    wilson_interval,
)

# Two answers at 75 % (one right), two at 25 % (both wrong).
CONF = [0.75, 0.75, 0.25, 0.25]
OUT = [1, 0, 0, 0]


def test_brier_by_hand():
    est = brier_score(CONF, OUT)
    # (0.25² + 0.75² + 0.25² + 0.25²) / 4 = 0.75 / 4
    assert est.value == pytest.approx(0.1875) and est.n == 4
    assert est.low <= est.value <= est.high


def test_murphy_decomposition_by_hand_and_identity():
    m = murphy_decomposition(CONF, OUT)
    # base rate 0.25 → uncertainty 0.1875; bins 0.75:[1,0] (acc .5), 0.25:[0,0] (acc 0)
    assert m.uncertainty == pytest.approx(0.1875)
    assert m.reliability == pytest.approx((2 * 0.25**2 + 2 * 0.25**2) / 4)
    assert m.resolution == pytest.approx((2 * 0.25**2 + 2 * 0.25**2) / 4)
    assert m.brier == pytest.approx(m.reliability - m.resolution + m.uncertainty)


def test_murphy_identity_holds_on_random_data():
    import random

    rng = random.Random(3)
    cs = [rng.choice([0.25, 0.5, 0.75, 1.0]) for _ in range(200)]
    ys = [int(rng.random() < c * 0.8) for c in cs]
    m = murphy_decomposition(cs, ys)
    assert m.brier == pytest.approx(m.reliability - m.resolution + m.uncertainty)
    assert m.brier == pytest.approx(brier_score(cs, ys).value)


def test_bias_sign_and_value():
    assert calibration_bias(CONF, OUT).value == pytest.approx(0.5 - 0.25)
    assert calibration_bias([0.25, 0.25], [1, 1]).value == pytest.approx(-0.75)


def test_gamma_by_hand():
    assert goodman_kruskal_gamma(CONF, OUT).value == pytest.approx(1.0)  # 2 concordant, 1 tie, 0 discordant
    g = goodman_kruskal_gamma([0.9, 0.6, 0.8, 0.3], [1, 1, 0, 0])  # C = 3, D = 1
    assert g.value == pytest.approx(0.5) and g.low < 0.5 < g.high
    assert goodman_kruskal_gamma([0.5, 0.5, 0.5], [1, 0, 1]).value is None  # all tied
    assert goodman_kruskal_gamma([0.9, 0.2], [1, 1]).value is None  # nothing wrong to compare with


def test_ece_by_hand_with_bootstrap_interval():
    est = expected_calibration_error(CONF, OUT, seed=1)
    # bin .7–.8: n 2, |0.5 − 0.75|; bin .2–.3: n 2, |0 − 0.25| → 0.5·0.25 + 0.5·0.25
    assert est.value == pytest.approx(0.25) and est.n == 4
    assert est.low <= est.high
    assert expected_calibration_error(CONF, OUT, seed=1) == est  # seeded: reproducible


def test_perfect_calibration_has_zero_ece_and_reliability():
    cs = [0.5] * 4 + [1.0] * 3
    ys = [1, 0, 1, 0, 1, 1, 1]
    assert expected_calibration_error(cs, ys, bootstrap=0).value == pytest.approx(0.0)
    assert murphy_decomposition(cs, ys).reliability == pytest.approx(0.0)


def test_bins_report_counts_and_wilson_intervals():
    bins = calibration_bins(CONF + [1.0], OUT + [1])
    assert [b.n for b in bins] == [2, 0, 2, 1]
    assert bins[2].accuracy == pytest.approx(0.5) and bins[1].accuracy is None
    lo, hi = wilson_interval(1, 2)
    assert (bins[2].accuracy_low, bins[2].accuracy_high) == (lo, hi)
    assert 0 < lo < 0.5 < hi < 1


def test_no_verdict_from_three_answers():
    report = calibration_report([1.0, 1.0, 1.0], [0, 0, 0])
    assert report.bias.value == pytest.approx(1.0)
    assert report.judgment.verdict == "too_few" and "too few" in calibration_sentence(report.judgment)
    assert report.n == 3 and report.brier.n == 3


@pytest.mark.parametrize(
    ("confidences", "outcomes", "verdict"),
    [
        ([1.0] * 9, [0] * 9, "too_few"),  # one short of the minimum, however large the gap
        ([0.75] * 10, [1] * 5 + [0] * 5, "unclear"),  # a 25-point gap inside the noise of 10 answers
        ([0.7] * 20, [1] * 14 + [0] * 6, "unclear"),  # no gap, but 20 answers cannot show a match either
        ([1.0] * 20, [1, 0] * 10, "over"),  # the interval of the gap lies above zero
        ([0.25] * 20, [1] * 16 + [0] * 4, "under"),  # ... below zero
        ([0.75] * 100, [1] * 75 + [0] * 25, "calibrated"),  # the interval lies within 20 points of zero
        ([1.0] * 12, [1] * 12, "unclear"),  # all right: no "0.00 [0.00, 0.00]", the interval keeps its width
    ],
)
def test_judgment_boundaries(confidences, outcomes, verdict):
    j = calibration_judgment(confidences, outcomes)
    assert j.verdict == verdict
    assert j.gap_low <= j.gap <= j.gap_high and j.gap_low < j.gap_high  # never a zero-width interval
    assert j.gap == pytest.approx(sum(confidences) / len(confidences) - sum(outcomes) / len(outcomes))


def test_judgment_interval_is_confidence_minus_the_wilson_interval():
    j = calibration_judgment([0.75] * 10, [1] * 5 + [0] * 5)
    lo, hi = wilson_interval(5, 10)
    assert (j.gap_low, j.gap_high) == pytest.approx((0.75 - hi, 0.75 - lo))
    assert j.gap_low < 0 < j.gap_high


def test_sentences_cite_the_numbers_and_speak_about_the_right_person():
    from metacog.calibration import Voice

    j = calibration_judgment([1.0] * 20, [1, 0] * 10)
    mine = calibration_sentence(j)
    assert mine.startswith("You tend to feel surer than your results show: over 20 answers")
    assert "confidence averaged 100 % but you got 10 of 20 right (50 %)" in mine
    theirs = calibration_sentence(j, voice=Voice("Ana Lopez"))
    assert theirs.startswith("Ana Lopez tends to feel surer than their results show")
    assert " you" not in theirs and "your" not in theirs
    unclear = calibration_sentence(calibration_judgment([0.75] * 10, [1] * 5 + [0] * 5))
    assert unclear.startswith("Can't tell yet") and "within the noise" not in unclear


def test_grouping_and_rolling():
    by = calibration_by([("a", 1.0, 0), ("b", 0.5, 1), ("a", 1.0, 1)])
    assert list(by) == ["a", "b"] and by["a"].n == 2 and by["a"].bias.value == pytest.approx(0.5)
    roll = rolling([(1.0, 0), (1.0, 1), (0.5, 1)], window=2)
    assert [r.value for r in roll] == pytest.approx([1.0, 0.5, -0.25])


def test_bad_input_is_rejected():
    with pytest.raises(ValueError):
        brier_score([0.5], [1, 0])
    with pytest.raises(ValueError):
        brier_score([1.5], [1])
    assert brier_score([], []).value is None


def test_details_never_print_a_degenerate_interval():
    from metacog.calibration import NOT_ENOUGH, Voice, calibration_details

    all_right = dict(calibration_details(calibration_report([1.0] * 12, [1] * 12, bootstrap=0)))
    gap, gamma, brier = all_right.values()
    assert gap == "0 points; the real gap is likely between 0 and +24 points"
    assert gamma.startswith(NOT_ENOUGH) and "right and wrong answers" in gamma  # every pair tied
    assert brier.startswith("0.00, where 0 is perfect")
    few = calibration_details(calibration_report([0.5] * 5, [1, 0, 1, 0, 1], bootstrap=0))
    assert [value for _, value in few] == [NOT_ENOUGH] * 3
    named = [label for label, _ in calibration_details(calibration_report([0.5], [1]), voice=Voice("Ana"))]
    assert named[0] == "Gap between their confidence and their results (confidence − accuracy)"
    assert named[2].endswith("(Brier score)")
