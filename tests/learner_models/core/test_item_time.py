"""The item-, time- and confidence-aware inputs of `best` (issue 15, point 2).

A synthetic world where the answer depends on the item's own difficulty, on the confidence the student
rated before answering, and on how long ago they last practised the skill (forgetting): the served model
must move its prediction with each of them, and serving a state must give the same numbers as the online
pass the benchmarks score.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from learner_models.core import get_model, state_from_bytes, state_to_bytes
from learner_models.core.baselines import item_easiness
from learner_models.core.data import (
    HOUR,
    StudentSequence,
    Vocab,
    last_times,
    make_batch,
    pre_features,
    pre_features_at,
)
from learner_models.core.sequence import SequenceConfig, SequenceEnsemble
from learner_models.core.train import _drop_items
from tests.learner_models.core.kt_helpers import QUICK

N_SKILLS, ITEMS_PER_SKILL = 4, 5


def world(n_students: int, seed: int) -> list[StudentSequence]:
    """Answers from ability + item easiness + 2.5·(confidence - 0.5) - 0.6·log1p(days since the skill)."""
    rng = np.random.default_rng(seed)
    easy = np.linspace(-1.5, 1.5, N_SKILLS * ITEMS_PER_SKILL)
    rng.shuffle(easy)
    out = []
    for s in range(n_students):
        th = rng.normal(0, 0.8)
        T = int(rng.integers(20, 40))
        sk = rng.integers(0, N_SKILLS, T)
        items = sk * ITEMS_PER_SKILL + rng.integers(0, ITEMS_PER_SKILL, T)
        gaps = np.where(rng.random(T) < 0.3, rng.uniform(1, 30, T) * 24 * HOUR, rng.uniform(20, 120, T))
        ts = 1.7e9 + np.cumsum(gaps)
        conf = rng.random(T)
        y = np.zeros(T, dtype=np.int64)
        last: dict[int, float] = {}
        for t in range(T):
            days = (ts[t] - last[sk[t]]) / (24 * HOUR) if sk[t] in last else 0.0
            z = th + easy[items[t]] + 2.5 * (conf[t] - 0.5) - 0.6 * math.log1p(days)
            y[t] = rng.random() < 1 / (1 + math.exp(-z))
            last[sk[t]] = ts[t]
            th += 0.03
        out.append(
            StudentSequence(sk, y, items=items, confidence=conf, timestamps=ts, student_id=str(s))  # type: ignore[arg-type]
        )
    return out


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return get_model("best", **{**QUICK["best"], "epochs": 12}).fit(world(200, seed=0), seed=0)


def test_item_dropout_hides_item_ids_only_and_leaves_skill_level_data_alone():
    seqs = world(60, seed=3)
    b = make_batch(seqs, Vocab.fit(seqs))
    gen = torch.Generator().manual_seed(0)
    out = _drop_items(b, 0.45, gen)
    real = b.mask & (b.items > 0)
    hidden = real & (out.items == 0)
    assert 0.40 < float(hidden.sum()) / float(real.sum()) < 0.50
    assert torch.equal(out.skills, b.skills) and torch.equal(out.correct, b.correct)
    assert torch.equal(out.items[~hidden], b.items[~hidden])
    # skill-level data (no item ids): unchanged, and no random draw, so skill-only fits are unaffected
    skill_only = [StudentSequence(s.skills, s.correct) for s in seqs]
    b0 = make_batch(skill_only, Vocab.fit(skill_only))
    state = gen.get_state()
    assert _drop_items(b0, 0.45, gen) is b0
    assert torch.equal(gen.get_state(), state)


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_a_dropout_share_outside_0_to_1_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match="item_dropout"):
        get_model("best", item_dropout=value)


def test_pre_features_of_a_sequence_are_hand_computable():
    s = StudentSequence(
        np.array([3, 5, 3]),
        np.array([1, 0, 1]),
        confidence=np.array([0.9, np.nan, 0.2]),
        timestamps=np.array([0.0, 2 * HOUR, 5 * HOUR]),
    )
    f = pre_features(s)
    assert f.shape == (3, 6)
    np.testing.assert_allclose(f[:, 0:2], [[0.9, 1], [0, 0], [0.2, 1]], atol=1e-6)  # this answer's confidence
    np.testing.assert_allclose(f[:, 2:4], [[0, 0], [0, 0], [math.log1p(5), 1]], atol=1e-6)  # since the skill
    np.testing.assert_allclose(f[:, 4:6], [[0, 0], [math.log1p(2), 1], [math.log1p(3), 1]], atol=1e-6)
    # no times and no confidence: all zero, as on the public KT files
    assert not pre_features(StudentSequence(s.skills, s.correct)).any()


def test_served_times_continue_the_sequence():
    s = world(1, seed=3)[0]
    n = 12
    last, t_last = last_times(s.skills[:n], s.timestamps[:n], N_SKILLS)
    got = pre_features_at(last[s.skills[n : n + 1]], t_last, float(s.timestamps[n]), float(s.confidence[n]))
    np.testing.assert_allclose(got[0], pre_features(s.prefix(n + 1))[n], atol=1e-6)


def test_item_easiness_backs_off_to_the_skill_for_rare_and_unseen_items():
    # skill 0: item 0 answered right 50 times of 50, item 1 wrong 50 of 50, item 2 once (right)
    sk = np.zeros(101, dtype=np.int64)
    items = np.r_[np.zeros(50), np.ones(50), [2]].astype(np.int64)
    y = np.r_[np.ones(50), np.zeros(50), [1]].astype(np.int64)
    seqs = [StudentSequence(sk, y, items=items)]
    vocab = Vocab.fit(seqs + [StudentSequence(np.array([0]), np.array([1]), items=np.array([3]))])
    d = item_easiness(seqs, vocab, shrink=10.0)
    easy, hard, rare, unseen = d[vocab.map_items(np.array([0, 1, 2, 3]), 4)]
    assert easy > 1.0 and hard < -1.0  # frequent items keep their own difficulty
    assert 0 < rare < 0.2  # one answer barely moves an item off its skill
    assert unseen == 0.0 and d[0] == 0.0  # never answered in training: the skill alone


def test_serving_a_state_gives_the_online_pass(model):
    assert_serving_gives_the_online_pass(model)


def assert_serving_gives_the_online_pass(model):
    """adapt + predict (at each answer's time, with its rating) equals predict_online, through a stored state;
    extending a state equals adapting the whole history. Returns (extended, adapted) for more checks."""
    s = world(3, seed=7)[2]
    online = model.predict_online([s])[0]
    for t in (0, 1, 9, len(s) - 1):
        state = state_from_bytes(state_to_bytes(model.adapt([s.prefix(t)])[0]))
        p = model.predict(
            state,
            s.skills[t : t + 1],
            s.items[t : t + 1],
            now=float(s.timestamps[t]),
            confidence=float(s.confidence[t]),
        )
        assert p[0] == pytest.approx(online[t], abs=1e-5)
    # extending a state keeps the clock: the same numbers as adapting the whole history
    half = len(s) // 2
    ext = model.extend(model.adapt([s.prefix(half)])[0], s.since(half))
    full = model.adapt([s])[0]
    kw = {"now": float(s.timestamps[-1]) + 3 * 24 * HOUR, "confidence": 0.5}
    np.testing.assert_allclose(
        model.predict(ext, [0, 1, 2], [0, 5, 10], **kw), model.predict(full, [0, 1, 2], [0, 5, 10], **kw), atol=1e-5
    )
    return ext, full


def test_the_prediction_moves_with_confidence_time_and_item(model):
    s = world(1, seed=11)[0]
    state = model.adapt([s])[0]
    t_end = float(s.timestamps[-1])
    q = int(s.skills[-1])
    item = int(s.items[-1])

    def p(now: float, conf: float, item_id: int = item) -> float:
        return float(model.predict(state, [q], [item_id], now=now, confidence=conf)[0])

    soon, later = t_end + 10 * 60, t_end + 60 * 24 * HOUR
    assert p(soon, 0.95) > p(soon, 0.05) + 0.15  # sure students are right more often
    assert p(later, 0.5) < p(soon, 0.5) - 0.05  # two months away: forgotten
    # the skill's easiest item above its hardest (the world's item easiness spans 3 logits)
    easy = (np.linspace(-1.5, 1.5, N_SKILLS * ITEMS_PER_SKILL), np.random.default_rng(0))
    order = easy[0].copy()
    easy[1].shuffle(order)
    own = order[q * ITEMS_PER_SKILL : (q + 1) * ITEMS_PER_SKILL]
    hi, lo = q * ITEMS_PER_SKILL + int(own.argmax()), q * ITEMS_PER_SKILL + int(own.argmin())
    assert p(soon, 0.5, hi) > p(soon, 0.5, lo) + 0.1
    # without a clock or a rating the model still answers (the product before the student rates)
    assert 0 < float(model.predict(state, [q], [item])[0]) < 1


@pytest.mark.parametrize("early", [False, True])
def test_the_stack_weighs_each_early_answer_apart(early):
    """`stack_early` adds an indicator per early position (1st, 2nd, 3rd-5th, 6th-10th) and its product with the
    member's logit; without it the stack is the one older checkpoints were fitted with."""
    cfg = SequenceConfig(n_models=1, stack=True, item_stack=True, stack_position=True, stack_early=early)
    net = SequenceEnsemble(cfg, n_ids=3, n_items=4)
    n = torch.arange(12, dtype=torch.float32)
    inv, *ind = net.position_bases(n)
    assert torch.allclose(inv, 1.0 / (1.0 + n))
    if early:
        assert [int(x.sum()) for x in ind] == [1, 1, 3, 5]
        assert torch.equal(sum(ind), (n < 10).float())  # every one of the first ten answers in exactly one
    else:
        assert ind == []
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(12, generator=gen)
    elo, pfa, item = (torch.randn(12, generator=gen) for _ in range(3))
    pos = net.position_bases(n)
    net.stack_w.copy_(torch.randn(net.stack_w.numel(), generator=gen))
    w = net.stack_w
    assert w.numel() == 5 + 2 * len(pos)  # z, Elo, PFA, item, constant; then each position base and z times it
    expect = w[0] * z + w[1] * elo + w[2] * pfa + w[3] * item + w[-1]
    for j, x in enumerate(pos):
        expect = expect + w[4 + j] * x + w[4 + len(pos) + j] * z * x
    assert torch.allclose(net.combine(z, [elo, pfa, item, *pos]), expect, atol=1e-5)
