"""The scheduler as a black box: course structure, observed history and the time in; the next item and why out.

Pure Python: no Django, no database, no NumPy. ``manage.py simulate`` drives the scheduler
only through this module (an import-linter contract keeps it so), and any other student
simulator can drive it the same way. Inputs and outputs are frozen dataclasses; times are
days (floats) from any fixed origin the caller chooses.

Stable surface: ``CourseSpec``, ``SkillSpec``, ``ItemSpec``, ``Observation``, ``Decision``,
``Scheduler``, ``next_item``, ``learn_contrast_weights``, ``POLICY_NAMES`` and ``PolicySettings``.
What happens inside (the estimate, the scores) may change between versions; these signatures
should not.
"""

from __future__ import annotations

import bisect
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import tutor.policies as policies
from tutor.policies import PolicySettings

__all__ = [
    "POLICY_NAMES",
    "CourseSpec",
    "Decision",
    "ItemSpec",
    "Observation",
    "PolicySettings",
    "Scheduler",
    "SkillSpec",
    "learn_contrast_weights",
    "next_item",
    "skill_views",
]

POLICY_NAMES: tuple[str, ...] = tuple(policies.POLICIES)


@dataclass(frozen=True)
class SkillSpec:
    """A skill of the course; ``prerequisites`` are ids of skills it builds on."""

    skill_id: int
    name: str
    prerequisites: tuple[int, ...] = ()


@dataclass(frozen=True)
class ItemSpec:
    """An exercise. ``difficulty`` is on [0, 1], 0.5 middling; one unit is 4 logits of P(correct)."""

    item_id: str
    skill_id: int
    difficulty: float = 0.5


@dataclass(frozen=True)
class CourseSpec:
    """The course's structure. Skills in course order (earlier first when the policy has no preference).

    ``confusable_pairs`` are unordered: (a, b) also makes b confusable with a. ``contrast_weights``
    are (a, b, weight) triples learned from earlier students' answers (``learn_contrast_weights``):
    how much setting a and b side by side is worth relative to an average pair (1). The ``spread``
    policy reads them in place of the declared pairs; the other policies ignore them. Every skill
    needs at least one item. Raises ``ValueError`` on anything inconsistent, naming it.
    """

    skills: tuple[SkillSpec, ...]
    items: tuple[ItemSpec, ...]
    confusable_pairs: tuple[tuple[int, int], ...] = ()
    contrast_weights: tuple[tuple[int, int, float], ...] = ()

    def __post_init__(self) -> None:
        ids = [s.skill_id for s in self.skills]
        if not ids:
            raise ValueError("a course needs at least one skill")
        known = set(ids)
        if len(known) != len(ids):
            raise ValueError("skill ids must be unique")
        for s in self.skills:
            for p in s.prerequisites:
                if p not in known or p == s.skill_id:
                    raise ValueError(f"skill {s.skill_id}: prerequisite {p} is not another skill of the course")
        for a, b in self.confusable_pairs:
            if a not in known or b not in known or a == b:
                raise ValueError(f"confusable pair ({a}, {b}) must name two different skills of the course")
        seen_pairs: set[tuple[int, int]] = set()
        for a, b, weight in self.contrast_weights:
            if a not in known or b not in known or a == b:
                raise ValueError(f"contrast weight ({a}, {b}) must name two different skills of the course")
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"contrast weight ({a}, {b}): {weight} is not a positive number")
            if policies.skill_pair(a, b) in seen_pairs:
                raise ValueError(f"contrast weight ({a}, {b}) is given twice")
            seen_pairs.add(policies.skill_pair(a, b))
        item_ids = set()
        for item in self.items:
            if item.skill_id not in known:
                raise ValueError(f"item {item.item_id!r}: skill {item.skill_id} is not in the course")
            if not 0.0 <= item.difficulty <= 1.0:
                raise ValueError(f"item {item.item_id!r}: difficulty {item.difficulty} is outside [0, 1]")
            if item.item_id in item_ids:
                raise ValueError(f"item id {item.item_id!r} appears twice")
            item_ids.add(item.item_id)
        without = known - {i.skill_id for i in self.items}
        if without:
            raise ValueError(f"skills without items: {sorted(without)}")


@dataclass(frozen=True)
class Observation:
    """One answer the student gave: to which item, right or not, when (days), and how they felt about it.

    ``confidence`` (the rating given before answering, [0, 1]) and ``hints`` (hints opened) are
    part of the interface for learner models that read them; today's rule reads correctness,
    time and the item's difficulty only.
    """

    item_id: str
    skill_id: int
    correct: bool
    time: float
    confidence: float | None = None
    hints: int = 0


@dataclass(frozen=True)
class Decision:
    """The next item, with the reason a teacher (or a log) can read and the prediction behind it."""

    item_id: str
    skill_id: int
    reason: str
    kind: str  # new | review | interleave | practice | explore | blocked | random | round_robin
    difficulty: float  # the chosen item's
    p_correct: float  # predicted P(correct) on the chosen item now
    target_difficulty: float | None = None  # what the policy aimed at (None: any item of the skill)


def skill_views(course: CourseSpec) -> list[policies.SkillView]:
    """The course as a policy sees it before any answer (the mapper from this API to ``tutor.policies``)."""
    confusable: dict[int, list[int]] = {s.skill_id: [] for s in course.skills}
    for a, b in course.confusable_pairs:
        if b not in confusable[a]:
            confusable[a].append(b)
        if a not in confusable[b]:
            confusable[b].append(a)
    return [
        policies.SkillView(
            skill_id=s.skill_id,
            name=s.name,
            position=i,
            prerequisites=s.prerequisites,
            confusable_with=tuple(confusable[s.skill_id]),
        )
        for i, s in enumerate(course.skills)
    ]


class Scheduler:
    """Chooses the next item for one student; call ``next_item`` with the whole history every time.

    The history is append-only: the scheduler folds in only the observations it has not seen
    (checked at the first and last ones it folded; anything else rebuilds from scratch), so a
    long practice costs O(1) per choice. Deterministic for a given ``rng`` state. One instance per
    student; not thread-safe.
    """

    def __init__(
        self,
        course: CourseSpec,
        *,
        policy: str = "adaptive",
        settings: PolicySettings | None = None,
        block_length: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        if policy not in policies.POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICY_NAMES)}")
        if block_length < 1:
            raise ValueError("block_length must be at least 1")
        self.course = course
        self.policy = policy
        self.settings = settings or PolicySettings()
        self.block_length = block_length  # items per skill for the blocked rules
        self._rng = rng or random.Random(0)
        self._structure = skill_views(course)
        self._items: dict[str, ItemSpec] = {i.item_id: i for i in course.items}
        self._by_skill: dict[int, list[ItemSpec]] = {}
        for item in course.items:
            self._by_skill.setdefault(item.skill_id, []).append(item)
        # Each item's (difficulty, course order): unseen items are kept sorted by it for a nearest-target search.
        self._key = {i.item_id: (i.difficulty, n) for n, i in enumerate(course.items)}
        self._pair_weights = {policies.skill_pair(a, b): w for a, b, w in course.contrast_weights}
        self._reset()

    def _reset(self) -> None:
        self._estimator = policies.SkillEstimator(v.skill_id for v in self._structure)
        self._folded = 0
        self._first: Observation | None = None
        self._last: Observation | None = None
        self._skill_at: dict[int, int] = {}  # skill -> index of its latest observation
        self._item_at: dict[str, int] = {}  # item -> index of its latest observation
        self._contrasts: dict[tuple[int, int], int] = {}  # skill pair -> answered one straight after the other
        self._unseen = {
            skill: sorted((self._key[i.item_id], i) for i in items) for skill, items in self._by_skill.items()
        }

    def _fold(self, history: Sequence[Observation]) -> None:
        n = self._folded
        if n and (len(history) < n or history[0] != self._first or history[n - 1] != self._last):
            self._reset()  # not an extension of what was folded: start again
            n = 0
        for i in range(n, len(history)):
            obs = history[i]
            item = self._items.get(obs.item_id)
            if item is None:
                raise ValueError(f"history[{i}]: item {obs.item_id!r} is not in the course")
            if item.skill_id != obs.skill_id:
                raise ValueError(
                    f"history[{i}]: item {obs.item_id!r} belongs to skill {item.skill_id}, not {obs.skill_id}"
                )
            if self._last is not None and obs.time < self._last.time:
                raise ValueError(f"history[{i}]: time {obs.time} is before the answer preceding it")
            self._estimator.observe(obs.skill_id, correct=obs.correct, now=obs.time, difficulty=item.difficulty)
            if self._last is not None and self._last.skill_id != obs.skill_id:
                pair = policies.skill_pair(self._last.skill_id, obs.skill_id)
                self._contrasts[pair] = self._contrasts.get(pair, 0) + 1
            self._skill_at[obs.skill_id] = i
            if obs.item_id not in self._item_at:
                unseen = self._unseen[obs.skill_id]
                del unseen[bisect.bisect_left(unseen, (self._key[obs.item_id],))]
            self._item_at[obs.item_id] = i
            if i == 0:
                self._first = obs
            self._last = obs
        self._folded = len(history)

    def next_item(self, history: Sequence[Observation], *, now: float) -> Decision:
        """The item to serve at ``now`` (days, the history's clock), given every answer so far, oldest first."""
        self._fold(history)
        if self._last is not None and now < self._last.time:
            raise ValueError(f"now={now} is before the last answer ({self._last.time})")
        n = self._folded
        views = policies.views_from_estimator(
            self._estimator,
            self._structure,
            now=now,
            items_since={s: n - j - 1 for s, j in self._skill_at.items()},
        )
        last = self._last
        choice = policies.choose(
            self.policy,
            views,
            ctx=policies.Context(
                last_skill_id=None if last is None else last.skill_id,
                budget_per_skill=self.block_length,
                contrasts=self._contrasts,
                pair_weights=self._pair_weights,
                what_if=lambda skill, d, days: self._estimator.forecast(skill, now=now, at=now + days, difficulty=d),
            ),
            settings=self.settings,
            rng=self._rng,
        )
        item = self._item_for(choice, avoid=None if last is None else last.item_id)
        p = self._estimator.p_correct(choice.skill_id, now, item.difficulty)
        return Decision(
            item_id=item.item_id,
            skill_id=item.skill_id,
            reason=choice.reason,
            kind=choice.kind,
            difficulty=item.difficulty,
            p_correct=p,
            target_difficulty=choice.target_difficulty,
        )

    def _item_for(self, choice: policies.Choice, *, avoid: str | None) -> ItemSpec:
        """Unseen items first, then the least recently seen; nearest the target, or any when there is none.

        As the product serves authored items, except that "any item will do" draws at random (a homework
        set in shuffled order) rather than at middling difficulty.
        """
        target = choice.target_difficulty
        unseen = self._unseen[choice.skill_id]  # the item just answered is seen, so never among them
        if unseen:
            if target is None:
                return self._rng.choice(unseen)[1]
            k = bisect.bisect_left(unseen, ((target, -1),))  # the first at or above the target
            near = unseen[k : k + 1]
            if k:  # and the first in course order of those just below it
                near.append(unseen[bisect.bisect_left(unseen, ((unseen[k - 1][0][0], -1),))])
            return min(near, key=lambda e: (abs(e[0][0] - target), e[0][1]))[1]
        items = self._by_skill[choice.skill_id]
        pool = [i for i in items if i.item_id != avoid] or items
        oldest = min(self._item_at[i.item_id] for i in pool)
        return next(i for i in pool if self._item_at[i.item_id] == oldest)


# learn_contrast_weights: a learned weight is 1 + CONTRAST_STRENGTH standard deviations of the pair's effect
# above the average pair's, and never below CONTRAST_FLOOR (chosen on seed 7; docs/scheduler.md).
CONTRAST_STRENGTH = 1.0
CONTRAST_FLOOR = 0.1
# Strata with fewer answers than this (a skill's n-th answer, n rarely reached) are left out.
CONTRAST_MIN_STRATUM = 5


class _Stratum:
    """Running sums of one stratum of ``learn_contrast_weights``."""

    __slots__ = ("n", "sc", "scx", "sx", "sxx")

    def __init__(self, m: int) -> None:
        self.n = 0
        self.sc = 0.0
        self.sx = [0.0] * m
        self.sxx = [0.0] * m
        self.scx = [0.0] * m

    def add(self, c: float, xs: Sequence[int]) -> None:
        self.n += 1
        self.sc += c
        for b, x in enumerate(xs):
            if x:
                self.sx[b] += x
                self.sxx[b] += x * x
                self.scx[b] += c * x


def learn_contrast_weights(
    course: CourseSpec, histories: Sequence[Sequence[Observation]]
) -> tuple[tuple[int, int, float], ...]:
    """Which pairs of skills students confuse, read off earlier students' answers: weights for ``CourseSpec``.

    A natural experiment: under an interleaving rule that shuffles its order (``shuffled_round_robin``),
    students reach their n-th answer on skill A having practised A straight after (or before) each other
    skill B a varying number of times. Within each stratum (A, n), the slope of A's correctness on that
    count, pooled over strata, is how much setting A against B helps A; a pair's effect is the mean of
    its two directions. Pairs whose contrasts help most are the ones students confuse. The effects are
    standardised (weight ``1 + CONTRAST_STRENGTH * z``, at least ``CONTRAST_FLOOR``), so a course where
    no pair stands out gets weights near 1 (spread's even rotation). Returns () when the histories
    are too few to compare any pair. Raises ``ValueError`` on an answer to a skill not in the course.
    """
    skill_ids = [s.skill_id for s in course.skills]
    col = {k: j for j, k in enumerate(skill_ids)}
    m = len(skill_ids)
    # Sufficient statistics per stratum (skill A, answers on A so far), streamed so memory stays flat:
    # answers, right answers, and per other skill B the sums of x, x^2 and right * x, where x counts the
    # times A and B were answered one straight after the other before this answer.
    sums: dict[tuple[int, int], _Stratum] = {}
    for h, history in enumerate(histories):
        counts = [[0] * m for _ in range(m)]
        answered = [0] * m
        last: int | None = None
        for i, obs in enumerate(history):
            a = col.get(obs.skill_id)
            if a is None:
                raise ValueError(f"histories[{h}][{i}]: skill {obs.skill_id} is not in the course")
            stratum = sums.get((a, answered[a]))
            if stratum is None:
                stratum = sums[(a, answered[a])] = _Stratum(m)
            stratum.add(1.0 if obs.correct else 0.0, counts[a])
            answered[a] += 1
            if last is not None and last != a:
                counts[a][last] += 1
                counts[last][a] += 1
            last = a
    cov: dict[tuple[int, int], float] = {}
    var: dict[tuple[int, int], float] = {}
    for (a, _), st in sums.items():
        if st.n < CONTRAST_MIN_STRATUM:
            continue
        for b in range(m):
            if b != a:
                cov[(a, b)] = cov.get((a, b), 0.0) + st.scx[b] - st.sc * st.sx[b] / st.n
                var[(a, b)] = var.get((a, b), 0.0) + st.sxx[b] - st.sx[b] * st.sx[b] / st.n
    slope = {k: cov[k] / var[k] for k in cov if var[k] > 1e-12}
    effect = {}
    for i in range(m):
        for j in range(i + 1, m):
            both = [slope[k] for k in ((i, j), (j, i)) if k in slope]
            if both:
                effect[policies.skill_pair(skill_ids[i], skill_ids[j])] = statistics.fmean(both)
    if len(effect) < 2:
        return ()
    mean, sd = statistics.fmean(effect.values()), statistics.pstdev(effect.values())
    return tuple(
        (a, b, max(CONTRAST_FLOOR, 1.0 + CONTRAST_STRENGTH * ((e - mean) / sd if sd > 0 else 0.0)))
        for (a, b), e in sorted(effect.items())
    )


def next_item(
    course: CourseSpec,
    history: Sequence[Observation],
    *,
    now: float,
    policy: str = "adaptive",
    settings: PolicySettings | None = None,
    block_length: int = 10,
    rng: random.Random | None = None,
) -> Decision:
    """One choice from scratch (the history replayed): the same answer as a ``Scheduler`` in the same state."""
    scheduler = Scheduler(course, policy=policy, settings=settings, block_length=block_length, rng=rng)
    return scheduler.next_item(history, now=now)
