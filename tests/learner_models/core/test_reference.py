"""Elo, BKT and the PFA counts against plain reference loops written here.

The core writes each once (`elo_update`, `bkt_step`, `count_features`) and every family uses that one.
Each family's predictions are held to what the textbook loop computes, so any change to a shared
function that alters a family's behaviour fails here.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import torch

from learner_models.core import StudentSequence, get_model
from learner_models.core.baselines import BKTNet
from learner_models.core.data import count_features_before, count_features_from_state, count_totals, make_batch
from tests.learner_models.core.kt_helpers import synth

TRAIN, TEST = synth(60, seed=0), synth(20, seed=1)
# a test student answering an id no train student saw (9): every family must fall back, not fail
TEST.append(StudentSequence(np.array([9, 0, 9, 1]), np.array([1, 0, 0, 1])))


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def ref_elo_fit(seqs, k=0.4, k_item=0.05, passes=3) -> dict[int, float]:
    d: dict[int, float] = {}
    for _ in range(passes):
        for s in seqs:
            th = 0.0
            for q, y in zip(s.skills.tolist(), s.correct.tolist(), strict=True):
                p = _sigmoid(th - d.get(q, 0.0))
                th += k * (y - p)
                d[q] = d.get(q, 0.0) - k_item * (y - p)
    return d


def ref_elo_online(d: dict[int, float], s: StudentSequence, k=0.4) -> tuple[np.ndarray, float]:
    """Logits before each response and the ability after the last; ids never fitted get the mean difficulty."""
    unseen = float(np.mean(list(d.values())))
    th, z = 0.0, []
    for q, y in zip(s.skills.tolist(), s.correct.tolist(), strict=True):
        z.append(th - d.get(q, unseen))
        th += k * (y - _sigmoid(z[-1]))
    return np.array(z), th


def test_elo_model_is_the_plain_elo_loop():
    m = get_model("elo").fit(TRAIN)
    d = ref_elo_fit(TRAIN)
    np.testing.assert_allclose(m.net.difficulty.numpy()[[q + 1 for q in d]], list(d.values()), rtol=0, atol=1e-12)
    got = m.predict_online(TEST)
    for s, state, p in zip(TEST, m.adapt(TEST), got, strict=True):
        z, th = ref_elo_online(d, s)
        np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), rtol=0, atol=1e-12)
        assert abs(float(state["theta"]) - th) < 1e-12


def test_best_stacks_the_plain_elo_loop(fitted, data):
    """`best` fits its Elo member on all training students; its batched and one-student online passes are
    the same loop."""
    m = fitted("best")
    train, test = data
    d = ref_elo_fit(train)
    np.testing.assert_allclose(m.net.elo.difficulty.numpy()[[q + 1 for q in d]], list(d.values()), atol=1e-12)
    seqs = [*test[:12], TEST[-1]]
    z, theta = m.net.elo_logits(make_batch(seqs, m.vocab, features=False))
    for i, s in enumerate(seqs):
        want_z, want_th = ref_elo_online(d, s)
        np.testing.assert_allclose(z[i, : len(s)].numpy(), want_z, atol=1e-6)
        assert abs(float(theta[i]) - want_th) < 1e-6
        z1, theta1 = m.net.elo_logits(make_batch([s], m.vocab, features=False))
        np.testing.assert_allclose(z1[0].numpy(), want_z, atol=1e-6)
        assert abs(float(theta1[0]) - want_th) < 1e-6


def ref_bkt(params, ids, y) -> tuple[list[float], dict[int, float]]:
    """P(correct) before each response and P(known) per id after the last; params[id] = (L0, T, G, S)."""
    known: dict[int, float] = {}
    out = []
    for q, c in zip(ids, y, strict=True):
        L0, T, G, S = params[q]
        pk = known.get(q, L0)
        pc = pk * (1 - S) + (1 - pk) * G
        post = pk * (1 - S) / pc if c else pk * S / (1 - pc)
        known[q] = post + (1 - post) * T
        out.append(pc)
    return out, known


def test_bkt_model_is_the_plain_hmm_forward_loop():
    m = get_model("bkt", iters=5).fit(TRAIN)
    L0, T, G, S = (x.detach().double().numpy() for x in m.net.params())
    params = {q: (L0[q], T[q], G[q], S[q]) for q in range(len(L0))}
    for s, p, state in zip(TEST, m.predict_online(TEST), m.adapt(TEST), strict=True):
        ids = m.vocab.map_skills(s.skills).tolist()
        want, known = ref_bkt(params, ids, s.correct.tolist())
        np.testing.assert_allclose(p, want, rtol=0, atol=1e-12)
        for q in set(ids):
            pk = known[q]
            assert abs(float(m.predict(state, [q - 1 if q else 9])[0]) - (pk * (1 - S[q]) + (1 - pk) * G[q])) < 1e-6


def test_bkt_fitting_forward_pass_is_the_plain_loop():
    """The batched pass the parameters are fitted by: one (student, id) subsequence a row, padding held."""
    torch.manual_seed(0)
    net = BKTNet(3, 0.5)
    with torch.no_grad():
        net.logits.normal_()
    rows = [[1, 0, 0, 1, 1], [0, 1], [1, 1, 1, 0]]
    ids = torch.tensor([1, 3, 2])
    y = torch.zeros(3, 5)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    for r, row in enumerate(rows):
        y[r, : len(row)] = torch.tensor(row, dtype=torch.float32)
        mask[r, : len(row)] = True
    got = net(ids, y, mask).detach().double().numpy()
    L0, T, G, S = (x.detach().double().numpy() for x in net.params())
    for r, row in enumerate(rows):
        q = int(ids[r])
        want, _ = ref_bkt({q: (L0[q], T[q], G[q], S[q])}, [q] * len(row), row)
        np.testing.assert_allclose(got[r, : len(row)], want, atol=1e-6)


def ref_counts(skills, correct) -> np.ndarray:
    """log1p of (successes on this id, failures on it, successes overall, failures overall) before each response."""
    succ, fail = defaultdict(int), defaultdict(int)
    out = []
    for q, y in zip(skills, correct, strict=True):
        out.append([succ[q], fail[q], sum(succ.values()), sum(fail.values())])
        (succ if y else fail)[q] += 1
    return np.log1p(np.array(out, dtype=np.float64).reshape(-1, 4))


def test_count_features_from_a_sequence_and_from_a_state_are_the_plain_counts():
    for s in TEST:
        want = ref_counts(s.skills.tolist(), s.correct.tolist())
        np.testing.assert_allclose(count_features_before(s.skills, s.correct), want, rtol=1e-6)
        # a state's totals after t responses give response t's features
        for t in range(len(s)):
            q = torch.from_numpy(s.skills[:t])
            succ, fail = count_totals(q, torch.from_numpy(s.correct[:t]).float(), None, 12)
            got = count_features_from_state(succ, fail, torch.from_numpy(s.skills[t : t + 1]))
            np.testing.assert_allclose(got[0].numpy(), want[t], rtol=1e-6)
    # padded batches: padding counts as nothing
    b = make_batch(TEST[:5], get_model("pfa").fit(TRAIN).vocab)
    succ, fail = count_totals(b.skills, b.correct, b.mask, 12)
    assert succ.sum() + fail.sum() == sum(len(s) for s in TEST[:5])


def test_pfa_model_is_the_plain_logistic_formula_on_the_plain_counts():
    m = get_model("pfa").fit(TRAIN)
    beta, gamma, rho = (x.detach().double().numpy() for x in (m.net.beta, m.net.gamma, m.net.rho))
    glob, bias = m.net.glob.detach().double().numpy(), float(m.net.bias.detach())
    for s, p in zip(TEST, m.predict_online(TEST), strict=True):
        c = ref_counts(s.skills.tolist(), s.correct.tolist())
        q = m.vocab.map_skills(s.skills)
        z = bias + beta[q] + gamma[q] * c[:, 0] + rho[q] * c[:, 1] + c[:, 2:] @ glob
        np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), atol=1e-6)
        # adapt + predict on the prefix gives the last response's prediction
        state = m.adapt([s.prefix(len(s) - 1)])[0]
        assert abs(float(m.predict(state, s.skills[-1:])[0]) - p[-1]) < 1e-6
