"""The strategy benchmark on a tiny population: shape, determinism, and train/evaluation separation.

The real numbers come from `manage.py strategy_benchmark` (docs/metacognition.md); here only behaviour.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from metacog import benchmark, strategy_sim


def test_json_has_every_policy_and_checkpoint_and_is_reproducible(capsys):
    call_command("strategy_benchmark", "--students", "12", "--seed", "4", "--json")
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert set(data["policies"]) >= {"meta_learned", "flat_prior", "best_on_average", "random"}
    for row in data["policies"].values():
        for c in (5, 10, 20):
            assert row[f"reward_at_{c}_ci"][0] <= row[f"reward_at_{c}"] <= row[f"reward_at_{c}_ci"][1]
            assert row[f"regret_at_{c}"] >= 0
        assert row["regret_at_5"] <= row["regret_at_10"] <= row["regret_at_20"]
    assert "students simulated" in err  # progress on stderr
    call_command("strategy_benchmark", "--students", "12", "--seed", "4", "--json")
    again = json.loads(capsys.readouterr()[0])
    assert again["policies"] == data["policies"]


def test_table_output_and_bad_arguments(capsys):
    call_command("strategy_benchmark", "--students", "8", "--seed", "1", "--setting", "noisy")
    out = capsys.readouterr()[0]
    assert "| meta_learned |" in out and "regret reduction vs flat prior @10" in out
    with pytest.raises(CommandError, match="--setting"):
        call_command("strategy_benchmark", "--setting", "mars")
    with pytest.raises(CommandError, match="--students"):
        call_command("strategy_benchmark", "--students", "1")


def test_prior_is_fitted_on_other_students_than_the_evaluated_ones(monkeypatch):
    seeds = []
    real = strategy_sim.cohort_simulate

    def spy(**kw):
        seeds.append(kw["seed"])
        return real(**kw)

    monkeypatch.setattr(benchmark, "cohort_simulate", spy)
    benchmark.benchmark_run(setting="maths", n_students=6, seed=2)
    train_seed, eval_seed = seeds
    assert eval_seed == 2 and train_seed != eval_seed


def test_regret_is_zero_for_an_oracle_and_cohort_is_deterministic():
    cfg = strategy_sim.STRATEGY_SETTINGS["maths"]
    a = strategy_sim.cohort_simulate(setting=cfg, n=5, steps=20, seed=3)
    b = strategy_sim.cohort_simulate(setting=cfg, n=5, steps=20, seed=3)
    assert np.array_equal(a.contexts, b.contexts) and np.array_equal(a.mu, b.mu)
    exp = strategy_sim.expected_reward(a.mu)
    best = exp.argmax(axis=2)
    rows, cols = np.arange(5)[:, None], np.arange(20)[None, :]
    assert np.allclose(exp.max(axis=2) - exp[rows, cols, best], 0)
    # The policy sees only contexts computed from simulated answers, never the hidden effects.
    assert a.contexts.shape == (5, 20, len(benchmark.FEATURES)) and np.all(a.contexts[:, :, 0] == 1)
