"""The strategy benchmark on a tiny population: shape, determinism, training/evaluation separation, targets.

The real numbers come from `manage.py strategy_benchmark` (docs/metacognition.md); here only behaviour.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from metacog import benchmark, strategy_sim


def test_json_covers_structures_and_seeds_and_is_reproducible(capsys):
    args = ("strategy_benchmark", "--students", "6", "--seeds", "4", "5", "--structure", "none", "--json")
    call_command(*args)
    out, err = capsys.readouterr()
    runs = json.loads(out)["runs"]
    assert [(r["structure"], r["seed"]) for r in runs] == [("none", 4), ("none", 5)]
    for r in runs:
        assert set(r["policies"]) == set(benchmark.POLICIES)
        for row in r["policies"].values():
            assert row["gain_ci"][0] <= row["gain"] <= row["gain_ci"][1]
        # The oracle is each student's best single strategy, so best-on-average never beats it.
        assert r["policies"]["best_on_average"]["regret"] >= 0
        assert r["policies"]["best_on_average"]["minus_best_on_average"] == 0
        assert "gain_where_moderated" not in r["targets"]["checks"]  # no moderation in "none"
    assert "policy policy done" in err  # progress on stderr
    call_command(*args)
    assert json.loads(capsys.readouterr()[0])["runs"][0]["policies"] == runs[0]["policies"]


def test_table_output_and_bad_arguments(capsys):
    call_command("strategy_benchmark", "--students", "4", "--seeds", "1", "--structure", "linear")
    out = capsys.readouterr()[0]
    assert "| linear | 1 |" in out and "regret reduction vs flat" in out
    with pytest.raises(CommandError, match="--structure"):
        call_command("strategy_benchmark", "--structure", "mars")
    with pytest.raises(CommandError, match="--students"):
        call_command("strategy_benchmark", "--students", "1")
    with pytest.raises(CommandError, match="--seeds"):
        call_command("strategy_benchmark", "--seeds", "-1")


def test_prior_and_best_on_average_come_from_other_students(monkeypatch):
    seeds = []
    real = strategy_sim.episodes_run

    def spy(**kw):
        seeds.append(kw["seed"])
        return real(**kw)

    monkeypatch.setattr(benchmark, "episodes_run", spy)
    res = benchmark.benchmark_run(structure="halved", n_students=4, seed=2)
    train = {s for s in seeds if s != 2}
    assert train == {2 + benchmark.TRAIN_SEED_OFFSET}
    assert seeds.count(2 + benchmark.TRAIN_SEED_OFFSET) == 2 + len(strategy_sim.SLUGS)  # logged, control, fixed
    assert res["best_on_average_strategy"] == max(res["training_gains"], key=res["training_gains"].get)
    assert "gain_where_moderated" in res["targets"]["checks"]


def test_the_policy_learns_from_the_session_after_the_strategy():
    """The observed outcome of suggestion t is the accuracy of session t + 1, the one after the strategy's."""
    st = strategy_sim.STRUCTURES["none"]
    seen = []
    run = strategy_sim.episodes_run(
        n=3, seed=1, structure=st, steps=4, choose=lambda _t, x: np.zeros(len(x), dtype=int),
        update=lambda t, x, arms, r: seen.append(t), outcome_delay=1,
    )  # fmt: skip
    assert seen == [0, 1, 2] and np.all(run.rewards[:, 3] == 0)
    with pytest.raises(ValueError, match="outcome_delay"):
        strategy_sim.episodes_run(n=1, seed=1, structure=st, steps=1, choose=None, outcome_delay=2)
