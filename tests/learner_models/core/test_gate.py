"""The promotion gate on synthetic held-out predictions whose right answer is known."""

from __future__ import annotations

import numpy as np

from learner_models.core.evaluate import auc
from learner_models.core.gate import GateConfig, HeldOutSet, _weighted_auc, gate_decide, recent_split


def _world(
    students: int = 300, per: int = 30, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    """(true logit, outcome, student id) per response."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, 1, students)
    sid = np.repeat(np.arange(students), per)
    z = ability[sid] + rng.normal(0, 1, students * per)
    y = (rng.random(len(z)) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return z, y, sid, rng


def _model(z: np.ndarray, noise: float, rng: np.random.Generator, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    """Predictions that know the true logit up to ``noise``; ``scale``/``shift`` distort the calibration only."""
    return 1 / (1 + np.exp(-(scale * (z + rng.normal(0, noise, len(z))) + shift)))


def _failed(decision) -> set[str]:
    return {c.check for c in decision.checks if not c.passed}


def test_a_clearly_better_model_is_promoted() -> None:
    z, y, sid, rng = _world()
    weak = _model(z, 1.5, rng)
    s = HeldOutSet(
        "students", "held-out students", y, sid, _model(z, 0.2, rng), weak, {"elo": weak, "pfa": _model(z, 1.5, rng)}
    )
    decision = gate_decide([s])
    assert decision.promote, decision.checks
    assert decision.summary().startswith("promoted: held-out students: AUC")


def test_an_equal_model_is_not_promoted() -> None:
    z, y, sid, rng = _world()
    same = _model(z, 0.5, rng)
    elo = _model(z, 1.5, rng)
    twin = HeldOutSet("students", "held-out students", y, sid, same, same.copy(), {"elo": elo, "pfa": elo})
    decision = gate_decide([twin])
    assert not decision.promote and _failed(decision) == {"auc_vs_active"}
    # as good, not the same predictions: the interval straddles zero
    peer = HeldOutSet("students", "held-out students", y, sid, _model(z, 0.5, rng), same, {"elo": elo, "pfa": elo})
    assert _failed(gate_decide([peer])) == {"auc_vs_active"}


def test_the_margin_setting_is_honoured() -> None:
    z, y, sid, rng = _world()
    inc, ch, elo = _model(z, 0.8, rng), _model(z, 0.6, rng), _model(z, 1.5, rng)
    s = HeldOutSet("students", "held-out students", y, sid, ch, inc, {"elo": elo, "pfa": elo})
    assert gate_decide([s]).promote
    assert "auc_vs_active" in _failed(gate_decide([s], GateConfig(margin=0.05)))


def test_a_better_ranked_but_worse_calibrated_model_is_not_promoted() -> None:
    z, y, sid, rng = _world()
    inc, elo = _model(z, 1.5, rng), _model(z, 1.5, rng)
    overconfident = _model(z, 0.2, rng, scale=3.0, shift=1.0)  # ranks well, probabilities far off
    s = HeldOutSet("students", "held-out students", y, sid, overconfident, inc, {"elo": elo, "pfa": elo})
    decision = gate_decide([s])
    assert not decision.promote and _failed(decision) == {"log_loss", "ece"}


def test_a_first_version_below_elo_is_not_promoted_but_one_at_elo_is() -> None:
    z, y, sid, rng = _world()
    elo, pfa = _model(z, 0.5, rng), _model(z, 1.0, rng)
    below = HeldOutSet("students", "held-out students", y, sid, _model(z, 1.2, rng), None, {"elo": elo, "pfa": pfa})
    decision = gate_decide([below])
    assert not decision.promote and "floor" in _failed(decision)
    assert "ELO (the better baseline)" in next(c.text for c in decision.checks if c.check == "floor")
    at_elo = HeldOutSet("students", "held-out students", y, sid, elo.copy(), None, {"elo": elo, "pfa": pfa})
    assert gate_decide([at_elo]).promote  # no incumbent: only calibration vs the baseline and the floor


def test_a_tiny_held_out_set_is_a_refusal_with_a_reason() -> None:
    z, y, sid, rng = _world(students=3, per=20)
    good = _model(z, 0.1, rng)
    decision = gate_decide(
        [HeldOutSet("students", "held-out students", y, sid, good, None, {"elo": good, "pfa": good})]
    )
    assert not decision.promote
    assert decision.checks[0].check == "size" and "only 3 students" in decision.summary()
    assert not gate_decide([]).promote


def test_each_reason_names_its_held_out_set() -> None:
    z, y, sid, rng = _world()
    zr, yr, sr, _ = _world(students=200, per=10, seed=1)
    elo, elo_r = _model(z, 1.5, rng), _model(zr, 0.3, rng)
    students = HeldOutSet("students", "held-out students", y, sid, _model(z, 0.3, rng), None, {"elo": elo, "pfa": elo})
    recent = HeldOutSet("recent", "recent attempts", yr, sr, _model(zr, 1.5, rng), None, {"elo": elo_r, "pfa": elo_r})
    decision = gate_decide([students, recent])
    assert not decision.promote
    assert {c.held_out for c in decision.checks if not c.passed} == {"recent"}
    assert all(c.text.startswith("recent attempts:") for c in decision.checks if c.held_out == "recent")


def test_the_decision_is_deterministic_and_the_vectorised_auc_matches_the_plain_one() -> None:
    z, y, sid, rng = _world(students=50, per=10)
    p = np.round(_model(z, 0.7, rng), 2)  # ties
    s = HeldOutSet("students", "held-out students", y, sid, p, _model(z, 0.9, rng), {"elo": _model(z, 1.0, rng)})
    assert gate_decide([s]).to_dict() == gate_decide([s]).to_dict()
    w = np.random.default_rng(3).integers(0, 3, (4, len(y))).astype(float)
    for row in w:
        keep = np.repeat(np.arange(len(y)), row.astype(int))
        assert _weighted_auc(y.astype(float), p, row[None])[0] == auc(y[keep], p[keep])


def test_recent_split_holds_out_the_latest_responses_across_students() -> None:
    times = [np.array([1.0, 2.0, 9.0]), np.array([3.0, 8.0, 10.0]), np.array([4.0])]
    ids = [np.array([1, 2, 9]), np.array([3, 8, 10]), np.array([4])]
    assert recent_split(times, ids, 0.3) == [2, 2, 1]  # 7 responses -> the 2 latest: t=9 and t=10
    assert recent_split(times, ids, 0.45) == [2, 1, 1]  # the 3 latest: also t=8
    assert recent_split(times, ids, 0.0) == [3, 3, 1]
    same_time = [np.zeros(2), np.zeros(2)]
    assert recent_split(same_time, [np.array([1, 4]), np.array([2, 3])], 0.5) == [1, 1]  # ties broken by id
