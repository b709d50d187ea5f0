"""A population of simulated students: the ground truth the scheduler is judged against.

Pure Python (no Django, no NumPy in the hot path: one student answers one item at a
time, and scalar ``math`` is several times faster than NumPy on scalars). Time is in
days. Each mechanism is a small, documented rule with the finding it comes from; the
parameter values of a setting live in ``SimSetting`` and the per-student
differences in ``StudentTraits``, so that a benchmark can vary one effect at a time.

Mechanisms (per student, per skill):

* knowledge ``k``: a logit contribution to P(correct), raised by practice with
  diminishing returns, more by successful effortful retrieval than by an easy one
  (desirable difficulty, Bjork 1994), and by corrective feedback after an error
  (Hattie & Timperley 2007; Pashler et al. 2005);
* forgetting: what was learned decays toward the prior level as a power law of the
  time since the last practice, ``R = (1 + t / (9 S))^-1`` (Wixted & Ebbesen 1991;
  the FSRS form, so ``S`` is the number of days until recall falls to 90 %);
  a successful retrieval multiplies ``S`` by more the lower ``R`` was, so spaced
  retrieval builds durable memory and massed retrieval barely does (Cepeda et al.
  2006; Latimier, Peyre & Ramus 2021, g = 0.74 spaced vs massed retrieval);
* confusion between similar skills: with an unsure discrimination ``D`` the student
  applies a confusable skill's procedure when nothing in the context says which skill
  an item needs. In a block the context says it (the previous item was the same
  skill), so blocked practice hides the confusion and never trains ``D``; practising
  a skill right after a confusable one trains it (discriminative-contrast account,
  Rohrer & Taylor 2007; Birnbaum et al. 2013; Brunmair & Richter 2019, g = 0.34 for
  maths). Switching between *unrelated* material costs a little encoding, which is
  why interleaving hurts vocabulary-like material in the meta-analysis;
* prerequisites: a skill is learned slowly while its prerequisites are weak;
* slips and guesses, response times (faster with fluency, slower errors), and
  confidence judgments with a per-student calibration bias and a fluency illusion
  in blocks (Kornell & Bjork 2008: blocked learners feel they learn more).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "SETTINGS",
    "Response",
    "SimSetting",
    "SimSkill",
    "SimulatedStudent",
    "StudentTraits",
    "population",
    "traits_sample",
]

MINUTE = 1.0 / (24 * 60)
# The context cues the skill when the previous item (of the same skill) was this recent.
CUE_WINDOW_DAYS = 10 * MINUTE


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True)
class SimSkill:
    """A skill as the simulator sees it: an id, what it builds on, what it is confused with."""

    skill_id: int
    prerequisites: tuple[int, ...] = ()
    confusable_with: tuple[int, ...] = ()


@dataclass(frozen=True)
class SimSetting:
    """Population-level parameters of one simulated world. Benchmarks vary one at a time."""

    name: str
    description: str
    # Forgetting: initial stability (days to 90 % recall) after a first encoding, and how
    # strongly an effortful retrieval multiplies it.
    stability_initial: float = 0.4
    stability_gain: float = 2.2
    stability_lapse: float = 0.5  # S multiplier after a failed retrieval
    # Confusion: probability of applying a confusable skill's procedure when uncued and D = 0.
    confusion: float = 0.2
    discrimination_rate: float = 0.12  # D gained per contrastive (interleaved) practice
    # Encoding cost of switching between unrelated skills (vocabulary-like material).
    switch_cost: float = 0.08
    # Acquisition.
    learn_rate: float = 0.55
    feedback_gain: float = 0.35  # fraction of a success's gain learned from corrective feedback
    knowledge_max: float = 4.0
    prior_knowledge: float = -1.6  # mean logit of an untaught skill
    difficulty_slope: float = 4.0  # logit change from the easiest to the hardest item


SETTINGS: dict[str, SimSetting] = {
    s.name: s
    for s in (
        SimSetting("maths", "Middle-school maths: moderate forgetting, confusable pairs (the default world)."),
        SimSetting(
            "strong-forgetting",
            "Memories fade twice as fast and grow more slowly with spaced retrieval.",
            stability_initial=0.2,
            stability_gain=1.6,
        ),
        SimSetting(
            "weak-forgetting",
            "Memories last three times as long: spacing matters less.",
            stability_initial=1.2,
            stability_gain=2.6,
        ),
        SimSetting(
            "strong-confusion",
            "Confusable skills are mixed up much more often and discriminated more slowly.",
            confusion=0.5,
            discrimination_rate=0.08,
        ),
        SimSetting(
            "weak-confusion",
            "Confusable skills are rarely mixed up: interleaving has little to offer.",
            confusion=0.08,
        ),
        SimSetting(
            "vocabulary",
            "Vocabulary-like material: hardly any confusion, a real cost to switching topics"
            " (where Brunmair & Richter 2019 find interleaving hurts).",
            confusion=0.05,
            switch_cost=0.35,
        ),
    )
}


@dataclass(frozen=True)
class StudentTraits:
    """One student's latent traits. Exposed so other benchmarks (strategy suggestions) can condition on them."""

    ability: float  # logit offset on every skill
    learn_rate: float  # multiplier on acquisition
    forgetting: float  # multiplier on stability (> 1 forgets more slowly)
    confusion: float  # multiplier on the probability of confusing similar skills
    discrimination: float  # multiplier on how fast contrast trains discrimination
    slip: float
    guess: float
    speed: float  # multiplier on response time (> 1 is slower)
    confidence_bias: float  # logit added to the student's sense of knowing (> 0 overconfident)
    confidence_noise: float  # logit noise of confidence judgments
    prior: tuple[float, ...] = field(default=())  # per-skill prior knowledge offsets, by skill index


def traits_sample(rng: random.Random, n_skills: int) -> StudentTraits:
    """Individual differences: every mechanism varies between students (log-normal multipliers)."""
    return StudentTraits(
        ability=rng.gauss(0.0, 0.8),
        learn_rate=math.exp(rng.gauss(0.0, 0.3)),
        forgetting=math.exp(rng.gauss(0.0, 0.35)),
        confusion=math.exp(rng.gauss(0.0, 0.3)),
        discrimination=math.exp(rng.gauss(0.0, 0.3)),
        slip=_clip(rng.betavariate(2, 30), 0.0, 0.25),
        guess=_clip(rng.betavariate(2, 14), 0.0, 0.35),
        speed=math.exp(rng.gauss(0.0, 0.3)),
        confidence_bias=rng.gauss(0.4, 0.6),
        confidence_noise=abs(rng.gauss(0.6, 0.2)),
        prior=tuple(rng.gauss(0.0, 0.5) for _ in range(n_skills)),
    )


@dataclass(frozen=True)
class Response:
    """What the tutor observes: the answer's correctness, the confidence given before it, the time taken."""

    correct: bool
    confidence: float
    response_time_s: float


@dataclass
class _SkillMemory:
    k_prior: float
    k: float
    stability: float = 0.0  # 0 until first encoded
    last_t: float | None = None
    discrimination: float = 0.0
    n: int = 0


class SimulatedStudent:
    """One simulated learner. Step API: ``present(skill, difficulty)`` then ``advance(days)``.

    ``p_correct`` and ``knowledge`` read the hidden truth; they are for the benchmark's
    post-test and for tests, never for a policy.
    """

    def __init__(
        self, *, traits: StudentTraits, skills: Sequence[SimSkill], setting: SimSetting, rng: random.Random
    ) -> None:
        self.traits = traits
        self.setting = setting
        self.skills = {s.skill_id: s for s in skills}
        self.now = 0.0
        self._rng = rng
        self._mem: dict[int, _SkillMemory] = {}
        for i, s in enumerate(skills):
            offset = traits.prior[i] if i < len(traits.prior) else 0.0
            k0 = setting.prior_knowledge + offset
            self._mem[s.skill_id] = _SkillMemory(k_prior=k0, k=k0)
        self._last_skill: int | None = None
        self._last_t = -math.inf
        self.n_presented = 0

    # --- hidden truth -------------------------------------------------------------

    def recall(self, skill_id: int, at: float | None = None) -> float:
        """Retrievability R of what was learned on the skill (1 right after practice)."""
        m = self._mem[skill_id]
        if m.last_t is None or m.stability <= 0:
            return 1.0
        dt = max(0.0, (self.now if at is None else at) - m.last_t)
        return 1.0 / (1.0 + dt / (9.0 * m.stability))

    def knowledge(self, skill_id: int, at: float | None = None) -> float:
        """Current knowledge logit of the skill after forgetting."""
        m = self._mem[skill_id]
        return m.k_prior + (m.k - m.k_prior) * self.recall(skill_id, at)

    def _p_solve(self, skill_id: int, difficulty: float, at: float | None = None) -> float:
        st = self.setting
        x = self.traits.ability + self.knowledge(skill_id, at) - st.difficulty_slope * (difficulty - 0.5)
        return _sigmoid(x)

    def _p_confuse(self, skill_id: int, cued: bool) -> float:
        skill = self.skills[skill_id]
        if cued or not skill.confusable_with:
            return 0.0
        d = self._mem[skill_id].discrimination
        return _clip(self.setting.confusion * self.traits.confusion * (1.0 - d), 0.0, 0.95)

    def p_correct(
        self, skill_id: int, difficulty: float = 0.5, *, cued: bool = False, at: float | None = None
    ) -> float:
        """P(correct) on an item; ``cued=False`` is a mixed test where nothing hints at the skill."""
        t = self.traits
        solve = t.guess + (1.0 - t.guess - t.slip) * self._p_solve(skill_id, difficulty, at)
        confuse = self._p_confuse(skill_id, cued)
        return (1.0 - confuse) * solve + confuse * t.guess

    # --- step API ---------------------------------------------------------------

    def advance(self, days: float) -> None:
        """Let time pass (between items, sessions, or before a delayed test)."""
        if days < 0:
            raise ValueError("time only moves forward")
        self.now += days

    def present(self, skill_id: int, difficulty: float, *, feedback: bool = True, learn: bool = True) -> Response:
        """The student answers one item now, then (with ``learn``) learns from it and its feedback.

        A test item is ``learn=False``: answered, nothing learned (a pure measurement).
        """
        if skill_id not in self._mem:
            raise KeyError(f"unknown skill {skill_id}")
        rng = self._rng
        t = self.traits
        difficulty = _clip(difficulty, 0.0, 1.0)
        cued = self._last_skill == skill_id and self.now - self._last_t <= CUE_WINDOW_DAYS
        p_solve = self._p_solve(skill_id, difficulty)
        confused = rng.random() < self._p_confuse(skill_id, cued)
        if confused:
            correct = rng.random() < t.guess
        else:
            correct = rng.random() < t.guess + (1.0 - t.guess - t.slip) * p_solve

        # Confidence: the sense of knowing ignores confusion, and a block feels fluent.
        felt = math.log(max(p_solve, 1e-6) / max(1.0 - p_solve, 1e-6)) + t.confidence_bias + (0.6 if cued else 0.0)
        confidence = _clip(_sigmoid(felt + rng.gauss(0.0, t.confidence_noise)), 0.01, 0.99)
        # Response time: ~25 s for an average item, faster with fluency, errors take longer.
        base = 25.0 * t.speed * math.exp(0.6 * (difficulty - 0.5) - 0.25 * _clip(self.knowledge(skill_id), -3, 4))
        rt = base * math.exp(rng.gauss(0.0, 0.35)) * (1.0 if correct else 1.3)

        if learn:
            self._learn(skill_id, p_solve=p_solve, correct=correct, confused=confused, feedback=feedback)
            self._last_skill = skill_id
            self._last_t = self.now
            self.n_presented += 1
        return Response(correct=correct, confidence=confidence, response_time_s=rt)

    def _prerequisite_factor(self, skill_id: int) -> float:
        """Learning slows while prerequisites are weak: 0.15 with none known, 1 once they are solid."""
        factor = 1.0
        for p in self.skills[skill_id].prerequisites:
            if p in self._mem:
                solid = self._p_solve(p, 0.5)
                factor = min(factor, _clip((solid - 0.25) / 0.45, 0.15, 1.0))
        return factor

    def _learn(self, skill_id: int, *, p_solve: float, correct: bool, confused: bool, feedback: bool) -> None:
        st = self.setting
        t = self.traits
        m = self._mem[skill_id]
        r = self.recall(skill_id)
        # What was forgotten is gone: practice rebuilds from today's level.
        m.k = self.knowledge(skill_id)
        switched = self._last_skill is not None and self._last_skill != skill_id
        related = self._last_skill in self.skills[skill_id].confusable_with if switched else False
        gain = st.learn_rate * t.learn_rate * self._prerequisite_factor(skill_id)
        if switched:
            gain *= 1.0 - st.switch_cost
        room = max(0.0, st.knowledge_max - m.k) / st.knowledge_max
        if correct and not confused:
            # Effortful success teaches more than an easy one (desirable difficulty).
            gain *= 0.5 + (1.0 - p_solve)
        else:
            gain *= st.feedback_gain if feedback else 0.05
        m.k += gain * room * 2.0

        # Memory stability: first encoding, then growth with effortful successful retrieval.
        if m.stability <= 0:
            m.stability = st.stability_initial * t.forgetting
        elif correct and not confused:
            m.stability *= 1.0 + st.stability_gain * (math.exp(2.5 * (1.0 - r)) - 1.0) * m.stability**-0.15
        else:
            m.stability = max(st.stability_initial * t.forgetting * 0.5, m.stability * st.stability_lapse)

        # Discrimination: trained by contrast with a confusable skill seen just before, or by
        # the feedback on a confusion error; a block (cued context) trains nothing.
        if related and self.now - self._last_t <= 3 * CUE_WINDOW_DAYS:
            gain_d = st.discrimination_rate * t.discrimination
            m.discrimination += gain_d * (1.0 - m.discrimination)
            other = self._mem[self._last_skill]  # type: ignore[index]
            other.discrimination += 0.5 * gain_d * (1.0 - other.discrimination)
        elif confused and feedback:
            m.discrimination += 0.5 * st.discrimination_rate * t.discrimination * (1.0 - m.discrimination)
        m.last_t = self.now
        m.n += 1


def population(
    *, n: int, skills: Sequence[SimSkill], setting: SimSetting | str = "maths", seed: int = 0, start: int = 0
) -> list[SimulatedStudent]:
    """Students ``start .. start+n-1``; student ``i`` is the same for the same (seed, i), whatever else runs."""
    world = SETTINGS[setting] if isinstance(setting, str) else setting
    students = []
    for i in range(start, start + n):
        traits = traits_sample(random.Random(f"traits-{seed}-{i}"), len(skills))
        students.append(
            SimulatedStudent(traits=traits, skills=skills, setting=world, rng=random.Random(f"responses-{seed}-{i}"))
        )
    return students


def setting_with(name: str, **changes: float) -> SimSetting:
    """A named setting with some parameters changed (for sensitivity checks)."""
    return replace(SETTINGS[name], **changes)  # type: ignore[arg-type]  # the fields changed are floats
