"""Simulated students whose learning a suggested strategy changes, for the strategy benchmark. No Django.

Students come from the shared student simulator (``tutor.simulator``: latent traits, learning, forgetting,
confusion, confidence with a calibration bias). They practise sessions of 8 items there; after each session
the policy suggests a strategy, sees only the context ``metacog.context`` computes from the simulated answers
(the code the app runs), and the student uses the strategy in the next session. Using it *changes how the
student learns in that session* (``session_run``): retrieval practice strengthens encoding and retention,
a spacing plan splits the session over two days, interleaving mixes confusable skills, self-explanation
lowers confusion errors, a calibration check shrinks over-confidence, and so on (``MECHANISMS``). A
suggestion is judged on the delayed post-test a week after the last session (hidden truth), not on the
reward the policy observes.

How much a strategy changes learning is an *effect* ``e`` per student, strategy and step: the published
population effect size (``EFFECTS``, cited in docs/metacognition.md) plus moderation by the student's traits
(``EffectStructure``) plus an idiosyncratic part no context reveals. A session with the strategy multiplies
the learning parameters its mechanism names by ``m = 1 + scale · e`` (clipped to 0.25..3); each ``scale``
(``MECHANISM_SCALE``) is calibrated so that using the strategy in every session moves the delayed post-test
by its published size. That conversion from a published size to a mechanism is this simulator's assumption.
All parameters are fixed here, in code, before any policy runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from tutor.simulator import SimSkill, SimulatedStudent, population

from .catalog import SLUGS
from .context import AnswerRecord, context_from_answers

MINUTE = 1.0 / (24 * 60)
ITEMS_PER_SESSION = 8
WARMUP_SESSIONS = 3
POST_TEST_DELAY_DAYS = 7.0
IDIOSYNCRATIC_SD = 0.15  # per-student, per-strategy part of the effect that no trait explains
EFFECT_CLIP = (0.25, 3.0)  # the multiplier 1 + e stays in this range


@dataclass(frozen=True)
class StrategyEffect:
    g: float  # population mean effect on a delayed test (standardised), from ``source``
    source: str
    moderators: dict[str, float]  # the linear structure: change of e per standard deviation of a driver


# Drivers (standardised, mean 0, sd ≈ 1): z_acc current true accuracy; z_bias over-confidence; z_forget fast
# forgetting; z_confuse mixing up similar skills; z_slip careless slips; z_slow_learner low learning rate;
# z_fast quick responder. The moderators have the shape of the previous benchmark's effects (×10, in g units).
EFFECTS: dict[str, StrategyEffect] = {
    "practice_testing": StrategyEffect(0.50, "Rowland 2014 g = 0.50 (Adesope et al. 2017: 0.61)", {"z_acc": 0.1}),
    "spacing": StrategyEffect(0.46, "Cepeda et al. 2006; Donovan & Radosevich 1999 d = 0.46", {"z_forget": 0.35}),
    "interleaving": StrategyEffect(
        0.34, "Brunmair & Richter 2019, mathematics g = 0.34", {"z_confuse": 0.35, "z_acc": 0.1}
    ),
    "self_explanation": StrategyEffect(0.55, "Bisra et al. 2018 g = 0.55", {"z_slow_learner": 0.25, "z_slip": 0.15}),
    "elaborative_interrogation": StrategyEffect(0.25, "Dunlosky et al. 2013 moderate (assumed size)", {"z_acc": 0.3}),
    "worked_examples": StrategyEffect(0.30, "expertise reversal, Kalyuga 2007 (assumed size)", {"z_acc": -0.4}),
    "concrete_examples": StrategyEffect(0.15, "assumed size", {"z_acc": -0.2}),
    "calibration_check": StrategyEffect(0.05, "Dunlosky & Rawson 2012 (assumed size)", {"z_bias": 0.5}),
    "slow_down": StrategyEffect(0.0, "assumed size", {"z_slip": 0.4, "z_fast": 0.2}),
    "help_seeking": StrategyEffect(0.10, "Aleven et al. 2003 (assumed size)", {"z_acc": -0.2}),
    "rereading": StrategyEffect(0.05, "Dunlosky et al. 2013 low; Callender & McDaniel 2009", {}),
    "summarisation": StrategyEffect(0.08, "Dunlosky et al. 2013 low", {}),
}
assert tuple(EFFECTS) == SLUGS

# What a strategy changes in the session it is used in (see ``session_run``).
MECHANISMS: dict[str, str] = {  # m = 1 + MECHANISM_SCALE[strategy] · e, for the session it is used in
    "practice_testing": "retrieval instead of looking up: learning rate and stability growth × m",
    "spacing": "half the session moves to a second sitting a day later, on the same skills; stability growth × m",
    "interleaving": "items alternate between confusable skills; discrimination learning × m",
    "self_explanation": "confusion errors ÷ m; discrimination learning × m; learning rate × √m",
    "elaborative_interrogation": "learning rate × m",
    "worked_examples": "learning from feedback × m; learning rate × √m",
    "concrete_examples": "learning rate × m",
    "calibration_check": "confidence bias × (2 − m), its noise ÷ m; learning rate × m (study not ended too early)",
    "slow_down": "careless slips × (2 − m), answers slower; learning rate × √m",
    "help_seeking": "learning from feedback × m",
    "rereading": "learning rate × m",
    "summarisation": "learning rate × m",
}
assert tuple(MECHANISMS) == SLUGS

# How strongly a unit of effect drives each mechanism (m = 1 + scale · e), set by ``mechanism_calibrate`` so
# that using a strategy in every session moves the delayed post-test by its published size: gain ≈ g × the
# control post-test's standard deviation between students. Calibrated once, on seeds 500+, before any policy
# ran; slow_down (g = 0) keeps 1, and a strategy whose target needs more than the cap keeps the cap.
MECHANISM_SCALE: dict[str, float] = {
    "practice_testing": 0.941,
    "spacing": 3.637,
    "interleaving": 1.48,
    "self_explanation": 1.949,
    "elaborative_interrogation": 1.52,
    "worked_examples": 2.285,
    "concrete_examples": 1.457,
    "calibration_check": 4.0,  # capped: g = 0.05 is not reached (the weakest strategies, with rereading)
    "slow_down": 1.0,
    "help_seeking": 4.0,  # capped
    "rereading": 4.0,  # capped
    "summarisation": 1.52,
}
assert tuple(MECHANISM_SCALE) == SLUGS
MECHANISM_SCALE_CAP = 4.0

VISIBLE_DRIVERS = ("z_acc", "z_bias", "z_slip")  # the context shows these fairly directly
BARELY_VISIBLE = ("z_forget", "z_confuse", "z_slow_learner", "z_fast")  # weakly or not at all
# The "hidden" structure moves each moderator to a barely visible driver (same size).
HIDDEN_MAP = {
    "z_acc": "z_slow_learner",
    "z_bias": "z_fast",
    "z_slip": "z_forget",
    "z_forget": "z_confuse",
    "z_confuse": "z_forget",
    "z_slow_learner": "z_fast",
    "z_fast": "z_slow_learner",
}


@dataclass(frozen=True)
class EffectStructure:
    name: str
    description: str
    moderation_scale: float
    hidden: bool = False

    def moderators(self, slug: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for driver, c in EFFECTS[slug].moderators.items():
            key = HIDDEN_MAP[driver] if self.hidden else driver
            out[key] = out.get(key, 0.0) + self.moderation_scale * c
        return out


STRUCTURES: dict[str, EffectStructure] = {
    s.name: s
    for s in (
        EffectStructure("linear", "effects moderated by traits, mostly ones the context shows", 1.0),
        EffectStructure("halved", "the same moderation at half strength", 0.5),
        EffectStructure("hidden", "moderation of the same size by traits the context barely shows", 1.0, True),
        EffectStructure("none", "no moderation: only the population effect and an idiosyncratic part", 0.0),
    )
}


def skills_default() -> list[SimSkill]:
    return [
        SimSkill(0, confusable_with=(1,)),
        SimSkill(1, prerequisites=(0,), confusable_with=(0,)),
        SimSkill(2, confusable_with=(3,)),
        SimSkill(3, prerequisites=(2,), confusable_with=(2,)),
    ]


def drivers_of(student: SimulatedStudent) -> dict[str, float]:
    """The student's standardised traits (z_acc, which changes as they learn, is added per step)."""
    tr = student.traits
    return {
        "z_bias": (tr.confidence_bias - 0.4) / 0.6,
        "z_forget": -math.log(tr.forgetting) / 0.35,
        "z_confuse": math.log(tr.confusion) / 0.3,
        "z_slip": (tr.slip - 0.0625) / 0.04,
        "z_slow_learner": -math.log(tr.learn_rate) / 0.3,
        "z_fast": -math.log(tr.speed) / 0.3,
    }


def true_accuracy(student: SimulatedStudent) -> float:
    """Hidden truth: mean P(correct) over the skills on a mixed (uncued) item of middle difficulty, now."""
    ids = list(student.skills)
    return sum(student.p_correct(s) for s in ids) / len(ids)


def effects_now(student: SimulatedStudent, structure: EffectStructure, idio: np.ndarray) -> np.ndarray:
    """e for every strategy (K,) for this student now: population size + moderation + idiosyncratic part."""
    z = dict(drivers_of(student), z_acc=(true_accuracy(student) - 0.6) / 0.15)
    out = np.empty(len(SLUGS))
    for k, slug in enumerate(SLUGS):
        out[k] = EFFECTS[slug].g + sum(c * z[f] for f, c in structure.moderators(slug).items()) + idio[k]
    return out


def idiosyncratic(*, seed: int, student: int) -> np.ndarray:
    """The student's own part of each strategy's effect (K,), fixed by (seed, student)."""
    return np.random.default_rng([seed, student, 7919]).normal(0.0, IDIOSYNCRATIC_SD, len(SLUGS))


def _order(student: SimulatedStudent, rng: random.Random, n: int, *, interleave: bool) -> list[int]:
    ids = sorted(student.skills)
    if not interleave:
        return [ids[rng.randrange(len(ids))] for _ in range(n)]
    # Alternate a skill with one it is confused with (discriminative contrast).
    out: list[int] = []
    while len(out) < n:
        a = ids[rng.randrange(len(ids))]
        partners = student.skills[a].confusable_with or (a,)
        out += [a, partners[rng.randrange(len(partners))]]
    return out[:n]


def session_run(
    student: SimulatedStudent,
    *,
    session: int,
    rng: random.Random,
    strategy: str | None = None,
    effect: float = 0.0,
    history: list[AnswerRecord] | None = None,
) -> list[AnswerRecord]:
    """One practice session; with ``strategy``, the student learns in it as the strategy's mechanism says."""
    scale = MECHANISM_SCALE.get(strategy, 1.0) if strategy is not None else 1.0
    m = min(max(1.0 + scale * effect, EFFECT_CLIP[0]), EFFECT_CLIP[1])
    setting, traits = student.setting, student.traits
    st, tr = setting, traits
    if strategy == "practice_testing":
        st = replace(st, learn_rate=st.learn_rate * m, stability_gain=st.stability_gain * m)
    elif strategy == "spacing":
        st = replace(st, stability_gain=st.stability_gain * m)
    elif strategy == "interleaving":
        st = replace(st, discrimination_rate=st.discrimination_rate * m)
    elif strategy == "self_explanation":
        st = replace(st, discrimination_rate=st.discrimination_rate * m, learn_rate=st.learn_rate * math.sqrt(m))
        tr = replace(tr, confusion=tr.confusion / m)
    elif strategy == "worked_examples":
        st = replace(st, feedback_gain=min(1.0, st.feedback_gain * m), learn_rate=st.learn_rate * math.sqrt(m))
    elif strategy == "calibration_check":
        st = replace(st, learn_rate=st.learn_rate * m)
        tr = replace(
            tr, confidence_bias=tr.confidence_bias * max(0.0, 2.0 - m), confidence_noise=tr.confidence_noise / m
        )
    elif strategy == "slow_down":
        st = replace(st, learn_rate=st.learn_rate * math.sqrt(m))
        tr = replace(tr, slip=tr.slip * min(1.0, max(0.0, 2.0 - m)), speed=tr.speed * m)
    elif strategy == "help_seeking":
        st = replace(st, feedback_gain=min(1.0, st.feedback_gain * m))
    elif strategy in ("elaborative_interrogation", "concrete_examples", "rereading", "summarisation"):
        st = replace(st, learn_rate=st.learn_rate * m)
    elif strategy is not None and strategy not in SLUGS:
        raise KeyError(f"unknown strategy {strategy!r}")
    student.setting, student.traits = st, tr
    names = {s: f"skill-{s}" for s in student.skills}
    out: list[AnswerRecord] = []
    try:
        order = _order(student, rng, ITEMS_PER_SESSION, interleave=strategy == "interleaving")
        if strategy == "spacing":  # the second half returns to the first half's skills a day later
            half = ITEMS_PER_SESSION // 2
            order = order[:half] + order[:half]
        for j, sid in enumerate(order):
            if strategy == "spacing" and j == ITEMS_PER_SESSION // 2:
                student.advance(1.0)
            r = student.present(sid, rng.uniform(0.3, 0.7))
            out.append(
                AnswerRecord(
                    correct=r.correct,
                    confidence=r.confidence,
                    skill=names[sid],
                    session=session,
                    response_time_ms=int(r.response_time_s * 1000),
                )
            )
            student.advance(MINUTE)
    finally:
        student.setting, student.traits = setting, traits
    if history is not None:
        history.extend(out)
    return out


def post_test(student: SimulatedStudent) -> float:
    """The delayed post-test, in points (0–100): hidden expected accuracy a week after the last session."""
    at = student.now + POST_TEST_DELAY_DAYS
    ids = list(student.skills)
    return 100.0 * sum(student.p_correct(s, at=at) for s in ids) / len(ids)


# A chooser gets, per step, the contexts (B, d) of the students still to be served and returns arm indices
# (B,); after the session it is told the observed rewards (B,). None means "no strategy" (the control).
Chooser = Callable[[int, np.ndarray], np.ndarray]
Updater = Callable[[int, np.ndarray, np.ndarray, np.ndarray], None]


@dataclass
class EpisodeResult:
    post_test: np.ndarray  # (S,) delayed post-test points
    chosen: np.ndarray  # (S, T) arm index, −1 for none
    contexts: np.ndarray  # (S, T, d) what the policy saw
    rewards: np.ndarray  # (S, T) what the policy observed
    effects: np.ndarray  # (S, T, K) the hidden effect of every strategy at each step


def episodes_run(
    *,
    n: int,
    seed: int,
    structure: EffectStructure,
    steps: int,
    choose: Callable[[int, np.ndarray], np.ndarray] | None,
    update: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
    start: int = 0,
    need_contexts: bool = True,
    world: str = "maths",
    outcome_delay: int = 0,
) -> EpisodeResult:
    """Students ``start..start+n-1`` of ``seed``: warm-up, then ``steps`` suggestion → session rounds, then
    the delayed post-test. ``choose(t, contexts)`` → arms (B,); ``update(t, contexts, arms, rewards)``.

    The observed reward of suggestion t: accuracy in session t + ``outcome_delay`` (0: the session the
    strategy was used in, what the app measures today; 1: the next one, a day or two later) minus the
    accuracy predicted when suggesting (the context's observed, smoothed accuracy); ``update`` gets it once it
    exists, so with a delay of 1 the last suggestion's outcome is never seen. Students with the same
    (seed, index) have the same traits and start from the same random stream whatever the policy.
    """
    skills = skills_default()
    students = population(n=n, skills=skills, setting=world, seed=seed, start=start)
    d = len(context_from_answers([]).vector())
    contexts = np.zeros((n, steps, d))
    chosen = np.full((n, steps), -1, dtype=int)
    rewards = np.zeros((n, steps))
    effects = np.zeros((n, steps, len(SLUGS)))
    histories: list[list[AnswerRecord]] = [[] for _ in range(n)]
    rngs = [random.Random(f"strategy-order-{seed}-{start + i}") for i in range(n)]
    idio = [idiosyncratic(seed=seed, student=start + i) for i in range(n)]
    for i, s in enumerate(students):
        for w in range(WARMUP_SESSIONS):
            session_run(s, session=w, rng=rngs[i], history=histories[i])
            s.advance(1.0 + rngs[i].random())
    if outcome_delay not in (0, 1):
        raise ValueError("outcome_delay must be 0 or 1")
    predicted_all = np.zeros((n, steps))
    for t in range(steps):
        predicted = predicted_all[:, t]
        for i, s in enumerate(students):
            effects[i, t] = effects_now(s, structure, idio[i])
            if need_contexts:
                ctx = context_from_answers(histories[i])
                contexts[i, t] = ctx.vector()
                predicted[i] = ctx.predicted_accuracy
        arms = choose(t, contexts[:, t]) if choose is not None else np.full(n, -1)
        chosen[:, t] = arms
        for i, s in enumerate(students):
            a = int(arms[i])
            answers = session_run(
                s,
                session=WARMUP_SESSIONS + t,
                rng=rngs[i],
                strategy=SLUGS[a] if a >= 0 else None,
                effect=float(effects[i, t, a]) if a >= 0 else 0.0,
                history=histories[i],
            )
            if t - outcome_delay >= 0:
                u = t - outcome_delay
                rewards[i, u] = sum(r.correct for r in answers) / len(answers) - predicted_all[i, u]
            s.advance(1.0 + rngs[i].random())
        if update is not None and t - outcome_delay >= 0:
            u = t - outcome_delay
            update(u, contexts[:, u], chosen[:, u], rewards[:, u])
    return EpisodeResult(
        post_test=np.array([post_test(s) for s in students]),
        chosen=chosen,
        contexts=contexts,
        rewards=rewards,
        effects=effects,
    )


def _always(arm: int) -> Callable[[int, np.ndarray], np.ndarray]:
    return lambda _t, x: np.full(len(x), arm)


def mechanism_calibrate(
    *,
    n: int = 600,
    seed: int = 500,
    iterations: int = 10,
    only: tuple[str, ...] = SLUGS,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, float], float]:
    """Bisect each strategy's ``MECHANISM_SCALE`` so that always using it gains g × sd(post-test) points.

    Structure "none" (population effect and idiosyncratic part only), common random numbers. Returns the
    scales and the post-test sd; the code's constants were set from one run of this (docs/metacognition.md).
    """
    none = STRUCTURES["none"]
    control = episodes_run(n=n, seed=seed, structure=none, steps=10, choose=None, need_contexts=False)
    sd = float(control.post_test.std(ddof=1))
    scales: dict[str, float] = {}
    saved = dict(MECHANISM_SCALE)
    try:
        for k, slug in enumerate(SLUGS):
            if slug not in only:
                continue
            target = EFFECTS[slug].g * sd
            if target <= 0:
                scales[slug] = 1.0
                continue
            lo, hi = 0.0, MECHANISM_SCALE_CAP
            for _ in range(iterations):
                mid = (lo + hi) / 2
                MECHANISM_SCALE[slug] = mid
                run = episodes_run(
                    n=n,
                    seed=seed,
                    structure=none,
                    steps=10,
                    choose=_always(k),
                    need_contexts=False,
                )
                gain = float((run.post_test - control.post_test).mean())
                lo, hi = (mid, hi) if gain < target else (lo, mid)
            scales[slug] = round((lo + hi) / 2, 3)
            if progress is not None:
                progress(f"{slug}: scale {scales[slug]} (target gain {target:.2f} points)")
    finally:
        MECHANISM_SCALE.clear()
        MECHANISM_SCALE.update(saved)
    return scales, sd
