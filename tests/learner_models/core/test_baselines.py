"""BKT, PFA and Elo on small hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from learner_models.core import StudentSequence, get_model
from learner_models.core.baselines import BKTNet, bkt_step, elo_update


def _seq(skills, correct):
    return StudentSequence(np.array(skills, dtype=np.int64), np.array(correct, dtype=np.int64))


TRAIN = [_seq([0, 1, 1, 0], [1, 0, 1, 1]), _seq([1, 0], [0, 0])]


def test_bkt_step_hand_worked():
    # L0=0.3, T=0.1, G=0.2, S=0.1. Correct: P(c)=.3*.9+.7*.2=.41; post=.27/.41; next=post+(1-post)*.1
    pc, pk = bkt_step(0.3, 1, learn=0.1, guess=0.2, slip=0.1)
    assert pc == pytest.approx(0.41)
    assert pk == pytest.approx(0.27 / 0.41 + (1 - 0.27 / 0.41) * 0.1)
    # then wrong: P(c)=pk*.9+(1-pk)*.2; post=pk*.1/(1-P(c))
    pc2, pk2 = bkt_step(pk, 0, learn=0.1, guess=0.2, slip=0.1)
    assert pc2 == pytest.approx(0.692683 * 0.9 + 0.307317 * 0.2, abs=1e-6)
    post = 0.692683 * 0.1 / (1 - pc2)
    assert pk2 == pytest.approx(post + (1 - post) * 0.1, abs=1e-6)
    assert pk2 == pytest.approx(0.2978328, abs=1e-6)


def _set_bkt(model, L0, T, G, S):
    lg = torch.logit(torch.tensor([L0, T, G / model.net.cap, S / model.net.cap]))
    with torch.no_grad():
        model.net.logits.copy_(lg.repeat(model.net.logits.shape[0], 1))


def test_bkt_model_online_predictions_hand_worked():
    m = get_model("bkt", iters=2).fit(TRAIN)
    _set_bkt(m, 0.3, 0.1, 0.2, 0.1)
    p = m.predict_online([_seq([0, 0, 1, 0], [1, 0, 1, 1])])[0]
    # id 0 sees correct then wrong; id 1 starts fresh at P(c)=.41; id 0 third time uses pk2
    assert p[0] == pytest.approx(0.41)
    assert p[1] == pytest.approx(0.684878, abs=1e-6)
    assert p[2] == pytest.approx(0.41)
    assert p[3] == pytest.approx(0.2978328 * 0.9 + (1 - 0.2978328) * 0.2, abs=1e-6)
    # the HMM forward pass used for fitting agrees with the scalar recursion
    net = BKTNet(1, 0.5)
    with torch.no_grad():
        net.logits.copy_(m.net.logits[:2])
    out = net(torch.tensor([1]), torch.tensor([[1.0, 0.0, 1.0]]), torch.ones(1, 3, dtype=torch.bool))
    np.testing.assert_allclose(out[0, :2].detach().numpy(), [0.41, 0.684878], atol=1e-6)
    # adapt + predict gives the same number as the online pass
    st = m.adapt([_seq([0, 0], [1, 0])])[0]
    assert m.predict(st, [0])[0] == pytest.approx(p[3], abs=1e-6)


def test_bkt_fit_learns_sensible_parameters():
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(200):  # true L0=.2, T=.3, G=.15, S=.1 on one skill
        know, ys = rng.random() < 0.2, []
        for _ in range(8):
            ys.append(int(rng.random() < (0.9 if know else 0.15)))
            know = know or rng.random() < 0.3
        seqs.append(_seq([0] * 8, ys))
    m = get_model("bkt", iters=150).fit(seqs)
    L0, T, G, S = (float(x[1].detach()) for x in m.net.params())
    assert 0.05 < L0 < 0.4 and 0.15 < T < 0.5 and G < 0.3 and S < 0.2


def test_elo_update_hand_worked():
    p, th, _ = elo_update(0.0, 0.0, 1, k=0.4)
    assert (p, th) == (0.5, pytest.approx(0.2))
    p2, th2, _ = elo_update(th, 0.5, 0, k=0.4)
    assert p2 == pytest.approx(1 / (1 + math.exp(0.3)))
    assert th2 == pytest.approx(0.2 - 0.4 * p2)


def test_elo_model_uses_fitted_difficulty_and_online_ability():
    m = get_model("elo").fit(TRAIN)
    with torch.no_grad():
        m.net.difficulty.copy_(torch.tensor([0.0, 0.0, 0.5], dtype=torch.float64))  # row 0 = unseen ids
    p = m.predict_online([_seq([0, 1], [1, 0])])[0]
    np.testing.assert_allclose(p, [0.5, 1 / (1 + math.exp(0.3))])
    st = m.adapt([_seq([0, 1], [1, 0])])[0]
    assert float(st["theta"]) == pytest.approx(0.2 - 0.4 / (1 + math.exp(0.3)))
    # an id never seen in training gets the unseen-id row, not an error
    assert m.predict(st, [999])[0] == pytest.approx(1 / (1 + math.exp(-float(st["theta"]))))


def test_pfa_hand_worked():
    m = get_model("pfa").fit(TRAIN)
    with torch.no_grad():
        for p in m.net.parameters():
            p.zero_()
        m.net.bias.fill_(-0.5)
        m.net.beta[1] = 0.3  # raw id 0 -> row 1
        m.net.gamma[1] = 0.8
        m.net.rho[1] = -0.4
        m.net.glob.copy_(torch.tensor([0.1, -0.2]))
    p = m.predict_online([_seq([0, 0, 0], [1, 0, 1])])[0]
    l2 = math.log(2)
    want = [-0.5 + 0.3, -0.5 + 0.3 + 0.8 * l2 + 0.1 * l2, -0.5 + 0.3 + 0.8 * l2 - 0.4 * l2 + 0.1 * l2 - 0.2 * l2]
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-np.array(want))), rtol=1e-6)
    st = m.adapt([_seq([0, 0], [1, 0])])[0]
    assert m.predict(st, [0])[0] == pytest.approx(p[2], rel=1e-6)
