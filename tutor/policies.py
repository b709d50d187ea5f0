"""Scheduling policies: which skill to practise next, at what difficulty, and why.

Pure Python, no Django: the same code drives the product (``tutor.scheduler``) and the
simulator benchmark (``tutor.simulator.bench``), so what is benchmarked is what ships.

A policy sees one ``SkillView`` per skill (the structure of the course and the
*estimated* state of the student on it) and returns a ``Choice``. It never sees the
simulator's hidden truth: the estimates come from ``SkillEstimator`` (an online,
transparent Elo-style estimate with forgetting, fed only observed responses and
elapsed time) or, in the product, from the student's meta-learned learner model.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "POLICIES",
    "Choice",
    "Context",
    "Forecast",
    "Policy",
    "PolicySettings",
    "SkillEstimate",
    "SkillEstimator",
    "SkillView",
    "aim",
    "choose",
    "difficulty_for_success",
    "expected_gain",
    "round_robin_pairs",
    "shuffled_round_robin",
    "skill_pair",
    "spread",
    "with_target",
]

# Item difficulty is on [0, 1]; one unit of difficulty is this many logits of P(correct).
DIFFICULTY_SLOPE = 4.0
DIFFICULTY_RANGE = (0.05, 0.95)
# Added to a skill the student agreed to review (due now): larger than any sum of the policy's own
# reasons, so the review is served next unless its prerequisites are missing or it was just seen.
AGREED_REVIEW_BONUS = 10.0
# The spread policy: a declared confusable pair is set side by side about this many times as often as
# any other pair of skills (chosen on seed 7 in both simulators; see docs/scheduler.md).
SPREAD_CONFUSABLE_WEIGHT = 8.0
# A learned pair weight from which the reason says students often confuse the pair (one standard deviation
# above the average pair; see ``scheduling_api.learn_contrast_weights``).
SPREAD_OFTEN_CONFUSED = 2.0


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def difficulty_for_success(p_mid: float, target: float) -> float:
    """The item difficulty at which a student with P(correct)=``p_mid`` on a middling item succeeds with ``target``."""
    d = 0.5 + (_logit(p_mid) - _logit(target)) / DIFFICULTY_SLOPE
    return min(max(d, DIFFICULTY_RANGE[0]), DIFFICULTY_RANGE[1])


def aim(p_mid: float, target: float) -> tuple[float, float]:
    """Desirable difficulty: the item difficulty for ``target`` success, and the P(correct) predicted there.

    The one aiming rule of every policy that aims (adaptive and the ``+target`` baselines), so a
    comparison between them is about which skill is practised, not how hard its items are.
    """
    d = difficulty_for_success(p_mid, target)
    return d, _sigmoid(_logit(p_mid) - DIFFICULTY_SLOPE * (d - 0.5))


# --- the online estimate (the product's fallback and the benchmark's only view) ----------------


@dataclass
class SkillEstimate:
    """What the tutor believes about one skill of one student, from their answers alone."""

    theta: float  # logit P(correct) on a middling item right after the last practice
    theta_prior: float  # where knowledge decays back to when unpractised
    n: int = 0
    n_correct: int = 0
    last_t: float | None = None  # days
    half_life: float = 0.5  # days until what was learned is half forgotten (estimated)

    def recall(self, now: float) -> float:
        """Estimated fraction of what was learned that is still there (1 when never practised)."""
        if self.last_t is None:
            return 1.0
        return 2.0 ** (-max(0.0, now - self.last_t) / self.half_life)

    def p_now(self, now: float) -> float:
        return _sigmoid(self.theta_prior + (self.theta - self.theta_prior) * self.recall(now))

    def uncertainty(self) -> float:
        """Shrinks like 1/sqrt(n): how much one more answer would move the estimate."""
        return 1.0 / math.sqrt(1.0 + self.n)


class SkillEstimator:
    """Online per-skill estimate with forgetting: Elo updates on a logit, an exponential half-life per skill.

    Deliberately simpler than (and of a different form from) the simulator: exponential
    rather than power-law forgetting, one global ability shared by unseen skills. The
    half-life doubles (times 1 + the surprise of recall) after a successful spaced
    retrieval and halves after a lapse, as in half-life regression (Settles & Meeder 2016).
    """

    def __init__(self, skill_ids: Iterable[int], *, prior: float = -0.5) -> None:
        self.global_theta = prior
        self.n_global = 0
        self.skills: dict[int, SkillEstimate] = {s: SkillEstimate(theta=prior, theta_prior=prior) for s in skill_ids}

    def get(self, skill_id: int) -> SkillEstimate:
        est = self.skills.get(skill_id)
        if est is None:
            est = self.skills[skill_id] = SkillEstimate(theta=self.global_theta, theta_prior=self.global_theta)
        return est

    def p_correct(self, skill_id: int, now: float, difficulty: float = 0.5) -> float:
        est = self.get(skill_id)
        return _sigmoid(_logit(est.p_now(now)) - DIFFICULTY_SLOPE * (difficulty - 0.5))

    def _after(self, est: SkillEstimate, *, correct: bool, now: float, difficulty: float) -> tuple[float, float, float]:
        """The estimate's (theta, theta_prior, half_life) once one answer at ``now`` is folded in; changes nothing."""
        theta, prior = est.theta, est.theta_prior
        if est.n == 0:
            # A first answer on a new skill starts from the student's ability seen elsewhere.
            theta = prior = min(self.global_theta, 0.5)
        r = est.recall(now)
        p = _sigmoid(_logit(_sigmoid(prior + (theta - prior) * r)) - DIFFICULTY_SLOPE * (difficulty - 0.5))
        y = 1.0 if correct else 0.0
        k = 1.2 / (1.0 + 0.15 * est.n) + 0.25
        theta = prior + (theta - prior) * r + k * (y - p)
        half_life = est.half_life
        if est.last_t is not None and now - est.last_t > 1e-3:
            if correct:
                half_life = min(365.0, half_life * (1.0 + 2.0 * (1.0 - r) + 0.3))
            else:
                half_life = max(0.25, half_life * 0.6)
        return theta, prior, half_life

    def observe(self, skill_id: int, *, correct: bool, now: float, difficulty: float = 0.5) -> None:
        """Fold one observed answer into the estimate."""
        est = self.get(skill_id)
        est.theta, est.theta_prior, est.half_life = self._after(est, correct=correct, now=now, difficulty=difficulty)
        est.last_t = now
        est.n += 1
        est.n_correct += int(correct)
        self.n_global += 1
        y = 1.0 if correct else 0.0
        self.global_theta += (0.3 / math.sqrt(self.n_global)) * (y - _sigmoid(self.global_theta))

    def forecast(self, skill_id: int, *, now: float, at: float, difficulty: float = 0.5) -> Forecast:
        """What-if: P(correct) on a middling item at ``at``, if an item of ``difficulty`` is practised at ``now`` or not.

        The same update and forgetting equations as ``observe`` (nothing is changed). A skill never
        practised is forecast from the ability the first answer would start it from, in both branches,
        so that re-basing the estimate is not counted as learning.
        """
        if at < now:
            raise ValueError("at must not be before now")
        est = self.get(skill_id)
        if est.n == 0:
            start = min(self.global_theta, 0.5)
            p_skip = _sigmoid(start)
            p_answer = _sigmoid(start - DIFFICULTY_SLOPE * (difficulty - 0.5))
        else:
            p_skip = est.p_now(at)
            p_answer = self.p_correct(skill_id, now, difficulty)

        def later(correct: bool) -> float:
            theta, prior, half_life = self._after(est, correct=correct, now=now, difficulty=difficulty)
            return _sigmoid(prior + (theta - prior) * 2.0 ** (-(at - now) / half_life))

        return Forecast(p_answer=p_answer, if_correct=later(True), if_wrong=later(False), if_skipped=p_skip)


@dataclass(frozen=True)
class Forecast:
    """One skill's what-if for the expected-gain policy: P(correct) at the test with and without practice now."""

    p_answer: float  # predicted P(correct) on the item practised now
    if_correct: float  # P(correct) at the test, middling item, after a right answer now
    if_wrong: float  # ... after a wrong answer now
    if_skipped: float  # ... if the skill is not practised now

    @property
    def gain(self) -> float:
        """Expected rise of P(correct) at the test from practising now (over both outcomes)."""
        return self.p_answer * self.if_correct + (1.0 - self.p_answer) * self.if_wrong - self.if_skipped


# --- what a policy sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillView:
    """One skill as a policy sees it: course structure plus the estimated student state."""

    skill_id: int
    name: str
    position: int = 0
    prerequisites: tuple[int, ...] = ()
    confusable_with: tuple[int, ...] = ()
    n_attempts: int = 0
    days_since: float | None = None  # None: never practised
    items_since: int | None = None  # items served since this skill was last seen (None: never)
    p_correct: float = 0.5  # predicted P(correct) now on a middling item
    recall: float = 1.0  # predicted fraction of what was learned still retained
    uncertainty: float = 1.0


@dataclass(frozen=True)
class Context:
    """The moment of the choice: what was just served, and how much practice the plan allows."""

    last_skill_id: int | None = None
    budget_per_skill: int = 10  # for the blocked baseline: items per block
    # skills of reviews the student agreed to (a strategy suggestion) that are due and not yet practised
    agreed_reviews: frozenset[int] = frozenset()
    # what-if for the expected-gain policy: (skill id, item difficulty, days to the test) -> Forecast
    what_if: Callable[[int, float, float], Forecast] | None = None
    # for the spread policy: how often each pair of skills (key: (smaller id, larger id)) was answered one
    # straight after the other so far, i.e. set against each other in practice
    contrasts: Mapping[tuple[int, int], int] = field(default_factory=dict)
    # for the spread policy: how much setting each pair side by side is worth, learned from a population's
    # answers (``scheduling_api.learn_contrast_weights``); empty: the course's declared confusable pairs decide
    pair_weights: Mapping[tuple[int, int], float] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySettings:
    """Teacher-tunable knobs (per class) plus the policy's own constants."""

    target_success: float = 0.7  # desirable difficulty: aim items at this P(correct)
    review_weight: float = 1.0  # how much fading skills are favoured over new ground
    skills_in_play: frozenset[int] | None = None  # None: every skill of the course
    mastery: float = 0.85  # P(correct) at which a skill counts as mastered
    prerequisite_ready: float = 0.55  # a prerequisite must be predicted at least this good
    review_below: float = 0.75  # predicted recall under which a practised skill is due
    exploration: float = 0.35
    horizon_days: float = 7.0  # expected_gain: the test it prepares for is this many days after now


@dataclass(frozen=True)
class Choice:
    skill_id: int
    target_difficulty: float | None  # None: any item of the skill will do
    reason: str
    kind: str = "practice"  # new | review | interleave | practice | explore | blocked | random | round_robin
    p_correct: float | None = None  # predicted P(correct) at the target difficulty

    def __post_init__(self) -> None:
        if self.target_difficulty is not None and not 0.0 <= self.target_difficulty <= 1.0:
            raise ValueError("target_difficulty must be within [0, 1]")


def _in_play(views: Sequence[SkillView], settings: PolicySettings) -> list[SkillView]:
    if settings.skills_in_play is None:
        return list(views)
    chosen = [v for v in views if v.skill_id in settings.skills_in_play]
    return chosen or list(views)


def _pct(p: float) -> str:
    return f"{round(100 * p)} %"


def _days(d: float) -> str:
    if d < 1 / 24:
        return f"{max(1, round(d * 24 * 60))} min"
    if d < 1:
        return f"{round(d * 24)} h"
    n = round(d)
    return f"{n} day" if n == 1 else f"{n} days"


# --- the policies -------------------------------------------------------------------------------


@dataclass
class _Scored:
    score: float
    view: SkillView
    kind: str
    reason: str = field(default="")


def _eligible(views: Sequence[SkillView], settings: PolicySettings) -> list[SkillView]:
    """Skills in play whose prerequisites are predicted solid (or practised 8 times); the least blocked if none."""
    pool = _in_play(views, settings)
    by_id = {v.skill_id: v for v in views}

    def ready(v: SkillView) -> bool:
        return all(
            p not in by_id or by_id[p].p_correct >= settings.prerequisite_ready or by_id[p].n_attempts >= 8
            for p in v.prerequisites
        )

    eligible = [v for v in pool if ready(v)]
    if not eligible:  # nothing is ready (a teacher picked advanced skills only): the least blocked
        fewest = min(sum(1 for p in v.prerequisites if p in by_id) for v in pool)
        eligible = [v for v in pool if sum(1 for p in v.prerequisites if p in by_id) == fewest]
    return eligible


def adaptive(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
    """Interleave, space by predicted forgetting, aim at desirable difficulty, respect prerequisites.

    Each eligible skill gets a score that adds up the reasons to practise it now:
    room to learn (1 - P), review urgency (predicted recall below ``review_below``),
    contrast with a confusable skill just practised, and an exploration bonus where the
    estimate is uncertain. A skill whose prerequisites are not yet predicted solid is not
    eligible; the skill just practised is skipped when anything else is eligible.
    """
    by_id = {v.skill_id: v for v in views}
    target = settings.target_success
    eligible = _eligible(views, settings)
    if len(eligible) > 1 and ctx.last_skill_id is not None:
        eligible = [v for v in eligible if v.skill_id != ctx.last_skill_id] or eligible
    last = by_id.get(ctx.last_skill_id) if ctx.last_skill_id is not None else None

    scored: list[_Scored] = []
    for v in eligible:
        if v.n_attempts == 0:
            # New ground: as much room to learn as the estimate says, plus the value of finding out.
            score = (1.0 - v.p_correct) + settings.exploration * v.uncertainty
            scored.append(_Scored(score, v, "new", f"new skill: {v.name}, prerequisites in place"))
            continue
        room = 1.0 - v.p_correct
        score = room
        kind = "practice"
        reason = f"practise {v.name}: predicted success {_pct(v.p_correct)}"
        due = max(0.0, settings.review_below - v.recall) / settings.review_below
        if due > 0 and v.days_since is not None:
            score += settings.review_weight * (0.2 + due)
            kind = "review"
            reason = f"review: {v.name} not practised for {_days(v.days_since)}, predicted recall {_pct(v.p_correct)}"
        elif v.p_correct >= settings.mastery and v.recall > settings.review_below:
            score -= 0.5  # mastered and fresh: leave it until it fades
        # Massed repetition adds little: discount a skill seen in the last couple of items.
        if v.items_since is not None and v.items_since < 2:
            score -= 0.25
        if last is not None and v.skill_id in last.confusable_with and last.n_attempts > 0:
            score += 0.35
            if kind != "review":
                kind = "interleave"
                reason = f"interleave: {v.name} right after the easily confused {last.name}"
        bonus = settings.exploration * v.uncertainty * (1.0 - abs(v.p_correct - target))
        if bonus > 0.25 and kind == "practice":
            kind = "explore"
            reason = f"explore: {v.name}, only {v.n_attempts} answer{'s' if v.n_attempts != 1 else ''} so far"
        scored.append(_Scored(score + bonus, v, kind, reason))
    for s in scored:
        # The student agreed to review this skill now: it comes before the policy's own reasons.
        if s.view.skill_id in ctx.agreed_reviews:
            s.score += AGREED_REVIEW_BONUS
            s.kind = "review"
            s.reason = f"review you agreed to: {s.view.name}, predicted success {_pct(s.view.p_correct)}"
    best_score = max(s.score for s in scored)
    # Ties (common at the start) break by course order, then at random.
    best = [s for s in scored if s.score >= best_score - 1e-9]
    top = min(best, key=lambda s: (s.view.position, rng.random()))
    d, p_at = aim(top.view.p_correct, target)
    reason = top.reason
    if top.kind in ("practice", "explore", "interleave"):
        reason += f"; item aimed at {_pct(p_at)} success"
    return Choice(skill_id=top.view.skill_id, target_difficulty=d, reason=reason, kind=top.kind, p_correct=p_at)


def _agreed_review(pool: Sequence[SkillView], ctx: Context, settings: PolicySettings) -> Choice | None:
    """The first skill in ``pool`` (course order) the student agreed to review now, aimed; None if there is none."""
    agreed = [v for v in pool if v.skill_id in ctx.agreed_reviews]
    if not agreed:
        return None
    v = min(agreed, key=lambda v: v.position)
    d, p_at = aim(v.p_correct, settings.target_success)
    return Choice(
        v.skill_id, d, f"review you agreed to: {v.name}, predicted success {_pct(v.p_correct)}", "review", p_at
    )


def expected_gain(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
    """Practise the skill where one more item now raises the predicted score at the test the most.

    For each eligible skill (prerequisites as for ``adaptive``) the item is aimed at the target
    success, and ``ctx.what_if`` forecasts P(correct) at the test (``horizon_days`` from now)
    after a right answer, after a wrong one, and without practice. The expected gain is
    P(right) x P(test | right) + P(wrong) x P(test | wrong) - P(test | not practised); the largest
    wins, ties by course order. No bonuses: spacing, review and new ground matter only as far as
    the forecast says they raise the test score. A review the student agreed to still comes first.
    """
    if ctx.what_if is None:
        raise ValueError("the expected_gain policy needs Context.what_if (the estimator's forecasts)")
    eligible = _eligible(views, settings)
    agreed = _agreed_review(eligible, ctx, settings)
    if agreed is not None:
        return agreed
    horizon = settings.horizon_days
    gains = []
    for v in eligible:
        d, p_at = aim(v.p_correct, settings.target_success)
        gains.append((ctx.what_if(v.skill_id, d, horizon).gain, v, d, p_at))
    best = max(g for g, *_ in gains)
    gain, v, d, p_at = min((g for g in gains if g[0] >= best - 1e-12), key=lambda g: g[1].position)
    when = "next week" if abs(horizon - 7.0) < 0.5 else f"in {_days(horizon)}"
    points = f"{100 * gain:.1f} point{'s' if round(100 * gain, 1) != 1 else ''}"
    if v.n_attempts == 0:
        kind, what = "new", f"start {v.name}"
    elif v.days_since is not None and v.recall < settings.review_below:
        kind, what = "review", f"review {v.name} (not practised for {_days(v.days_since)})"
    else:
        kind, what = "practice", f"practise {v.name}"
    reason = (
        f"{what}: one more item now should raise what you'll remember {when} by {points} "
        f"(the most of any skill ready now); item aimed at {_pct(p_at)} success"
    )
    return Choice(v.skill_id, d, reason, kind, p_at)


def blocked(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
    """Usual homework: one skill at a time in course order, ``budget_per_skill`` items each."""
    pool = sorted(_in_play(views, settings), key=lambda v: v.position)
    for v in pool:
        if v.n_attempts < ctx.budget_per_skill:
            return Choice(v.skill_id, None, f"blocked practice: {v.name}, item {v.n_attempts + 1}", "blocked")
    v = min(pool, key=lambda v: (v.n_attempts, v.position))
    return Choice(v.skill_id, None, f"blocked practice: {v.name} (extra)", "blocked")


def random_interleaving(
    views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random
) -> Choice:
    """Random interleaving: any skill in play, uniformly, whatever the student knows."""
    v = rng.choice(_in_play(views, settings))
    return Choice(v.skill_id, None, f"random interleaving: {v.name}", "random")


def round_robin(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
    """Fixed interleaving: cycle through the skills in course order (least practised first)."""
    pool = _in_play(views, settings)
    v = min(pool, key=lambda v: (v.n_attempts, v.position))
    return Choice(v.skill_id, None, f"round robin: {v.name}", "round_robin")


def round_robin_pairs(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
    """Round robin two items at a time: each skill twice in a row, the skills in course order.

    The second item of a pair comes straight after the first (the skill just practised with an odd
    number of items is served again); otherwise the least practised skill, in course order, as in
    ``round_robin``. A simple rule: in ``model.py``, where a switch of topic costs encoding and the
    second item is cued, it is the strongest simple rule in most settings at budget 100; under ACT-R
    it is far behind (see ``docs/scheduler.md``, "A stronger simple rule").
    """
    pool = _in_play(views, settings)
    last = next((v for v in pool if v.skill_id == ctx.last_skill_id), None)
    if last is not None and last.n_attempts % 2 == 1:
        return Choice(last.skill_id, None, f"round robin in pairs: {last.name}, the second of two", "round_robin")
    v = min(pool, key=lambda v: (v.n_attempts, v.position))
    return Choice(v.skill_id, None, f"round robin in pairs: {v.name}, the first of two", "round_robin")


def shuffled_round_robin(
    views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random
) -> Choice:
    """Cycles through every skill, each cycle in a fresh random order: any of the least practised, at random.

    Every skill comes once per cycle, as in ``round_robin`` (even spacing), but the order is
    shuffled every cycle, so over the cycles every pair of skills meets side by side, as with
    ``random``. The skill just practised is not served twice in a row when another is due.
    """
    due, _ = _due_this_round(_in_play(views, settings), ctx)
    v = rng.choice(due)
    return Choice(v.skill_id, None, f"shuffled round robin: {v.name}", "round_robin")


def _due_this_round(pool: Sequence[SkillView], ctx: Context) -> tuple[list[SkillView], int]:
    """The skills still due this round (the least practised), without the one just practised when another is
    due, and how many will still be due once one of them is served."""
    fewest = min(v.n_attempts for v in pool)
    due = [v for v in pool if v.n_attempts == fewest]
    left = len(due) - 1
    if len(due) > 1 and ctx.last_skill_id is not None:
        due = [v for v in due if v.skill_id != ctx.last_skill_id] or due
    return due, left


def skill_pair(a: int, b: int) -> tuple[int, int]:
    """The key of an unordered pair of skills in ``Context.contrasts``."""
    return (a, b) if a < b else (b, a)


def spread(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
    """Every skill once a round, in an order that sets every pair of skills side by side in turn.

    The core is a shuffled round robin: each round serves every skill in play once (even
    spacing, every skill every session), the skill just practised never twice in a row. Which
    of the skills still due this round comes next is chosen, not drawn: skills whose
    prerequisites are predicted solid come first, and among them the one least often practised
    right after the skill just practised, ties at random. Over the rounds every pair of skills is
    set against each other about equally often (the contrast that teaches which is which), and a
    declared confusable pair about ``SPREAD_CONFUSABLE_WEIGHT`` times as often as any other pair
    (its count is divided by that weight), without trusting the declaration entirely. When the
    context carries pair weights learned from earlier students' answers (``Context.pair_weights``),
    they replace the declaration: each pair's count is divided by its learned weight, so the pairs
    students were seen to confuse are set side by side more often.
    Items are aimed as adaptive aims them. A review the student agreed to comes first.
    """
    pool = _in_play(views, settings)
    target = settings.target_success
    agreed = _agreed_review(pool, ctx, settings)
    if agreed is not None:
        return agreed
    due, left = _due_this_round(pool, ctx)
    ready = {v.skill_id for v in _eligible(views, settings)}
    due = [v for v in due if v.skill_id in ready] or due
    last = next((v for v in views if v.skill_id == ctx.last_skill_id), None)

    def contrasts(v: SkillView) -> float:
        """How often ``v`` was practised right after the skill just practised, or the other way round."""
        if last is None or v.skill_id == last.skill_id:
            return 0.0
        pair = skill_pair(last.skill_id, v.skill_id)
        n = float(ctx.contrasts.get(pair, 0))
        if ctx.pair_weights:
            return n / ctx.pair_weights.get(pair, 1.0)
        return n / SPREAD_CONFUSABLE_WEIGHT if v.skill_id in last.confusable_with else n

    least = min(contrasts(v) for v in due)
    v = rng.choice([v for v in due if contrasts(v) <= least + 1e-9])
    d, p_at = aim(v.p_correct, target)
    aimed = f"item aimed at {_pct(p_at)} success"
    round_ = f"{left} more skill{'s' if left != 1 else ''} to go this round" if left else "the last of this round"
    if v.n_attempts == 0:
        return Choice(v.skill_id, d, f"new skill: {v.name} ({round_}); {aimed}", "new", p_at)
    if last is None or last.skill_id == v.skill_id:
        return Choice(v.skill_id, d, f"spread: {v.name}'s turn ({round_}); {aimed}", "practice", p_at)
    n = ctx.contrasts.get(skill_pair(last.skill_id, v.skill_id), 0)
    times = "never before" if n == 0 else "once before" if n == 1 else f"{n} times before"
    learned = ctx.pair_weights.get(skill_pair(last.skill_id, v.skill_id)) if ctx.pair_weights else None
    if learned is not None and learned >= SPREAD_OFTEN_CONFUSED:
        kind, what = "interleave", f"{v.name} right after {last.name}, which students often confuse with it"
    elif learned is None and v.skill_id in last.confusable_with:
        kind, what = "interleave", f"{v.name} right after the easily confused {last.name}"
    else:
        kind, what = "practice", f"{v.name} right after {last.name}"
    return Choice(v.skill_id, d, f"spread: {what}, set side by side {times} ({round_}); {aimed}", kind, p_at)


Policy = Callable[[Sequence[SkillView], Context, PolicySettings, random.Random], Choice]


def with_target(base: Policy) -> Policy:
    """``base``'s choice of skill, its item aimed at the target success exactly as the adaptive policy aims.

    The fair control for adaptive: without it a baseline gets items of uniformly random
    difficulty, and adaptive's lead mixes *which skill* with *how hard* (an audit found
    round-robin with this aiming beats adaptive in the simulator; issue 16).
    """

    def aimed(views: Sequence[SkillView], ctx: Context, settings: PolicySettings, rng: random.Random) -> Choice:
        choice = base(views, ctx, settings, rng)
        view = next(v for v in views if v.skill_id == choice.skill_id)
        d, p_at = aim(view.p_correct, settings.target_success)
        reason = f"{choice.reason}; item aimed at {_pct(p_at)} success"
        return Choice(choice.skill_id, d, reason, choice.kind, p_at)

    aimed.__name__ = f"{base.__name__}_with_target"
    aimed.__doc__ = f"{base.__doc__}\n\nItems aimed at the target success (``with_target``)."
    return aimed


POLICIES: dict[str, Policy] = {
    "adaptive": adaptive,
    "expected_gain": expected_gain,
    "spread": spread,
    "blocked": blocked,
    "random": random_interleaving,
    "round_robin": round_robin,
    "shuffled_round_robin": shuffled_round_robin,
    "round_robin_pairs": round_robin_pairs,
    # The simple rules with adaptive's own difficulty aiming: the baselines adaptive must beat.
    "blocked+target": with_target(blocked),
    "random+target": with_target(random_interleaving),
    "round_robin+target": with_target(round_robin),
    "shuffled_round_robin+target": with_target(shuffled_round_robin),
    "round_robin_pairs+target": with_target(round_robin_pairs),
}


def choose(
    policy: str,
    views: Sequence[SkillView],
    *,
    ctx: Context | None = None,
    settings: PolicySettings | None = None,
    rng: random.Random | None = None,
) -> Choice:
    """Run the named policy. Raises ``ValueError`` on an empty course or an unknown policy."""
    if not views:
        raise ValueError("no skills to choose from")
    try:
        fn = POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}") from None
    return fn(views, ctx or Context(), settings or PolicySettings(), rng or random.Random())


def views_from_estimator(
    estimator: SkillEstimator,
    skills: Sequence[SkillView],
    *,
    now: float,
    items_since: dict[int, int] | None = None,
    predictions: dict[int, float] | None = None,
) -> list[SkillView]:
    """Fill the structural ``skills`` with the estimator's state at ``now`` (``predictions`` override P)."""
    out = []
    for s in skills:
        est = estimator.get(s.skill_id)
        p = est.p_now(now)
        if predictions is not None and s.skill_id in predictions:
            p = predictions[s.skill_id]
        out.append(
            SkillView(
                skill_id=s.skill_id,
                name=s.name,
                position=s.position,
                prerequisites=s.prerequisites,
                confusable_with=s.confusable_with,
                n_attempts=est.n,
                days_since=None if est.last_t is None else max(0.0, now - est.last_t),
                items_since=None if items_since is None else items_since.get(s.skill_id),
                p_correct=p,
                recall=est.recall(now),
                uncertainty=est.uncertainty(),
            )
        )
    return out
