"""The policy's maths: the population prior is recovered from data, the posterior and choices are reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from metacog.catalog import CATALOG, SLUGS
from metacog.context import FEATURES
from metacog.policy import (
    PopulationPrior,
    history_stats,
    policy_choose,
    policy_update,
    posterior,
    prior_expert,
    prior_fit,
    prior_flat,
    suggestion_reward,
)


def _synthetic(seed=0, n_students=400, per_student=12):
    rng = np.random.default_rng(seed)
    k = 3
    w = np.array([[0.05, 0.0], [0.0, 0.2], [0.02, -0.1]])  # (K, d)
    tau = np.array([0.05, 0.0, 0.02])
    b = rng.normal(0, 1, (n_students, k)) * tau
    rows = []
    for s in range(n_students):
        for _ in range(per_student):
            x = np.array([1.0, rng.normal()])
            a = rng.integers(k)
            rows.append((x, a, x @ w[a] + b[s, a] + rng.normal(0, 0.1), s))
    X = np.array([r[0] for r in rows])
    return X, np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), np.array([r[3] for r in rows]), w, tau


def test_prior_fit_recovers_population_weights_and_spread():
    X, arms, r, students, w, tau = _synthetic()
    prior = prior_fit(
        contexts=X, arms=arms, rewards=r, students=students, arm_names=["a", "b", "c"], features=["i", "x"]
    )
    assert np.allclose(prior.weights, w, atol=0.02)
    assert prior.tau2[0] == pytest.approx(tau[0] ** 2, abs=0.001)
    assert prior.tau2[1] < 0.0005  # no between-student spread on arm b
    assert prior.sigma2 == pytest.approx(0.01, rel=0.15)
    assert prior.n_students == 400 and prior.n_observations == len(r)


def test_posterior_by_hand():
    prior = PopulationPrior(("a",), ("i",), np.zeros((1, 1)), np.array([0.04]), 0.01)
    mean, var = posterior(prior=prior, counts=np.array([[2.0]]), resid_sums=np.array([[0.3]]))
    # precision 1/0.04 + 2/0.01 = 225; mean = (0.3/0.01)/225
    assert var[0, 0] == pytest.approx(1 / 225) and mean[0, 0] == pytest.approx(30 / 225)


def test_choose_and_update_are_deterministic_under_a_seed():
    prior = prior_expert(catalog=CATALOG, features=FEATURES)
    x = np.tile(np.eye(len(FEATURES))[0] + 0.1, (5, 1))

    def run(seed):
        counts, resid = np.zeros((5, len(SLUGS))), np.zeros((5, len(SLUGS)))
        rng = np.random.default_rng(seed)
        picks = []
        for _ in range(4):
            arm, _ = policy_choose(prior=prior, x=x, counts=counts, resid_sums=resid, rng=rng)
            policy_update(prior=prior, x=x, chosen=arm, rewards=np.full(5, 0.2), counts=counts, resid_sums=resid)
            picks.append(arm.tolist())
        return picks, counts.copy(), resid.copy()

    a, b = run(7), run(7)
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and np.allclose(a[2], b[2])
    assert a[1].sum() == 20


def test_own_good_outcomes_pull_the_choice():
    prior = prior_flat(arms=SLUGS, features=FEATURES, sigma2=0.01)
    prior.temperature = 0.0
    x = np.zeros(len(FEATURES))
    x[0] = 1
    counts, resid = history_stats(prior=prior, history=[("spacing", x, 0.3), ("spacing", x, 0.25)])
    arm, means = policy_choose(prior=prior, x=x[None], counts=counts, resid_sums=resid, rng=np.random.default_rng(0))
    # shrunk toward the flat prior: (0.55 / σ²) / (1/τ² + 2/σ²) with τ² = 0.01
    assert SLUGS[int(arm[0])] == "spacing" and means[0, SLUGS.index("spacing")] == pytest.approx(55 / 300)


def test_disallowed_strategies_are_never_chosen():
    prior = prior_expert(catalog=CATALOG, features=FEATURES)
    allowed = np.zeros((50, len(SLUGS)), dtype=bool)
    allowed[:, SLUGS.index("rereading")] = True
    x = np.tile(np.r_[1.0, np.zeros(len(FEATURES) - 1)], (50, 1))
    arm, _ = policy_choose(
        prior=prior, x=x, counts=np.zeros((50, len(SLUGS))), resid_sums=np.zeros((50, len(SLUGS))),
        rng=np.random.default_rng(1), allowed=allowed,
    )  # fmt: skip
    assert set(arm.tolist()) == {SLUGS.index("rereading")}


def test_prior_round_trips_and_restricts():
    prior = prior_expert(catalog=CATALOG, features=FEATURES)
    again = PopulationPrior.from_dict(prior.to_dict())
    assert again.arms == prior.arms and np.allclose(again.weights, prior.weights)
    sub = prior.restricted(["spacing", "slow_down"])
    assert sub.arms == ("spacing", "slow_down") and sub.weights.shape == (2, len(FEATURES))


def test_reward_combines_performance_calibration_and_rating():
    assert suggestion_reward(performance_gain=0.1, calibration_gain=0.2, rating=1) == pytest.approx(0.1 + 0.1 + 0.05)
    assert suggestion_reward(performance_gain=None, calibration_gain=None, rating=-1) == pytest.approx(-0.05)


def _guarded(weights, cov_scale, *, z=2.0, default="a"):
    weights = np.asarray(weights, dtype=float)
    k, d = weights.shape
    return PopulationPrior(
        arms=("a", "b", "c")[:k],
        features=("intercept", "x")[:d],
        weights=np.asarray(weights, dtype=float),
        tau2=np.full(k, 1e-6),
        sigma2=0.03,
        weight_cov=np.tile(np.eye(d) * cov_scale, (k, 1, 1)),
        default_arm=default,
        guard_z=z,
    )


def test_guarded_choice_stays_with_best_on_average_without_strong_evidence():
    x = np.array([[1.0, 0.5], [1.0, -0.5]])
    zeros = np.zeros((2, 3))
    rng = np.random.default_rng(0)
    # b looks better for x > 0, but its advantage (0.05) is within 2 standard errors (sd 0.05 per weight).
    unsure = _guarded([[0.1, 0.0], [0.1, 0.1], [0.0, 0.0]], 0.05**2)
    assert policy_choose(prior=unsure, x=x, counts=zeros, resid_sums=zeros, rng=rng)[0].tolist() == [0, 0]
    # The same advantage, known precisely: b where it helps, a where it does not.
    sure = _guarded([[0.1, 0.0], [0.1, 0.1], [0.0, 0.0]], 0.001**2)
    assert policy_choose(prior=sure, x=x, counts=zeros, resid_sums=zeros, rng=rng)[0].tolist() == [1, 0]
    # z = 0 is greedy on the predicted reward.
    greedy = _guarded([[0.1, 0.0], [0.1, 0.1], [0.0, 0.0]], 0.05**2, z=0.0)
    assert policy_choose(prior=greedy, x=x, counts=zeros, resid_sums=zeros, rng=rng)[0].tolist() == [1, 0]


def test_guarded_choice_uses_the_students_own_evidence_and_respects_allowed():
    prior = _guarded([[0.1, 0.0], [0.1, 0.0], [0.0, 0.0]], 1e-8, z=1.0)
    prior.tau2 = np.full(3, 0.05**2)
    x = np.array([[1.0, 0.0]])
    rng = np.random.default_rng(0)
    none = np.zeros((1, 3))
    assert policy_choose(prior=prior, x=x, counts=none, resid_sums=none, rng=rng)[0][0] == 0
    # Twenty good outcomes of b for this student (+0.1 each above the prediction): b now wins.
    counts, resid = np.array([[0.0, 20.0, 0.0]]), np.array([[0.0, 2.0, 0.0]])
    assert policy_choose(prior=prior, x=x, counts=counts, resid_sums=resid, rng=rng)[0][0] == 1
    # Without the default allowed, the best of the others.
    allowed = np.array([[False, True, True]])
    assert policy_choose(prior=prior, x=x, counts=none, resid_sums=none, rng=rng, allowed=allowed)[0][0] == 1


def test_guard_fields_survive_storage_and_restriction():
    prior = _guarded([[0.1, 0.0], [0.2, 0.1], [0.0, 0.0]], 0.01, z=1.5, default="b")
    back = PopulationPrior.from_dict(prior.to_dict())
    assert back.guard_z == 1.5 and back.default_arm == "b" and np.allclose(back.weight_cov, prior.weight_cov)
    sub = prior.restricted(["c", "b"])
    assert sub.arms == ("c", "b") and sub.weight_cov.shape == (2, 2, 2) and sub.default_arm == "b"
    assert prior.restricted(["a", "c"]).default_arm is None  # Thompson sampling then


def test_prior_fit_gives_the_guard_what_it_needs():
    X, arms, r, students, w, _tau = _synthetic()
    prior = prior_fit(
        contexts=X, arms=arms, rewards=r, students=students, arm_names=["a", "b", "c"], features=["i", "x"]
    )
    assert prior.weight_cov.shape == (3, 2, 2) and np.all(np.diagonal(prior.weight_cov, axis1=1, axis2=2) > 0)
    assert np.all(np.sqrt(np.diagonal(prior.weight_cov, axis1=1, axis2=2)) < 0.02)  # 4 800 outcomes
    assert prior.default_arm == "a"  # the largest mean outcome (w: a 0.05, b 0, c 0.02 at mean x = 0)
