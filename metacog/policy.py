"""The suggestion policy: a hierarchical Bayesian contextual bandit with a meta-learned population prior.

Pure NumPy, no Django. Model of the reward of strategy ``k`` suggested to student ``s`` in context ``x``::

    r = x · w_k  +  b_sk  +  ε,      b_sk ~ N(0, τ²_k)   (the student's own deviation),   ε ~ N(0, σ²)

*Outer loop (meta-learning across students, each student one task):* ``prior_fit`` estimates the
population part ``w_k`` (ridge regression of reward on context per strategy), how much students differ
beyond their context ``τ²_k`` (within-student residual covariance, method of moments) and the outcome
noise ``σ²``, from the logged outcomes of a population of *training* students.
*Inner loop (per-student adaptation):* the student's own outcomes update the conjugate normal posterior
of ``b_sk``; Thompson sampling from it picks the next suggestion. A student's suggestions use other
students' data only through ``PopulationPrior``.

Everything is batched over students: arrays are ``(B, K)`` for B students and K strategies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .catalog import UTILITY_BASE, Strategy

FLAT_PRIOR_SD = 0.1  # about a 10-point accuracy change: wide next to real strategy effects
DEFAULT_SIGMA2 = 0.03  # outcome noise of ~8 items (binomial sd ≈ 0.17) before anything is fitted
MIN_TAU2 = 1e-5
# The guarded choice's threshold, in standard errors: chosen on the strategy benchmark's development seeds
# 100–101 (docs/metacognition.md), never on its reported seeds; the app and the benchmark use it.
GUARD_Z = 2.0


@dataclass
class PopulationPrior:
    arms: tuple[str, ...]
    features: tuple[str, ...]
    weights: np.ndarray  # (K, d) population effect of context on each strategy's reward
    tau2: np.ndarray  # (K,) between-student variance beyond the context
    sigma2: float  # outcome noise variance
    kind: str = "meta_learned"  # "meta_learned" | "flat" | "expert"
    temperature: float = 1.0  # scale of Thompson sampling's exploration (meta-learned; 1 = plain)
    n_students: int = 0
    n_observations: int = 0
    extra: dict = field(default_factory=dict)
    # The guarded choice (``policy_choose``): stay with ``default_arm`` (the best strategy on average) unless
    # another one's advantage for this student is more than ``guard_z`` standard errors above 0.
    weight_cov: np.ndarray | None = None  # (K, d, d) sampling covariance of ``weights``
    default_arm: str | None = None
    guard_z: float | None = None

    def to_dict(self) -> dict:
        return {
            "arms": list(self.arms),
            "features": list(self.features),
            "weights": self.weights.tolist(),
            "tau2": self.tau2.tolist(),
            "sigma2": float(self.sigma2),
            "kind": self.kind,
            "temperature": self.temperature,
            "n_students": self.n_students,
            "n_observations": self.n_observations,
            "extra": self.extra,
            "weight_cov": None if self.weight_cov is None else self.weight_cov.tolist(),
            "default_arm": self.default_arm,
            "guard_z": self.guard_z,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PopulationPrior:
        return cls(
            arms=tuple(data["arms"]),
            features=tuple(data["features"]),
            weights=np.asarray(data["weights"], dtype=float),
            tau2=np.asarray(data["tau2"], dtype=float),
            sigma2=float(data["sigma2"]),
            kind=data.get("kind", "meta_learned"),
            temperature=float(data.get("temperature", 1.0)),
            n_students=int(data.get("n_students", 0)),
            n_observations=int(data.get("n_observations", 0)),
            extra=dict(data.get("extra", {})),
            weight_cov=None if data.get("weight_cov") is None else np.asarray(data["weight_cov"], dtype=float),
            default_arm=data.get("default_arm"),
            guard_z=None if data.get("guard_z") is None else float(data["guard_z"]),
        )

    def restricted(self, arms: Sequence[str]) -> PopulationPrior:
        """The same prior over a subset of strategies (e.g. the ones a class has enabled)."""
        idx = [self.arms.index(a) for a in arms]
        return replace(
            self,
            arms=tuple(arms),
            weights=self.weights[idx],
            tau2=self.tau2[idx],
            weight_cov=None if self.weight_cov is None else self.weight_cov[idx],
            default_arm=self.default_arm if self.default_arm in arms else None,
        )


def prior_flat(
    *, arms: Sequence[str], features: Sequence[str], sd: float = FLAT_PRIOR_SD, sigma2: float = DEFAULT_SIGMA2
) -> PopulationPrior:
    """No population knowledge: every strategy starts at 0 with the same wide uncertainty, context ignored."""
    k, d = len(arms), len(features)
    return PopulationPrior(tuple(arms), tuple(features), np.zeros((k, d)), np.full(k, sd**2), sigma2, kind="flat")


def prior_expert(
    *, catalog: Sequence[Strategy], features: Sequence[str], sd: float = 0.05, sigma2: float = DEFAULT_SIGMA2
) -> PopulationPrior:
    """Before any outcomes exist: the catalog's evidence (utility as intercept, relevance weights)."""
    feats = list(features)
    w = np.zeros((len(catalog), len(feats)))
    for i, s in enumerate(catalog):
        w[i, feats.index("intercept")] = UTILITY_BASE[s.utility]
        for f, v in s.relevance.items():
            w[i, feats.index(f)] = v
    return PopulationPrior(
        tuple(s.slug for s in catalog), tuple(feats), w, np.full(len(catalog), sd**2), sigma2, kind="expert"
    )


def prior_fit(
    *,
    contexts: np.ndarray,  # (N, d)
    arms: np.ndarray,  # (N,) int index into arm_names
    rewards: np.ndarray,  # (N,)
    students: np.ndarray,  # (N,) any integer id
    arm_names: Sequence[str],
    features: Sequence[str],
    ridge: float = 1.0,
) -> PopulationPrior:
    """Meta-learn the population prior from logged outcomes of training students (empirical Bayes)."""
    contexts = np.asarray(contexts, dtype=float)
    arms = np.asarray(arms)
    rewards = np.asarray(rewards, dtype=float)
    students = np.asarray(students)
    k, d = len(arm_names), contexts.shape[1]
    weights = np.zeros((k, d))
    weight_cov = np.zeros((k, d, d))
    arm_means = np.full(k, -np.inf)
    tau2 = np.full(k, MIN_TAU2)
    resid_sq = 0.0
    n_obs = 0
    between = 0.0
    for a in range(k):
        sel = arms == a
        if not sel.any():
            continue
        x, r, s = contexts[sel], rewards[sel], students[sel]
        penalty = ridge * np.eye(d)
        penalty[0, 0] = 1e-6  # the intercept is not shrunk
        inv = np.linalg.inv(x.T @ x + penalty)
        weights[a] = inv @ (x.T @ r)
        e = r - x @ weights[a]  # (n_a,)
        # Sampling covariance of the ridge estimate (sandwich form, residual variance of this arm).
        weight_cov[a] = float(e @ e) / max(1, len(e) - d) * (inv @ (x.T @ x) @ inv)
        arm_means[a] = float(r.mean())
        # Within-student pairs of residuals share b_sk: E[e_i e_j] = τ² for i ≠ j of the same student.
        uniq, inv = np.unique(s, return_inverse=True)
        sums = np.bincount(inv, weights=e, minlength=len(uniq))
        sq = np.bincount(inv, weights=e * e, minlength=len(uniq))
        cnt = np.bincount(inv, minlength=len(uniq))
        pairs = (cnt * (cnt - 1)).sum()
        if pairs > 0:
            tau2[a] = max(MIN_TAU2, float((sums**2 - sq).sum() / pairs))
        resid_sq += float((e * e).sum())
        between += tau2[a] * len(e)
        n_obs += len(e)
    sigma2 = max(1e-4, (resid_sq - between) / max(1, n_obs - k * d))
    return PopulationPrior(
        tuple(arm_names),
        tuple(features),
        weights,
        tau2,
        sigma2,
        kind="meta_learned",
        n_students=len(np.unique(students)),
        n_observations=n_obs,
        weight_cov=weight_cov,
        default_arm=arm_names[int(arm_means.argmax())],
    )


def posterior(*, prior: PopulationPrior, counts: np.ndarray, resid_sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of each student's own deviation b_sk. counts, resid_sums: (B, K)."""
    var = 1.0 / (1.0 / prior.tau2[None, :] + counts / prior.sigma2)  # (B, K)
    mean = var * resid_sums / prior.sigma2
    return mean, var


def policy_choose(
    *,
    prior: PopulationPrior,
    x: np.ndarray,  # (B, d)
    counts: np.ndarray,  # (B, K)
    resid_sums: np.ndarray,  # (B, K)
    rng: np.random.Generator,
    allowed: np.ndarray | None = None,  # (B, K) bool
) -> tuple[np.ndarray, np.ndarray]:
    """One strategy index per student, and the posterior mean reward of every strategy.

    With ``prior.guard_z`` set (and a default arm and weight covariance), the guarded choice: each strategy's
    predicted advantage over the default (population part + the student's own posterior deviation) is
    discounted by ``guard_z`` of its standard error, the default's advantage is 0, and the largest wins. It
    stays with the best-on-average strategy unless the evidence that another suits this student is strong,
    so it cannot do much worse than that rule when students do not differ as the model assumes.
    Otherwise Thompson sampling.
    """
    pop = x @ prior.weights.T  # (B, K)
    mean, var = posterior(prior=prior, counts=counts, resid_sums=resid_sums)
    if prior.guard_z is not None and prior.default_arm in prior.arms and prior.weight_cov is not None:
        d0 = prior.arms.index(prior.default_arm)
        pred = pop + mean
        pop_var = np.einsum("bd,kde,be->bk", x, prior.weight_cov, x)  # (B, K)
        tot_var = pop_var + var
        adv = pred - pred[:, d0 : d0 + 1]
        se = np.sqrt(tot_var + tot_var[:, d0 : d0 + 1])
        score = adv - prior.guard_z * se
        score[:, d0] = 0.0
        if allowed is not None:
            score = np.where(allowed, score, -np.inf)
        return score.argmax(axis=1), pred
    # temperature 1 is plain Thompson sampling; a meta-learned temperature < 1 explores less where a short
    # horizon and noisy outcomes make exploring a poor investment.
    sample = pop + mean + prior.temperature * np.sqrt(var) * rng.standard_normal(mean.shape)
    sample = sample + 1e-9 * rng.random(mean.shape)  # ties (a flat prior at temperature 0) break at random
    if allowed is not None:
        sample = np.where(allowed, sample, -np.inf)
    return sample.argmax(axis=1), pop + mean


def policy_update(
    *,
    prior: PopulationPrior,
    x: np.ndarray,  # (B, d)
    chosen: np.ndarray,  # (B,)
    rewards: np.ndarray,  # (B,)
    counts: np.ndarray,  # (B, K), updated in place
    resid_sums: np.ndarray,  # (B, K), updated in place
) -> None:
    rows = np.arange(len(chosen))
    predicted = np.einsum("bd,bd->b", x, prior.weights[chosen])  # (B,)
    counts[rows, chosen] += 1
    resid_sums[rows, chosen] += rewards - predicted


def history_stats(
    *, prior: PopulationPrior, history: Sequence[tuple[str, np.ndarray, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """One student's (strategy, context, reward) outcomes as (1, K) counts and residual sums for ``prior``."""
    counts = np.zeros((1, len(prior.arms)))
    resid = np.zeros((1, len(prior.arms)))
    for slug, x, r in history:
        if slug not in prior.arms:
            continue
        a = prior.arms.index(slug)
        counts[0, a] += 1
        resid[0, a] += r - float(np.asarray(x, dtype=float) @ prior.weights[a])
    return counts, resid


RATING_WEIGHT = 0.05
CALIBRATION_WEIGHT = 0.5


def suggestion_reward(*, performance_gain: float | None, calibration_gain: float | None, rating: int | None) -> float:
    """One number per suggestion outcome, the same in the app and the benchmark.

    performance_gain: accuracy after the suggestion minus the learner model's prediction (−1..1);
    calibration_gain: reduction of |confidence − accuracy| (−1..1); rating: +1 helpful, −1 not helpful.
    """
    return (
        (performance_gain or 0.0) + CALIBRATION_WEIGHT * (calibration_gain or 0.0) + RATING_WEIGHT * float(rating or 0)
    )
