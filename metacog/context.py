"""A student's strategy context: a few interpretable signals from their own recent answers. Pure, no Django.

The same features feed the policy (as a vector) and the plain-language reason of a suggestion, so a reason
always cites the numbers the choice rested on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .calibration import CalibrationJudgment, Verdict, calibration_judgment, calibration_sentence
from .catalog import Strategy

FEATURES: tuple[str, ...] = (
    "intercept",
    "accuracy",  # predicted (or observed) accuracy − 0.6
    "overconfidence",  # mean confidence − accuracy
    "confident_errors",  # share of answers wrong at confidence ≥ 0.75
    "fast_errors",  # share of answers wrong and faster than half the student's median time
    "hint_rate",  # share of answers given after opening a hint
    "error_streaks",  # share of answers that are a second (or later) error in a row, no hint opened
    "retention_drop",  # accuracy later in a session − accuracy on a skill's first item in a session
)
WINDOW = 30
CONFIDENT = 0.75
ACCURACY_CENTRE = 0.6


@dataclass(frozen=True)
class AnswerRecord:
    correct: bool
    confidence: float
    skill: str
    session: int | None = None
    response_time_ms: int | None = None
    hints_used: int = 0


@dataclass(frozen=True)
class StrategyContext:
    n: int
    n_correct: int
    mean_confidence: float
    predicted_accuracy: float
    prediction_source: str  # "learner_model" | "observed" | "none"
    n_confident_wrong: int
    n_fast_wrong: int
    n_hinted: int
    n_streak_errors: int
    first_right: int
    first_n: int
    later_right: int
    later_n: int
    focus_skill: str = ""
    focus_confident_wrong: int = 0
    focus_n: int = 0
    values: dict[str, float] = field(default_factory=dict)
    # The calibration verdict on the same answers: a reason may speak of over-confidence only when it says so.
    calibration: CalibrationJudgment = field(default_factory=lambda: calibration_judgment([], []))

    def vector(self) -> np.ndarray:
        return np.array([self.values[f] for f in FEATURES], dtype=float)  # (d,)


def context_from_answers(
    answers: Sequence[AnswerRecord], *, predicted_accuracy: float | None = None, window: int = WINDOW
) -> StrategyContext:
    """Signals over the last ``window`` answers (oldest first in ``answers``)."""
    recent = list(answers)[-window:]
    n = len(recent)
    n_correct = sum(a.correct for a in recent)
    mean_conf = sum(a.confidence for a in recent) / n if n else 0.0
    if predicted_accuracy is not None:
        p, source = float(predicted_accuracy), "learner_model"
    elif n:
        p, source = (n_correct + 1) / (n + 2), "observed"  # Laplace: no extreme from two answers
    else:
        p, source = ACCURACY_CENTRE, "none"
    times = sorted(a.response_time_ms for a in recent if a.response_time_ms is not None)
    fast_cut = times[len(times) // 2] / 2 if times else None
    confident_wrong = [a for a in recent if not a.correct and a.confidence >= CONFIDENT]
    n_fast_wrong = sum(
        1
        for a in recent
        if not a.correct and fast_cut is not None and a.response_time_ms is not None and a.response_time_ms < fast_cut
    )
    n_hinted = sum(1 for a in recent if a.hints_used > 0)
    n_streak = sum(
        1
        for prev, a in zip(recent, recent[1:], strict=False)
        if not prev.correct and not a.correct and prev.hints_used == 0 and a.hints_used == 0
    )
    # Retention: a skill's first item in each session (after a gap) vs its later items in that session.
    seen: set[tuple[int | None, str]] = set()
    first, later = [], []
    earlier_sessions: dict[str, set[int | None]] = defaultdict(set)
    for a in recent:
        key = (a.session, a.skill)
        if key not in seen:
            seen.add(key)
            if earlier_sessions[a.skill] - {a.session}:
                first.append(a.correct)
        else:
            later.append(a.correct)
        earlier_sessions[a.skill].add(a.session)
    first_acc = (sum(first) + 1) / (len(first) + 2)
    later_acc = (sum(later) + 1) / (len(later) + 2)
    by_skill_n = Counter(a.skill for a in recent)
    by_skill_cw = Counter(a.skill for a in confident_wrong)
    focus = max(by_skill_cw, key=lambda s: (by_skill_cw[s], -by_skill_n[s]), default="")
    values = {
        "intercept": 1.0,
        "accuracy": p - ACCURACY_CENTRE,
        "overconfidence": (mean_conf - n_correct / n) if n else 0.0,
        "confident_errors": len(confident_wrong) / n if n else 0.0,
        "fast_errors": n_fast_wrong / n if n else 0.0,
        "hint_rate": n_hinted / n if n else 0.0,
        "error_streaks": n_streak / n if n else 0.0,
        "retention_drop": (later_acc - first_acc) if first else 0.0,
    }
    return StrategyContext(
        n=n,
        n_correct=n_correct,
        mean_confidence=mean_conf,
        predicted_accuracy=p,
        prediction_source=source,
        n_confident_wrong=len(confident_wrong),
        n_fast_wrong=n_fast_wrong,
        n_hinted=n_hinted,
        n_streak_errors=n_streak,
        first_right=sum(first),
        first_n=len(first),
        later_right=sum(later),
        later_n=len(later),
        focus_skill=focus,
        focus_confident_wrong=by_skill_cw.get(focus, 0),
        focus_n=by_skill_n.get(focus, 0),
        values=values,
        calibration=calibration_judgment([a.confidence for a in recent], [a.correct for a in recent]),
    )


def _pct(x: float) -> str:
    return f"{round(100 * x)} %"


def _signal_text(top: str, ctx: StrategyContext, last: str) -> str:
    if top == "overconfidence":
        # The raw gap feeds the policy, but words about it follow the one calibration verdict: a noisy gap of
        # 25 points over a handful of answers is not "your confidence was higher than your accuracy".
        if ctx.calibration.verdict != Verdict.OVER:
            return ""
        return calibration_sentence(ctx.calibration, answers=last)
    if top == "confident_errors":
        if not ctx.focus_skill:
            return ""
        return (
            f"You were fairly sure or certain but wrong on {ctx.focus_confident_wrong} of your last "
            f"{ctx.focus_n} {ctx.focus_skill} items."
        )
    if top == "fast_errors":
        return f"{ctx.n_fast_wrong} of {last} were wrong and much quicker than your usual pace."
    if top == "hint_rate":
        return f"You opened a hint before answering on {ctx.n_hinted} of {last}."
    if top == "error_streaks":
        return f"{ctx.n_streak_errors} times in {last} a second error in a row came without opening a hint."
    if top == "retention_drop":
        return (
            f"When you came back to a skill you got {ctx.first_right} of {ctx.first_n} first items right, "
            f"against {ctx.later_right} of {ctx.later_n} once warmed up."
        )
    if top == "accuracy":
        word = "learner model predicts" if ctx.prediction_source == "learner_model" else "answers show"
        return f"Your {word} {_pct(ctx.predicted_accuracy)} accuracy ({ctx.n_correct} of {last} right)."
    return ""


def reason_for(strategy: Strategy, ctx: StrategyContext, *, own_gain: float | None = None) -> str:
    """A plain-language reason citing the student's own numbers for the signal that weighs most (the next one
    when the strongest cannot honestly be put into words, e.g. a calibration gap that may be chance).

    ``own_gain``: the mean accuracy change measured when the student tried this strategy before, the number
    their history shows, so the reason states it rather than a verdict ("it helped") the history may not share.
    """
    if ctx.n == 0:
        return "You have no answers yet, so this is a strategy that works well for most students."
    contributions = {f: w * ctx.values.get(f, 0.0) for f, w in strategy.relevance.items()}
    last = f"your last {ctx.n} answer{'s' if ctx.n != 1 else ''}"
    text = ""
    for top in sorted(contributions, key=lambda f: -contributions[f]):
        if contributions[top] <= 0:
            break
        text = _signal_text(top, ctx, last)
        if text:
            break
    if not text:
        text = f"Based on {last} ({ctx.n_correct} right), this strategy fits students with answers like yours."
    if own_gain is not None:
        points = round(abs(own_gain) * 100)
        more = "more" if own_gain >= 0 else "fewer"
        text += (
            f" When you tried it before, you got {points} point{'s' if points != 1 else ''} {more} right than "
            "expected afterwards."
        )
    return text
