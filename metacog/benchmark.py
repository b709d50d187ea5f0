"""The strategy benchmark: suggestions judged on what students remember a week later. No Django.

For each hidden effect structure (``strategy_sim.STRUCTURES``) and seed:

1. *Training students* (other seeds: seed + ``TRAIN_SEED_OFFSET``) stand for the population the product has
   seen. Logged under uniformly random suggestions, their observed outcomes fit the policy's population prior;
   every fixed strategy is run on some of them and the one with the best mean delayed post-test is
   *best on average* — the strongest simple rule, known from the population, to the baseline and the policy.
2. *Evaluated students* (``seed``) are run once per policy: no strategy (the control), every fixed strategy
   (best on average is one of them; each student's best one in hindsight is the oracle), uniformly random,
   a flat (untrained) prior, the previous meta-learned Thompson sampling, and the guarded policy.

Outcome: the delayed post-test (hidden expected accuracy a week after the last of ``STEPS`` sessions, points);
a policy's *gain* is its post-test minus the control's for the same student; *regret* is the oracle's gain
minus the policy's. Intervals are paired over students (95 %: normal for means, bootstrap for ratios).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from .catalog import SLUGS
from .context import FEATURES
from .policy import GUARD_Z, PopulationPrior, policy_choose, policy_update, prior_fit, prior_flat
from .strategy_sim import STRUCTURES, EffectStructure, EpisodeResult, episodes_run

STEPS = 10
OUTCOME_DELAY = 1
TRAIN_SEED_OFFSET = 1_000_003
THOMPSON_TEMPERATURE = 0.1  # the app's temperature for a fitted prior
POLICIES = ("policy", "best_on_average", "flat_prior", "random", "thompson")
TARGET_NOT_BELOW = -0.02
TARGET_GAIN_WITH_MODERATION = 0.10
TARGET_REGRET_REDUCTION = 0.30


def _ci(values: np.ndarray) -> tuple[float, float, float]:
    mean = float(values.mean())
    half = 1.96 * float(values.std(ddof=1)) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return mean, mean - half, mean + half


def _ratio_ci(
    num: np.ndarray, den: np.ndarray, *, rng: np.random.Generator, draws: int = 1000
) -> tuple[float, float, float]:
    """mean(num) / mean(den) with a paired percentile bootstrap over students."""
    n = len(num)
    idx = rng.integers(0, n, size=(draws, n))
    ratios = num[idx].mean(axis=1) / den[idx].mean(axis=1)
    return float(num.mean() / den.mean()), float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))


def _fixed(arm: int) -> Callable[[int, np.ndarray], np.ndarray]:
    return lambda _t, x: np.full(len(x), arm)


def bandit_run(
    *,
    prior: PopulationPrior,
    n: int,
    seed: int,
    structure: EffectStructure,
    rng: np.random.Generator,
    start: int = 0,
) -> EpisodeResult:
    """The policy of ``prior`` in the loop: it chooses from contexts and updates on each student's observed
    outcomes."""
    k = len(prior.arms)
    counts, resid = np.zeros((n, k)), np.zeros((n, k))

    def choose(_t: int, x: np.ndarray) -> np.ndarray:
        return policy_choose(prior=prior, x=x, counts=counts, resid_sums=resid, rng=rng)[0]

    def update(_t: int, x: np.ndarray, arms: np.ndarray, rewards: np.ndarray) -> None:
        policy_update(prior=prior, x=x, chosen=arms, rewards=rewards, counts=counts, resid_sums=resid)

    return episodes_run(
        n=n,
        seed=seed,
        structure=structure,
        steps=STEPS,
        choose=choose,
        update=update,
        start=start,
        outcome_delay=OUTCOME_DELAY,
    )


def population_learn(
    *, structure: EffectStructure, seed: int, n_train: int, n_fixed: int, say: Callable[[str], None]
) -> tuple[PopulationPrior, int, np.ndarray]:
    """From training students only: the prior fitted on the outcomes observed after each suggestion, the
    best-on-average arm (by delayed post-test) and every strategy's mean gain."""
    tseed = seed + TRAIN_SEED_OFFSET
    rng = np.random.default_rng([seed, 17])
    logged = episodes_run(
        n=n_train,
        seed=tseed,
        structure=structure,
        steps=STEPS,
        choose=lambda _t, x: rng.integers(0, len(SLUGS), size=len(x)),
        outcome_delay=OUTCOME_DELAY,
    )
    measured = STEPS - OUTCOME_DELAY  # the last suggestions' outcomes come after the episode
    students = np.repeat(np.arange(n_train)[:, None], measured, axis=1)
    prior = prior_fit(
        contexts=logged.contexts[:, :measured].reshape(-1, len(FEATURES)),
        arms=logged.chosen[:, :measured].reshape(-1),
        rewards=logged.rewards[:, :measured].reshape(-1),
        students=students.reshape(-1),
        arm_names=SLUGS,
        features=FEATURES,
    )
    say(f"{structure.name} seed {seed}: prior fitted on {n_train} training students")
    control = episodes_run(n=n_fixed, seed=tseed, structure=structure, steps=STEPS, choose=None, need_contexts=False)
    gains = np.zeros(len(SLUGS))
    for a in range(len(SLUGS)):
        run = episodes_run(
            n=n_fixed, seed=tseed, structure=structure, steps=STEPS, choose=_fixed(a), need_contexts=False
        )
        gains[a] = float((run.post_test - control.post_test).mean())
    best = int(gains.argmax())
    say(f"{structure.name} seed {seed}: best on average among training students: {SLUGS[best]}")
    return prior, best, gains


def benchmark_run(
    *,
    structure: str,
    n_students: int,
    seed: int,
    n_train: int | None = None,
    n_fixed: int | None = None,
    guard_z: float = GUARD_Z,
    progress: Callable[[str], None] | None = None,
) -> dict:
    if structure not in STRUCTURES:
        raise KeyError(f"unknown structure {structure!r}; choose one of {', '.join(STRUCTURES)}")
    if n_students < 2:
        raise ValueError("--students must be at least 2")
    say = progress or (lambda _msg: None)
    st = STRUCTURES[structure]
    n_train = n_train or n_students
    n_fixed = n_fixed or max(2, n_train // 2)
    started = time.monotonic()
    prior, best_arm, train_gains = population_learn(structure=st, seed=seed, n_train=n_train, n_fixed=n_fixed, say=say)
    prior.default_arm = SLUGS[best_arm]  # the same population knowledge the baseline has
    prior.guard_z = guard_z
    thompson = replace(prior, guard_z=None, temperature=THOMPSON_TEMPERATURE)
    flat = prior_flat(arms=SLUGS, features=FEATURES, sigma2=thompson.sigma2)

    control = episodes_run(n=n_students, seed=seed, structure=st, steps=STEPS, choose=None, need_contexts=False)
    fixed = np.zeros((n_students, len(SLUGS)))
    for a in range(len(SLUGS)):
        run = episodes_run(n=n_students, seed=seed, structure=st, steps=STEPS, choose=_fixed(a), need_contexts=False)
        fixed[:, a] = run.post_test - control.post_test
    say(f"{structure} seed {seed}: every fixed strategy run on the evaluated students")
    gains: dict[str, np.ndarray] = {"best_on_average": fixed[:, best_arm]}
    picks: dict[str, np.ndarray] = {"best_on_average": np.full((n_students, STEPS), best_arm)}
    rng_random = np.random.default_rng([seed, 101])
    runs = {
        "random": episodes_run(
            n=n_students,
            seed=seed,
            structure=st,
            steps=STEPS,
            choose=lambda _t, x: rng_random.integers(0, len(SLUGS), size=len(x)),
            need_contexts=False,
        ),
        "flat_prior": bandit_run(
            prior=flat, n=n_students, seed=seed, structure=st, rng=np.random.default_rng([seed, 102])
        ),
        "thompson": bandit_run(
            prior=thompson, n=n_students, seed=seed, structure=st, rng=np.random.default_rng([seed, 103])
        ),
        "policy": bandit_run(
            prior=prior, n=n_students, seed=seed, structure=st, rng=np.random.default_rng([seed, 104])
        ),
    }
    for name, run in runs.items():
        gains[name] = run.post_test - control.post_test
        picks[name] = run.chosen
        say(f"{structure} seed {seed}: policy {name} done")
    oracle = fixed.max(axis=1)
    rng = np.random.default_rng([seed, 999])
    out: dict[str, dict] = {}
    for name in POLICIES:
        g = gains[name]
        m, lo, hi = _ci(g)
        rm, rlo, rhi = _ci(oracle - g)
        dm, dlo, dhi = _ci(g - gains["best_on_average"])
        counts = np.bincount(picks[name].reshape(-1), minlength=len(SLUGS))
        out[name] = {
            "gain": m,
            "gain_ci": [lo, hi],
            "regret": rm,
            "regret_ci": [rlo, rhi],
            "minus_best_on_average": dm,
            "minus_best_on_average_ci": [dlo, dhi],
            "most_suggested": SLUGS[int(counts.argmax())],
            "share_not_best_on_average": float((picks[name] != best_arm).mean()),
        }
    ratio, lo, hi = _ratio_ci(gains["policy"], gains["best_on_average"], rng=rng)
    rr, rlo, rhi = _ratio_ci(oracle - gains["policy"], oracle - gains["flat_prior"], rng=rng)
    moderated = st.moderation_scale > 0
    vs_boa, reduction = ratio - 1.0, 1.0 - rr
    checks = {"not_below_best_on_average": vs_boa >= TARGET_NOT_BELOW, "regret_vs_flat": reduction >= 0.30}
    if moderated:
        checks["gain_where_moderated"] = vs_boa >= TARGET_GAIN_WITH_MODERATION
    return {
        "structure": structure,
        "description": st.description,
        "students": n_students,
        "train_students": n_train,
        "seed": seed,
        "steps": STEPS,
        "guard_z": guard_z,
        "control_post_test": float(control.post_test.mean()),
        "oracle_gain": _ci(oracle)[0],
        "best_on_average_strategy": SLUGS[best_arm],
        "training_gains": {s: float(v) for s, v in zip(SLUGS, train_gains, strict=True)},
        "evaluated_fixed_gains": {s: float(v) for s, v in zip(SLUGS, fixed.mean(axis=0), strict=True)},
        "policies": out,
        "targets": {
            "gain_vs_best_on_average": vs_boa,
            "gain_vs_best_on_average_ci": [lo - 1.0, hi - 1.0],
            "regret_reduction_vs_flat": reduction,
            "regret_reduction_vs_flat_ci": [1.0 - rhi, 1.0 - rlo],
            "checks": checks,
            "met": all(checks.values()),
        },
        "wall_seconds": time.monotonic() - started,
    }
