"""Simulated students' responses to learning strategies, for the strategy benchmark. No Django.

Students come from the shared student simulator (``tutor.simulator``: latent traits, learning,
forgetting, confusion, confidence with a calibration bias). They practise sessions there, and the
policy sees only the context that ``metacog.context`` computes from their simulated answers — the
same code the app runs on real answers.

How much each strategy helps a student is *hidden* from the policy. It is a documented function of
the student's latent traits and current knowledge (the effects that the literature links to each
strategy) plus a per-student idiosyncratic part that no context reveals; see ``TRUE_EFFECTS`` and
docs/metacognition.md. The outcome the policy observes is that expected reward plus the noise of
measuring it on a handful of items and an optional helpfulness rating.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tutor.simulator import SimSkill, population

from .catalog import SLUGS
from .context import FEATURES, AnswerRecord, context_from_answers
from .policy import RATING_WEIGHT

MINUTE = 1.0 / (24 * 60)

# Standardised latent drivers (mean 0, sd ≈ 1 in the population) → effect on the expected reward.
# z_acc: current true accuracy; z_bias: overconfidence; z_forget: fast forgetting; z_confuse: mixing up
# similar skills; z_slip: careless slips; z_slow_learner: low learning rate; z_fast: quick responder.
TRUE_EFFECTS: dict[str, tuple[float, dict[str, float]]] = {
    "practice_testing": (0.035, {"z_acc": 0.01}),
    "spacing": (0.03, {"z_forget": 0.035}),
    "interleaving": (0.015, {"z_confuse": 0.035, "z_acc": 0.01}),
    "self_explanation": (0.02, {"z_slow_learner": 0.025, "z_slip": 0.015}),
    "elaborative_interrogation": (0.01, {"z_acc": 0.03}),
    "worked_examples": (0.015, {"z_acc": -0.04}),
    "concrete_examples": (0.01, {"z_acc": -0.02}),
    "calibration_check": (-0.005, {"z_bias": 0.05}),
    "slow_down": (0.0, {"z_slip": 0.04, "z_fast": 0.02}),
    "help_seeking": (0.01, {"z_acc": -0.02}),
    "rereading": (0.005, {}),
    "summarisation": (0.008, {}),
}
assert tuple(TRUE_EFFECTS) == SLUGS


@dataclass(frozen=True)
class StrategySetting:
    name: str
    description: str
    world: str  # a tutor.simulator setting
    outcome_items: int  # items an outcome is measured on (its noise)
    idiosyncratic_sd: float  # per-student, per-strategy effect no context reveals
    effect_scale: float = 1.0
    items_per_session: int = 8
    warmup_sessions: int = 3


STRATEGY_SETTINGS: dict[str, StrategySetting] = {
    s.name: s
    for s in (
        StrategySetting(
            "maths",
            "Maths world; outcomes measured on 8 items; moderate idiosyncratic differences (sd 0.02).",
            world="maths",
            outcome_items=8,
            idiosyncratic_sd=0.02,
        ),
        StrategySetting(
            "noisy",
            "Maths world; outcomes on 4 items (noisier) and larger idiosyncratic differences (sd 0.035).",
            world="maths",
            outcome_items=4,
            idiosyncratic_sd=0.035,
        ),
        StrategySetting(
            "strong-forgetting",
            "Strong-forgetting world (memories fade twice as fast); outcomes on 8 items; sd 0.02.",
            world="strong-forgetting",
            outcome_items=8,
            idiosyncratic_sd=0.02,
        ),
        StrategySetting(
            "weak-effects",
            "Maths world with strategy effects halved: a hard case where personalisation has less to gain.",
            world="maths",
            outcome_items=8,
            idiosyncratic_sd=0.01,
            effect_scale=0.5,
        ),
    )
}


def expected_reward(mu: np.ndarray) -> np.ndarray:
    """E[reward] for a true effect mu: mu plus the expected rating (asked half the time, +1 w.p. σ(mu/0.05))."""
    return mu + RATING_WEIGHT * 0.5 * np.tanh(mu / 0.1)


@dataclass
class SimulatedCohort:
    """Per student and suggestion step: what the policy sees (contexts) and what it cannot (true effects)."""

    contexts: np.ndarray  # (S, T, d)
    mu: np.ndarray  # (S, T, K) true expected effect of each strategy
    noise: np.ndarray  # (S, T, K) outcome noise (common random numbers across policies)
    rating_u: np.ndarray  # (S, T, K) uniforms for the rating draw

    def subset(self, rows: slice) -> SimulatedCohort:
        return SimulatedCohort(self.contexts[rows], self.mu[rows], self.noise[rows], self.rating_u[rows])

    def observe(self, t: int, chosen: np.ndarray) -> np.ndarray:
        """The measured reward of the chosen strategies at step t (B,)."""
        rows = np.arange(len(chosen))
        mu = self.mu[rows, t, chosen]
        rated = self.rating_u[rows, t, chosen] < 0.5
        p_helpful = 1.0 / (1.0 + np.exp(-mu / 0.05))
        helpful = (self.rating_u[rows, t, chosen] * 2.0) < p_helpful  # reuses the uniform below 0.5
        rating = np.where(rated, np.where(helpful, 1.0, -1.0), 0.0)
        return mu + self.noise[rows, t, chosen] + RATING_WEIGHT * rating


def _skills():
    return [
        SimSkill(0, confusable_with=(1,)),
        SimSkill(1, prerequisites=(0,), confusable_with=(0,)),
        SimSkill(2, confusable_with=(3,)),
        SimSkill(3, prerequisites=(2,), confusable_with=(2,)),
    ]


def cohort_simulate(
    *,
    setting: StrategySetting,
    n: int,
    steps: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> SimulatedCohort:
    """Run ``n`` simulated students through warm-up + ``steps`` sessions; deterministic in (setting, n, seed)."""
    skills = _skills()
    skill_names = ["fractions", "decimals", "equations", "inequalities"]
    students = population(n=n, skills=skills, setting=setting.world, seed=seed)
    k = len(SLUGS)
    contexts = np.zeros((n, steps, len(FEATURES)))
    mu = np.zeros((n, steps, k))
    rng_np = np.random.default_rng([seed, 7919])
    idio = rng_np.normal(0.0, setting.idiosyncratic_sd, size=(n, k))
    noise_sd = math.sqrt(0.22 / setting.outcome_items)
    noise = rng_np.normal(0.0, noise_sd, size=(n, steps, k))
    rating_u = rng_np.random(size=(n, steps, k))
    base = np.array([TRUE_EFFECTS[s][0] for s in SLUGS])
    for i, student in enumerate(students):
        tr = student.traits
        drivers = {
            "z_bias": (tr.confidence_bias - 0.4) / 0.6,
            "z_forget": -math.log(tr.forgetting) / 0.35,
            "z_confuse": math.log(tr.confusion) / 0.3,
            "z_slip": (tr.slip - 0.0625) / 0.04,
            "z_slow_learner": -math.log(tr.learn_rate) / 0.3,
            "z_fast": -math.log(tr.speed) / 0.3,
        }
        order = random.Random(f"strategy-order-{seed}-{i}")
        history: list[AnswerRecord] = []
        for session in range(setting.warmup_sessions + steps):
            for _ in range(setting.items_per_session):
                sid = order.randrange(len(skills))
                r = student.present(sid, order.uniform(0.3, 0.7))
                history.append(
                    AnswerRecord(
                        correct=r.correct,
                        confidence=r.confidence,
                        skill=skill_names[sid],
                        session=session,
                        response_time_ms=int(r.response_time_s * 1000),
                    )
                )
                student.advance(MINUTE)
            t = session - setting.warmup_sessions + 1  # the suggestion made after this session
            if 0 <= t < steps:
                contexts[i, t] = context_from_answers(history).vector()
                p_true = sum(student.p_correct(s.skill_id) for s in skills) / len(skills)
                z = dict(drivers, z_acc=(p_true - 0.6) / 0.15)
                mu[i, t] = (
                    setting.effect_scale
                    * (base + np.array([sum(c * z[f] for f, c in TRUE_EFFECTS[s][1].items()) for s in SLUGS]))
                    + idio[i]
                )
            student.advance(1.0 + order.random())
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == n):
            progress(i + 1, n)
    return SimulatedCohort(contexts=contexts, mu=mu, noise=noise, rating_u=rating_u)
