"""Calibration of confidence judgments: pure functions, no Django.

Every figure is an ``Estimate``: the value, the number of answers it rests on
and a 95 % interval, so a page can say "too few answers" instead of drawing a
verdict from three of them. Confidences are probabilities in [0, 1]; outcomes
are 1 (right) / 0 (wrong).

Sources: Brier (1950); Murphy (1973) decomposition; Goodman & Kruskal (1954)
gamma as used for metacognitive resolution (Nelson 1984); Naeini et al. (2015)
expected calibration error.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

Z95 = 1.959963984540054
# No verdict (over/under-confident, good/poor resolution) from fewer answers than this.
MIN_ANSWERS_FOR_VERDICT = 10
# "Well calibrated" needs the whole 95 % interval of the gap within this many points of zero, less than one
# step of the rating buttons (25 points apart). A gap that could still be 30 points is not a match, only not
# shown to be a mismatch: "can't tell yet".
CALIBRATED_WITHIN = 0.2


@dataclass(frozen=True)
class Estimate:
    value: float | None
    n: int
    low: float | None = None
    high: float | None = None
    se: float | None = None

    @property
    def enough(self) -> bool:
        return self.value is not None and self.n >= MIN_ANSWERS_FOR_VERDICT


@dataclass(frozen=True)
class MurphyDecomposition:
    """Brier = reliability − resolution + uncertainty (exact when bins are the distinct confidence values)."""

    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    n: int


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    n: int
    right: int
    mean_confidence: float | None
    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None


class Verdict(StrEnum):
    TOO_FEW = "too_few"
    OVER = "over"
    UNDER = "under"
    CALIBRATED = "calibrated"
    UNCLEAR = "unclear"


def _points(x: float | None) -> int | None:
    return None if x is None else round(100 * x)


@dataclass(frozen=True)
class CalibrationJudgment:
    """The one verdict every page states about a set of answers, with the numbers and interval it rests on.

    gap = mean confidence − accuracy (> 0: surer than the results). The confidences are the student's own
    ratings, so all the noise is in the outcomes: the interval is mean confidence minus the Wilson interval
    of the accuracy, which stays honest when every answer is right (or wrong), where a normal interval of the
    per-answer differences collapses to "0.00 [0.00, 0.00]".
    """

    verdict: Verdict
    n: int
    n_right: int
    mean_confidence: float | None
    accuracy: float | None
    gap: float | None
    gap_low: float | None
    gap_high: float | None

    @property
    def enough(self) -> bool:
        return self.verdict != Verdict.TOO_FEW

    @property
    def confidence_pct(self) -> int | None:
        return _points(self.mean_confidence)

    @property
    def accuracy_pct(self) -> int | None:
        return _points(self.accuracy)

    @property
    def gap_points(self) -> int | None:
        return _points(self.gap)

    @property
    def gap_low_points(self) -> int | None:
        return _points(self.gap_low)

    @property
    def gap_high_points(self) -> int | None:
        return _points(self.gap_high)


def calibration_judgment(
    confidences: Sequence[float], outcomes: Sequence[int | bool], *, min_answers: int = MIN_ANSWERS_FOR_VERDICT
) -> CalibrationJudgment:
    """Too few answers, over- or under-confident (the interval of the gap excludes zero), well calibrated (the
    interval lies within ``CALIBRATED_WITHIN`` of zero) or can't tell (neither: the gap may be chance)."""
    cs, ys = _check(confidences, outcomes)
    return calibration_judgment_from_totals(n=len(cs), k=sum(ys), confidence_sum=sum(cs), min_answers=min_answers)


def calibration_judgment_from_totals(
    *, n: int, k: int, confidence_sum: float, min_answers: int = MIN_ANSWERS_FOR_VERDICT
) -> CalibrationJudgment:
    """``calibration_judgment`` from running totals (answers, right ones, summed confidence): the judgment
    needs nothing else, so a page over a whole class reads three numbers per student, not every answer."""
    if n == 0:
        return CalibrationJudgment(Verdict.TOO_FEW, 0, 0, None, None, None, None, None)
    mean_c, acc = confidence_sum / n, k / n
    acc_low, acc_high = wilson_interval(k, n)
    low, high = mean_c - acc_high, mean_c - acc_low  # type: ignore[operator]
    if n < min_answers:
        verdict = Verdict.TOO_FEW
    elif -CALIBRATED_WITHIN <= low and high <= CALIBRATED_WITHIN:
        verdict = Verdict.CALIBRATED
    elif low > 0:
        verdict = Verdict.OVER
    elif high < 0:
        verdict = Verdict.UNDER
    else:
        verdict = Verdict.UNCLEAR
    return CalibrationJudgment(verdict, n, k, mean_c, acc, mean_c - acc, low, high)


@dataclass(frozen=True)
class Voice:
    """Whom a sentence is about: the student reading it (no name) or a named student a teacher is looking at."""

    name: str | None = None

    @property
    def own(self) -> bool:
        return self.name is None

    @property
    def subject(self) -> str:
        return self.name or "You"

    @property
    def subject_possessive(self) -> str:
        return f"{self.name}'s" if self.name else "Your"

    @property
    def possessive(self) -> str:
        return "their" if self.name else "your"

    @property
    def pronoun(self) -> str:
        return "they" if self.name else "you"

    @property
    def s(self) -> str:
        """The verb ending after ``subject``: "you tend", "Ana tends"."""
        return "s" if self.name else ""


YOU = Voice()

VERDICT_LABELS = {
    Verdict.TOO_FEW: "not enough answers yet",
    Verdict.OVER: "surer than the results",
    Verdict.UNDER: "less sure than the results",
    Verdict.CALIBRATED: "confidence matches the results",
    Verdict.UNCLEAR: "can't tell yet",
}


def calibration_headline(j: CalibrationJudgment, *, voice: Voice = YOU) -> str:
    """The verdict in one short sentence, without numbers."""
    v = voice
    if j.verdict == Verdict.TOO_FEW:
        return "No rated answers yet." if j.n == 0 else "Too few answers to judge yet."
    if j.verdict == Verdict.OVER:
        return f"{v.subject} tend{v.s} to feel surer than {v.possessive} results show."
    if j.verdict == Verdict.UNDER:
        return f"{v.subject} know{v.s} more than {v.pronoun} think."
    if j.verdict == Verdict.CALIBRATED:
        return f"{v.subject_possessive} confidence matches {v.possessive} results."
    return f"Can't tell yet whether {v.possessive} confidence matches {v.possessive} results."


def calibration_sentence(j: CalibrationJudgment, *, voice: Voice = YOU, answers: str | None = None) -> str:
    """The verdict with the numbers it rests on, in plain words. ``answers`` names the answers judged
    ("your last 20 answers"); by default "N answers"."""
    v = voice
    answers = answers or f"{j.n} answer{'s' if j.n != 1 else ''}"
    if j.n == 0:
        return (
            "Rate your confidence on a few items to see how well it tracks your results."
            if v.own
            else "No rated answers yet."
        )
    if j.verdict == Verdict.TOO_FEW:
        return (
            f"Only {j.n} answer{'s' if j.n != 1 else ''} so far: too few to judge {v.possessive} confidence yet "
            f"(we wait for {MIN_ANSWERS_FOR_VERDICT})."
        )
    but = "but" if j.verdict in (Verdict.OVER, Verdict.UNDER) else "and"
    numbers = (
        f"over {answers} {v.possessive} confidence averaged {j.confidence_pct} % {but} {v.pronoun} got "
        f"{j.n_right} of {j.n} right ({j.accuracy_pct} %)"
    )
    if j.verdict == Verdict.UNCLEAR:
        chance = (
            "a gap like this can still be chance"
            if abs(j.gap or 0) >= CALIBRATED_WITHIN
            else "the two could still be far apart"
        )
        return f"Can't tell yet: {numbers}, and with this few answers {chance}."
    text = f"{calibration_headline(j, voice=v)[:-1]}: {numbers}."
    if v.own and j.verdict == Verdict.OVER:
        text += " When you feel sure, check once more."
    elif v.own and j.verdict == Verdict.UNDER:
        text += " Trust yourself a little more."
    return text


NOT_ENOUGH = "not enough answers yet"


def _signed(points: int) -> str:
    return f"+{points}" if points > 0 else str(points).replace("-", "−")


def gap_text(j: CalibrationJudgment) -> str:
    """The gap and its interval in points, or "not enough answers yet" below the minimum."""
    if not j.enough or j.gap_points is None:
        return NOT_ENOUGH
    return (
        f"{_signed(j.gap_points)} points; the real gap is likely between {_signed(j.gap_low_points or 0)} "
        f"and {_signed(j.gap_high_points or 0)} points"
    )


def calibration_details(report: CalibrationReport, *, voice: Voice = YOU) -> list[tuple[str, str]]:
    """The numbers behind the verdict as (what it measures, value) in plain words, for a Details toggle.

    A measure resting on too few answers, or with no value or a zero-width interval (every pair tied, every
    answer right), says so instead of printing "0.00 [0.00, 0.00]". Teachers also get the measures' names.
    """
    poss = voice.possessive
    named = not voice.own
    rows = [
        (
            f"Gap between {poss} confidence and {poss} results" + (" (confidence − accuracy)" if named else ""),
            gap_text(report.judgment),
        )
    ]
    g = report.gamma
    if not report.judgment.enough:
        gamma = NOT_ENOUGH
    elif g.value is None:
        gamma = NOT_ENOUGH + " (it needs right and wrong answers with different ratings)"
    else:
        gamma = f"{g.value:+.2f} on a scale from −1 to +1, higher is better".replace("-", "−")
        if g.low is not None and g.high is not None and g.low < g.high:
            gamma += f" (likely between {g.low:+.2f} and {g.high:+.2f})".replace("-", "−")
    rows.append(
        (
            f"How well {poss} ratings tell right answers from wrong ones"
            + (" (Goodman–Kruskal gamma)" if named else ""),
            gamma,
        )
    )
    b = report.brier
    brier = (
        NOT_ENOUGH
        if not report.judgment.enough or b.value is None
        else f"{b.value:.2f}, where 0 is perfect and 0.25 is what rating every answer 50 % scores"
    )
    rows.append((f"Overall score of {poss} ratings" + (" (Brier score)" if named else ""), brier))
    return rows


@dataclass(frozen=True)
class CalibrationReport:
    n: int
    brier: Estimate
    murphy: MurphyDecomposition | None
    bias: Estimate
    gamma: Estimate
    ece: Estimate
    bins: list[CalibrationBin]
    judgment: CalibrationJudgment


def _check(confidences: Sequence[float], outcomes: Sequence[int | bool]) -> tuple[list[float], list[int]]:
    if len(confidences) != len(outcomes):
        raise ValueError("confidences and outcomes must have the same length")
    cs = [float(c) for c in confidences]
    if any(not 0.0 <= c <= 1.0 for c in cs):  # also rejects NaN
        raise ValueError("confidences must be probabilities in [0, 1]")
    ys = [1 if bool(y) else 0 for y in outcomes]
    return cs, ys


def _mean_estimate(values: list[float], *, clip: tuple[float, float] | None = None) -> Estimate:
    n = len(values)
    if n == 0:
        return Estimate(None, 0)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, n)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    se = math.sqrt(var / n)
    low, high = mean - Z95 * se, mean + Z95 * se
    if clip is not None:
        low, high = max(clip[0], low), min(clip[1], high)
    return Estimate(mean, n, low, high, se)


def wilson_interval(successes: int, n: int) -> tuple[float, float] | tuple[None, None]:
    """95 % Wilson score interval for a proportion; honest at small n where the normal one is not."""
    if n == 0:
        return None, None
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def brier_score(confidences: Sequence[float], outcomes: Sequence[int | bool]) -> Estimate:
    """Mean squared error of the confidence as a forecast of being right (0 best, 1 worst)."""
    cs, ys = _check(confidences, outcomes)
    return _mean_estimate([(c - y) ** 2 for c, y in zip(cs, ys, strict=True)], clip=(0.0, 1.0))


def murphy_decomposition(
    confidences: Sequence[float], outcomes: Sequence[int | bool], *, decimals: int = 6
) -> MurphyDecomposition | None:
    """Murphy (1973): reliability (miscalibration, lower is better), resolution (higher is better), uncertainty.

    Bins are the distinct confidence values (rounded to ``decimals``), which makes the identity exact.
    """
    cs, ys = _check(confidences, outcomes)
    n = len(cs)
    if n == 0:
        return None
    groups: dict[float, list[int]] = defaultdict(list)
    for c, y in zip(cs, ys, strict=True):
        groups[round(c, decimals)].append(y)
    base = sum(ys) / n
    reliability = sum(len(g) * (f - sum(g) / len(g)) ** 2 for f, g in groups.items()) / n
    resolution = sum(len(g) * (sum(g) / len(g) - base) ** 2 for g in groups.values()) / n
    uncertainty = base * (1 - base)
    brier = sum((c - y) ** 2 for c, y in zip(cs, ys, strict=True)) / n
    return MurphyDecomposition(brier, reliability, resolution, uncertainty, n)


def calibration_bias(confidences: Sequence[float], outcomes: Sequence[int | bool]) -> Estimate:
    """Mean confidence minus accuracy: > 0 over-confident, < 0 under-confident."""
    cs, ys = _check(confidences, outcomes)
    return _mean_estimate([c - y for c, y in zip(cs, ys, strict=True)], clip=(-1.0, 1.0))


def goodman_kruskal_gamma(confidences: Sequence[float], outcomes: Sequence[int | bool]) -> Estimate:
    """Resolution as an ordinal association: (C − D) / (C + D) over pairs of answers, ties dropped.

    +1: every right answer got more confidence than every wrong one. Undefined (value None) when every pair
    is tied, e.g. all right or all the same confidence. The interval uses Goodman & Kruskal's (1963) upper
    bound on the variance, var ≤ 2 n (1 − γ²) / (C + D), so it is conservative.
    """
    cs, ys = _check(confidences, outcomes)
    n = len(cs)
    right = [c for c, y in zip(cs, ys, strict=True) if y]
    wrong = [c for c, y in zip(cs, ys, strict=True) if not y]
    # Only right/wrong pairs can be untied on the outcome; with a binary outcome that is all of them.
    concordant = sum(1 for r in right for w in wrong if r > w)
    discordant = sum(1 for r in right for w in wrong if r < w)
    pairs = concordant + discordant
    if pairs == 0:
        return Estimate(None, n)
    gamma = (concordant - discordant) / pairs
    se = math.sqrt(2 * n * (1 - gamma**2) / pairs) if gamma**2 < 1 else 0.0
    return Estimate(gamma, n, max(-1.0, gamma - Z95 * se), min(1.0, gamma + Z95 * se), se)


def calibration_bins(
    confidences: Sequence[float], outcomes: Sequence[int | bool], *, edges: Sequence[float] | None = None
) -> list[CalibrationBin]:
    """Accuracy per confidence bin with a Wilson interval. Default edges fit the four rating buttons."""
    cs, ys = _check(confidences, outcomes)
    edges = list(edges) if edges is not None else [0.0, 0.375, 0.625, 0.875, 1.0]
    bins = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        members = [(c, y) for c, y in zip(cs, ys, strict=True) if lo <= c < hi or (last and c == hi)]
        k = len(members)
        hits = sum(y for _, y in members)
        a_lo, a_hi = wilson_interval(hits, k)
        bins.append(
            CalibrationBin(
                low=lo,
                high=hi,
                n=k,
                right=hits,
                mean_confidence=sum(c for c, _ in members) / k if k else None,
                accuracy=hits / k if k else None,
                accuracy_low=a_lo,
                accuracy_high=a_hi,
            )
        )
    return bins


def _ece_value(cs: list[float], ys: list[int], edges: list[float]) -> float:
    total = len(cs)
    err = 0.0
    for b in calibration_bins(cs, ys, edges=edges):
        if b.n:
            err += b.n / total * abs(b.accuracy - b.mean_confidence)  # type: ignore[operator]
    return err


def expected_calibration_error(
    confidences: Sequence[float],
    outcomes: Sequence[int | bool],
    *,
    n_bins: int = 10,
    bootstrap: int = 200,
    seed: int = 0,
) -> Estimate:
    """ECE with equal-width bins; the interval is a seeded percentile bootstrap (ECE is biased up at small n)."""
    cs, ys = _check(confidences, outcomes)
    n = len(cs)
    if n == 0:
        return Estimate(None, 0)
    edges = [i / n_bins for i in range(n_bins + 1)]
    value = _ece_value(cs, ys, edges)
    if n < 2 or bootstrap <= 0:
        return Estimate(value, n)
    rng = random.Random(seed)
    draws = []
    for _ in range(bootstrap):
        idx = [rng.randrange(n) for _ in range(n)]
        draws.append(_ece_value([cs[i] for i in idx], [ys[i] for i in idx], edges))
    draws.sort()
    low = draws[int(0.025 * (bootstrap - 1))]
    high = draws[int(math.ceil(0.975 * (bootstrap - 1)))]
    mean = sum(draws) / bootstrap
    se = math.sqrt(sum((d - mean) ** 2 for d in draws) / (bootstrap - 1))
    return Estimate(value, n, low, high, se)


def calibration_report(
    confidences: Sequence[float], outcomes: Sequence[int | bool], *, bootstrap: int = 200, seed: int = 0
) -> CalibrationReport:
    cs, ys = _check(confidences, outcomes)
    return CalibrationReport(
        n=len(cs),
        brier=brier_score(cs, ys),
        murphy=murphy_decomposition(cs, ys),
        bias=calibration_bias(cs, ys),
        gamma=goodman_kruskal_gamma(cs, ys),
        ece=expected_calibration_error(cs, ys, bootstrap=bootstrap, seed=seed),
        bins=calibration_bins(cs, ys),
        judgment=calibration_judgment(cs, ys),
    )


def calibration_by(
    records: Iterable[tuple[Hashable, float, int | bool]], *, bootstrap: int = 0
) -> dict[Hashable, CalibrationReport]:
    """One report per key (a skill, a session, a week …) from (key, confidence, outcome) records, keys in order."""
    grouped: dict[Hashable, tuple[list[float], list[int]]] = {}
    for key, c, y in records:
        cs, ys = grouped.setdefault(key, ([], []))
        cs.append(c)
        ys.append(1 if y else 0)
    return {k: calibration_report(cs, ys, bootstrap=bootstrap) for k, (cs, ys) in grouped.items()}


def rolling(
    values: Sequence[tuple[float, int | bool]], *, window: int, fn: Callable[..., Estimate] = calibration_bias
) -> list[Estimate]:
    """``fn`` over each trailing window of (confidence, outcome): calibration over time."""
    out = []
    for end in range(1, len(values) + 1):
        chunk = values[max(0, end - window) : end]
        out.append(fn([c for c, _ in chunk], [y for _, y in chunk]))
    return out
