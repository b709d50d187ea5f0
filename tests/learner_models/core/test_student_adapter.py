"""The meta-learned per-student component (issue 15, point 3) and what the served model believes about a student.

The component's inner loop is online gradient steps on per-student fast weights; only the step sizes are
learned across the population. It must learn to step where students differ in ways the population model
cannot see, learn to stay still where they do not, serve the same numbers as the online pass, and switch
off cleanly for the comparison without it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from learner_models.core import get_model
from learner_models.core.adapter import StudentAdapter
from learner_models.core.beliefs import student_beliefs
from learner_models.core.data import HOUR
from tests.learner_models.core.kt_helpers import QUICK
from tests.learner_models.core.test_item_time import assert_serving_gives_the_online_pass, world

N_SKILLS = 5


def _population(n: int, T: int, seed: int, spread: float) -> tuple[torch.Tensor, ...]:
    """A population model that predicts 0 logits for everyone, and students whose true logit on skill k is
    a per-student ability plus a per-student skill offset (``spread`` their sd; 0 = the model is right)."""
    gen = np.random.default_rng(seed)
    skills = gen.integers(1, N_SKILLS + 1, (n, T))
    truth = (
        spread * gen.normal(size=(n, 1)) + spread * gen.normal(size=(n, N_SKILLS + 1))[np.arange(n)[:, None], skills]
    )
    y = (gen.random((n, T)) < 1 / (1 + np.exp(-truth))).astype(np.float32)
    return (
        torch.zeros(n, T),
        torch.from_numpy(skills),
        torch.from_numpy(y),
        torch.ones(n, T, dtype=torch.bool),
    )


def _loss(adapter: StudentAdapter, batch: tuple[torch.Tensor, ...]) -> float:
    z, sk, y, m = batch
    with torch.no_grad():
        out = adapter.run(z, sk, y, m)[0]
        return float(torch.nn.functional.binary_cross_entropy_with_logits(out, y))


def test_it_learns_to_step_where_students_differ_and_beats_the_population_model_on_new_students():
    torch.manual_seed(0)
    adapter = StudentAdapter(N_SKILLS)
    losses = adapter.fit([_population(300, 40, seed=1, spread=1.0)], iters=80)
    assert losses[-1] < losses[0] - 0.02
    fresh = _population(300, 40, seed=2, spread=1.0)  # students it was not meta-trained on
    off = StudentAdapter(N_SKILLS)
    off.enabled.fill_(0.0)
    assert _loss(off, fresh) == pytest.approx(np.log(2))  # the population model: 0.5 for everyone
    assert _loss(adapter, fresh) < np.log(2) - 0.02
    assert float(adapter.steps()["alpha"].detach()) > 0.1  # a clear per-student ability step


def test_it_learns_to_stay_still_where_the_population_model_is_right():
    torch.manual_seed(0)
    adapter = StudentAdapter(N_SKILLS)
    adapter.fit([_population(300, 40, seed=1, spread=0.0)], iters=80)
    fresh = _population(300, 40, seed=2, spread=0.0)
    off = StudentAdapter(N_SKILLS)
    off.enabled.fill_(0.0)
    assert _loss(adapter, fresh) < _loss(off, fresh) + 0.003  # does not hurt
    assert float(adapter.steps()["alpha"].detach()) < 0.05  # and barely moves


def test_serving_replays_the_training_recursion():
    torch.manual_seed(0)
    adapter = StudentAdapter(N_SKILLS)
    adapter.fit([_population(50, 30, seed=3, spread=1.0)], iters=10)
    z, sk, y, m = _population(1, 30, seed=4, spread=1.0)
    z = z + torch.linspace(-1, 1, 30)
    with torch.no_grad():
        trained, a, u = adapter.run(z, sk, y, m)
    served, a2, u2 = adapter.replay(z[0].numpy(), sk[0].numpy(), y[0].numpy())
    np.testing.assert_allclose(served, trained[0].numpy(), atol=1e-5)
    assert a2 == pytest.approx(float(a[0]), abs=1e-5)
    np.testing.assert_allclose(u2, u[0].numpy(), atol=1e-5)
    # continuing from the middle gives the same end
    mid, a_mid, u_mid = adapter.replay(z[0, :12].numpy(), sk[0, :12].numpy(), y[0, :12].numpy())
    nk = np.bincount(sk[0, :12].numpy(), minlength=N_SKILLS + 1).astype(float)
    rest, a3, u3 = adapter.replay(
        z[0, 12:].numpy(), sk[0, 12:].numpy(), y[0, 12:].numpy(), a=a_mid, u=u_mid, n=12.0, nk=nk
    )
    np.testing.assert_allclose(np.r_[mid, rest], served, atol=1e-9)
    assert a3 == pytest.approx(a2)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    cfg = {**QUICK["best"], "epochs": 12, "student_adapter": True}
    return get_model("best", **cfg).fit(world(200, seed=0), seed=0)


def test_the_served_model_with_fast_weights_gives_the_online_pass(model):
    assert model.adapter_history and model.adapter_history[-1] <= model.adapter_history[0]
    ext, full = assert_serving_gives_the_online_pass(model)
    assert float(ext["ad_a"][0]) == pytest.approx(float(full["ad_a"][0]), abs=1e-6)


def test_switching_the_component_off_gives_the_model_without_it(model):
    s = world(2, seed=9)[1]
    with_it = model.predict_online([s])[0]
    model.net.adapter.enabled.fill_(0.0)
    try:
        without = model.predict_online([s])[0]
        state = model.adapt([s])[0]
        assert float(state["ad_a"][0]) == 0.0 and not state["ad_u"].any()
    finally:
        model.net.adapter.enabled.fill_(1.0)
    assert with_it[0] == pytest.approx(without[0], abs=1e-6)  # no answers yet: nothing to adapt
    assert np.abs(with_it - without).max() > 1e-4  # after some answers the fast weights have moved


def test_a_stack_is_required():
    with pytest.raises(ValueError, match="student_adapter needs stack"):
        get_model("dkt", student_adapter=True)


def test_beliefs_read_the_student_off_the_model(model):
    strong = world(1, seed=3)[0]
    strong.correct[:] = 1
    weak = world(1, seed=3)[0]
    weak.correct[:] = 0
    now = float(strong.timestamps[-1]) + HOUR
    b_strong = student_beliefs(model, model.adapt([strong])[0], range(4), now=now)
    b_weak = student_beliefs(model, model.adapt([weak])[0], range(4), now=now)
    assert b_strong.ability > 0.5 > -0.5 > b_weak.ability  # log-odds above / below a new student
    assert (b_strong.mastery > b_weak.mastery).all()
    assert b_strong.uncertainty is not None and (b_strong.uncertainty >= 0).all()  # 2 members disagree a little
    assert b_strong.forgetting is not None and (b_strong.forgetting > 0).all()  # the world forgets over a week
    assert b_strong.learning_speed is not None and np.isfinite(b_strong.learning_speed).all()
    d = b_strong.as_dict()
    assert [s["skill_id"] for s in d["skills"]] == [0, 1, 2, 3] and d["away_days"] == 7.0
    # without a clock there is no forgetting to read
    assert student_beliefs(model, model.adapt([strong])[0], [0], now=None).forgetting is None


def _slow_starters(n: int, seed: int):
    """Students who get their first two answers right only 15 % of the time, then follow their ability."""
    from learner_models.core.data import StudentSequence

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        th = rng.normal(0.8, 0.6)
        T = int(rng.integers(15, 30))
        sk = rng.integers(0, 4, T)
        p = np.where(np.arange(T) < 2, 0.15, 1 / (1 + np.exp(-th)))
        out.append(StudentSequence(sk, (rng.random(T) < p).astype(np.int64)))
    return out


def test_the_stack_calibrates_a_new_students_first_answers_apart():
    torch.set_num_threads(1)
    train, test = _slow_starters(300, seed=0), _slow_starters(200, seed=1)
    cfg = {**QUICK["best"], "n_models": 1, "use_pre": False, "stack_early": False}
    first = np.array([s.correct[0] for s in test]).mean()

    def error_at_first(model) -> float:
        return abs(float(np.mean([p[0] for p in model.predict_online(test)])) - first)

    plain = get_model("best", **{**cfg, "stack_position": False}).fit(train, seed=0)
    apart = get_model("best", **{**cfg, "stack_position": True}).fit(train, seed=0)
    assert apart.net.stack_w.shape[0] == plain.net.stack_w.shape[0] + 2
    assert error_at_first(apart) < error_at_first(plain)
    assert error_at_first(apart) < 0.05
    # serving a new student uses the same features as the online pass
    empty = apart.adapt([test[0].prefix(0)])[0]
    p0 = apart.predict(empty, test[0].skills[:1])[0]
    assert p0 == pytest.approx(apart.predict_online([test[0]])[0][0], abs=1e-5)


def test_beliefs_of_a_family_that_cannot_extend_a_state_leave_learning_speed_out():
    torch.set_num_threads(1)
    model = get_model("maml", **QUICK["maml"]).fit(world(60, seed=0), seed=0)
    s = world(1, seed=5)[0]
    b = student_beliefs(model, model.adapt([s])[0], [0, 1])
    assert b.learning_speed is None and b.forgetting is None and b.uncertainty is None
    assert b.mastery.shape == (2,) and np.isfinite(b.ability)
