"""A second student simulator, from the literature: ACT-R memory with spacing-dependent decay, plus confusion.

The scheduler was not designed in this world, so a policy that wins here wins for reasons that do not
depend on ``model.py``'s own rules. Pure Python, no Django; the same step API as ``SimulatedStudent``
(``present``, ``advance``, ``p_correct``, ``now`` in days), so ``bench`` drives both alike.

Memory (Pavlik & Anderson 2005, Cognitive Science 29): every practice of a skill adds a trace; the
skill's activation at time t is ``m(t) = beta + ln(sum_i age_i ** -d_i)`` with ages in seconds, and
each trace's decay depends on the activation when it was laid down, ``d_i = c * exp(m_{i-1}) + alpha``
(``d_1 = alpha``): practice while the memory is strong decays fast, which is the spacing effect.
Recall is ``p = 1 / (1 + exp((tau + delta - m) / s))``, ``delta`` the item's difficulty shift.
Time away from practice counts as psychological time ``h`` times the clock (Anderson, Fincham &
Douglass 1999; Pavlik & Anderson 2008).

Discrimination (our functional form, fixed before any policy ran; the qualitative effect is Rohrer &
Taylor 2007 and Carvalho & Goldstone 2014): every pair of skills has a similarity drawn from this
simulator's own seed, never from the course's declared confusable pairs. On an item of skill A the
student applies skill B's rule instead with probability
``kappa * similarity(A, B) * p_B * exp(-lambda * contrasts(A, B))``, where ``p_B`` is B's own recall
(a rule not yet learned cannot intrude) and ``contrasts`` counts practices of one straight after the
other in a session (interleaving that sets A against B).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "SETTINGS",
    "ActrResponse",
    "ActrSetting",
    "ActrStudent",
    "ActrTraits",
    "activation",
    "population",
    "recall_probability",
    "similarities",
]

SECONDS_PER_DAY = 86400.0
# An ``advance`` longer than this is time outside the practice sessions (scaled by h).
SESSION_BREAK_DAYS = 1.0 / 24
# Difficulty is on [0, 1] with one unit = 4 logits of P(correct) (tutor.scheduling_api.ItemSpec);
# in activation that is 4 * s, so an item's threshold shift is 4 * s * (difficulty - 0.5).
LOGITS_PER_DIFFICULTY = 4.0
MIN_AGE_S = 1.0  # a trace is at least a second old when read (t ** -d is unbounded at 0)


@dataclass(frozen=True)
class ActrSetting:
    """Population-level parameters. Memory values are the published ones; the rest are ours (see the docs)."""

    name: str
    description: str
    c: float = 0.217  # decay scale (Pavlik & Anderson 2005)
    alpha: float = 0.177  # decay intercept (Pavlik & Anderson 2005)
    tau: float = -0.704  # retrieval threshold (Pavlik & Anderson 2005)
    s: float = 0.255  # noise: logistic scale of recall (Pavlik & Anderson 2005)
    h: float = 0.025  # psychological time per second outside the sessions (Pavlik & Anderson 2008)
    # Individual differences (ours): standard deviations of the per-student draws.
    alpha_sd: float = 0.025
    beta_sd: float = 0.15  # per-student activation offset
    beta_skill_sd: float = 0.10  # per-student, per-skill activation offset
    # Discrimination (ours): similarity ~ Beta(a, b) per pair, intrusion scale and contrast rate.
    similarity_a: float = 0.6
    similarity_b: float = 1.8
    confusion: float = 0.3  # kappa
    contrast_rate: float = 0.35  # lambda, per contrast
    guess: float = 0.05  # P(correct) with no usable rule


SETTINGS: dict[str, ActrSetting] = {
    s.name: s
    for s in (
        ActrSetting(
            "published",
            "ACT-R memory at Pavlik & Anderson's published values; skill similarities mostly low (the default).",
        ),
        ActrSetting(
            "similar",
            "The same memory; skills much more alike, so confusion matters more (similarity ~ Beta(2, 2)).",
            similarity_a=2.0,
            similarity_b=2.0,
        ),
    )
}


@dataclass(frozen=True)
class ActrTraits:
    """One student's parameters, drawn once before any policy runs."""

    alpha: float
    beta: float
    beta_skill: tuple[float, ...] = field(default=())  # by skill index
    confusion: float = 1.0  # multiplier on kappa


@dataclass(frozen=True)
class ActrResponse:
    """What the tutor observes. This model has no confidence judgments, so ``confidence`` is None."""

    correct: bool
    confidence: float | None = None


def recall_probability(m: float, *, tau: float, s: float) -> float:
    """Pavlik & Anderson's recall: logistic in activation around the threshold ``tau``, scale ``s``."""
    if m == -math.inf:
        return 0.0
    x = (tau - m) / s
    if x > 700:
        return 0.0
    return 1.0 / (1.0 + math.exp(x))


def activation(times: Sequence[float], decays: Sequence[float], now: float) -> float:
    """``ln(sum_i (now - t_i) ** -d_i)`` over traces laid down at ``times`` (seconds); -inf with none."""
    total = sum(max(MIN_AGE_S, now - t) ** -d for t, d in zip(times, decays, strict=True))
    return math.log(total) if total > 0 else -math.inf


def similarities(skill_ids: Sequence[int], *, setting: ActrSetting, seed: int) -> dict[tuple[int, int], float]:
    """Each unordered pair's similarity, from this simulator's seed and the skills' order only."""
    rng = random.Random(f"actr-similarity-{seed}")
    ids = list(skill_ids)
    out: dict[tuple[int, int], float] = {}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            sim = rng.betavariate(setting.similarity_a, setting.similarity_b)
            out[(a, b)] = out[(b, a)] = sim
    return out


def traits_sample(rng: random.Random, n_skills: int, setting: ActrSetting) -> ActrTraits:
    return ActrTraits(
        alpha=max(0.05, rng.gauss(setting.alpha, setting.alpha_sd)),
        beta=rng.gauss(0.0, setting.beta_sd),
        beta_skill=tuple(rng.gauss(0.0, setting.beta_skill_sd) for _ in range(n_skills)),
        confusion=math.exp(rng.gauss(0.0, 0.3)),
    )


@dataclass
class _Memory:
    beta: float
    times: list[float] = field(default_factory=list)  # psychological seconds
    decays: list[float] = field(default_factory=list)


class ActrStudent:
    """One simulated learner. ``p_correct`` reads the hidden truth, for the post-test and tests only."""

    def __init__(
        self,
        *,
        traits: ActrTraits,
        skill_ids: Sequence[int],
        similarity: dict[tuple[int, int], float],
        setting: ActrSetting,
        rng: random.Random,
    ) -> None:
        self.traits = traits
        self.setting = setting
        self.now = 0.0  # days on the clock
        self.psych = 0.0  # seconds of psychological time
        self._rng = rng
        self._similarity = similarity
        self._mem = {
            k: _Memory(beta=traits.beta + (traits.beta_skill[i] if i < len(traits.beta_skill) else 0.0))
            for i, k in enumerate(skill_ids)
        }
        self._contrasts: dict[tuple[int, int], int] = {}
        self._last_skill: int | None = None

    # --- hidden truth -------------------------------------------------------------

    def activation(self, skill_id: int) -> float:
        m = self._mem[skill_id]
        return m.beta + activation(m.times, m.decays, self.psych) if m.times else -math.inf

    def recall(self, skill_id: int, difficulty: float = 0.5) -> float:
        """P(the skill's own rule is retrieved) on an item of this difficulty, ignoring confusion."""
        st = self.setting
        delta = LOGITS_PER_DIFFICULTY * st.s * (difficulty - 0.5)
        return recall_probability(self.activation(skill_id), tau=st.tau + delta, s=st.s)

    def p_intrusion(self, skill_id: int) -> float:
        """P(another skill's rule is applied instead), on a mixed item where nothing cues the skill."""
        st = self.setting
        p_right = 1.0
        for other in self._mem:
            if other == skill_id:
                continue
            sim = self._similarity.get((skill_id, other), 0.0)
            if sim <= 0.0:
                continue
            x = self._contrasts.get((min(skill_id, other), max(skill_id, other)), 0)
            q = st.confusion * self.traits.confusion * sim * self.recall(other) * math.exp(-st.contrast_rate * x)
            p_right *= 1.0 - min(q, 1.0)
        return min(0.9, 1.0 - p_right)

    def p_correct(self, skill_id: int, difficulty: float = 0.5) -> float:
        """P(correct) on a mixed item: retrieve the rule, not be misled by a similar one, or guess."""
        g = self.setting.guess
        solve = (1.0 - self.p_intrusion(skill_id)) * self.recall(skill_id, difficulty)
        return g + (1.0 - g) * solve

    # --- step API ---------------------------------------------------------------

    def advance(self, days: float) -> None:
        """Let time pass; a break longer than an hour counts at the psychological rate ``h``."""
        if days < 0:
            raise ValueError("time only moves forward")
        self.now += days
        if days > SESSION_BREAK_DAYS:
            self.psych += days * SECONDS_PER_DAY * self.setting.h
            self._last_skill = None  # a new session: nothing was practised just before
        else:
            self.psych += days * SECONDS_PER_DAY

    def present(self, skill_id: int, difficulty: float, *, learn: bool = True) -> ActrResponse:
        """The student answers now; with ``learn`` the answer and its feedback lay down a trace."""
        if skill_id not in self._mem:
            raise KeyError(f"unknown skill {skill_id}")
        difficulty = min(1.0, max(0.0, difficulty))
        correct = self._rng.random() < self.p_correct(skill_id, difficulty)
        if learn:
            self._learn(skill_id)
        return ActrResponse(correct=correct)

    def _learn(self, skill_id: int) -> None:
        m = self._mem[skill_id]
        before = self.activation(skill_id)
        decay = self.traits.alpha if before == -math.inf else self.setting.c * math.exp(before) + self.traits.alpha
        m.times.append(self.psych)
        m.decays.append(decay)
        last = self._last_skill
        # A contrast: straight after a different skill in the same session.
        if last is not None and last != skill_id:
            key = (min(skill_id, last), max(skill_id, last))
            self._contrasts[key] = self._contrasts.get(key, 0) + 1
        self._last_skill = skill_id


def population(
    *, n: int, skill_ids: Sequence[int], setting: ActrSetting | str = "published", seed: int = 0, start: int = 0
) -> list[ActrStudent]:
    """Students ``start .. start+n-1``; student ``i`` is the same for the same (seed, i), whatever else runs.

    Similarities come from ``seed`` and the skills' order alone, and traits from (seed, i): both are
    fixed before any policy meets a student, and every policy meets the same ones.
    """
    world = SETTINGS[setting] if isinstance(setting, str) else setting
    sim = similarities(skill_ids, setting=world, seed=seed)
    return [
        ActrStudent(
            traits=traits_sample(random.Random(f"actr-traits-{seed}-{i}"), len(skill_ids), world),
            skill_ids=skill_ids,
            similarity=sim,
            setting=world,
            rng=random.Random(f"actr-responses-{seed}-{i}"),
        )
        for i in range(start, start + n)
    ]
