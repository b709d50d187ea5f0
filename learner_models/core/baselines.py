"""Classic baselines on the same interface: Elo / 1PL IRT, PFA and BKT.

They are the anchors the meta-learned models must beat, and the fallbacks a
tutor can explain to a teacher. Each keeps its fitted parameters in a tiny
nn.Module so checkpoints work the same way as for the neural models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import LearnerModel, State, emit
from .data import StudentSequence, Vocab, count_features_before, count_features_from_state, count_totals


def _mapped(model: LearnerModel, s: StudentSequence) -> np.ndarray:
    return model.vocab.map_skills(s.skills)


# ---------------------------------------------------------------------------- Elo


@dataclass
class EloConfig:
    k: float = 0.4  # ability step per response
    k_item: float = 0.05  # difficulty step while fitting
    passes: int = 3


class EloNet(nn.Module):
    difficulty: torch.Tensor  # (n_ids + 1,) float64 buffer
    k: torch.Tensor  # scalar float64 buffer: the update step

    def __init__(self, n_ids: int, k: float) -> None:
        super().__init__()
        self.register_buffer("difficulty", torch.zeros(n_ids + 1, dtype=torch.float64))
        self.register_buffer("k", torch.tensor(k, dtype=torch.float64))


_Num = TypeVar("_Num", float, np.ndarray)


def elo_update(theta: _Num, difficulty: _Num, correct: _Num, k: float, k_item: float = 0.0) -> tuple[_Num, _Num, _Num]:
    """The one Elo update: (P(correct) before the answer, ability after it, difficulty after it).

    P = sigmoid(theta - difficulty), computed so that exp never overflows however far apart the two are.
    The ability moves by k times the surprise (answer - P), the difficulty by k_item against it (0 while
    serving: difficulties are fitted, then fixed). Plain floats for one student (several times faster
    than size-1 arrays) or NumPy arrays for a batch of students, elementwise.
    """
    p = _sigmoid(theta - difficulty)
    surprise = correct - p
    return p, theta + k * surprise, difficulty - k_item * surprise


def _sigmoid(z: _Num) -> _Num:
    if isinstance(z, np.ndarray):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    e1 = math.exp(-abs(z))
    return 1.0 / (1.0 + e1) if z >= 0 else e1 / (1.0 + e1)


class EloKT(LearnerModel):
    """Ability theta per student (the state: one float); difficulty per id fitted by Elo passes."""

    name = "elo"
    Config = EloConfig
    net: EloNet  # built by fit / load (optional in the base class until then)

    def _build(self) -> EloNet:
        return EloNet(self.vocab.n_skills, self.config.k)

    def _fit(self, seqs, callbacks, seed) -> None:
        d = np.zeros(self.vocab.n_skills + 1)
        c = self.config
        for ep in range(c.passes):
            for s in seqs:
                th = 0.0
                for q, y in zip(_mapped(self, s).tolist(), s.correct.tolist(), strict=True):
                    _, th, d[q] = elo_update(th, float(d[q]), y, c.k, c.k_item)
            emit(callbacks, stage="epoch", epoch=ep + 1, loss=None, val_auc=None, percent=100 * (ep + 1) / c.passes)
        seen = self.vocab.seen_skills.nonzero()[0] + 1
        d[0] = d[seen].mean() if len(seen) else 0.0  # unseen ids: average difficulty
        self.net.difficulty.copy_(torch.from_numpy(d))

    def _run(self, s: StudentSequence, theta: float = 0.0) -> tuple[np.ndarray, float]:
        d, k = self.net.difficulty.cpu().numpy(), float(self.net.k)
        th, ps = theta, []
        for q, y in zip(_mapped(self, s).tolist(), s.correct.tolist(), strict=True):
            p, th, _ = elo_update(th, float(d[q]), y, k)
            ps.append(p)
        return np.array(ps), th

    def _predict_online(self, seqs):
        return [self._run(s)[0] for s in seqs]

    def _adapt(self, seqs):
        return [{"theta": torch.tensor([self._run(s)[1]], dtype=torch.float64)} for s in seqs]

    def _empty_state(self) -> State:
        return {"theta": torch.zeros(1, dtype=torch.float64)}

    def _extend(self, state, new):
        theta = self._run(new, float(state["theta"][0]))[1]
        return {"theta": torch.tensor([theta], dtype=torch.float64)}

    def _predict_logits(self, state, skills, items):
        return (state["theta"] - self.net.difficulty[skills]).float()


def item_easiness(seqs: list[StudentSequence], vocab: Vocab, shrink: float) -> np.ndarray:
    """(n_items + 1,) float32: each item's log-odds of a correct answer minus its skill's, from the responses
    in ``seqs``, with ``shrink`` pseudo-responses at the skill's rate added to the item's own. A Rasch-style
    item easiness that backs off to the skill: rare items come out near 0, unseen ones (row 0) exactly 0.
    """
    out = np.zeros(vocab.n_items + 1, dtype=np.float64)
    if vocab.n_items == 0:
        return out.astype(np.float32)
    sk = [vocab.map_skills(s.skills) for s in seqs]
    it = [vocab.map_items(s.items, len(s)) for s in seqs]
    skills, items = np.concatenate(sk), np.concatenate(it)
    y = np.concatenate([s.correct for s in seqs]).astype(np.float64)
    n_s = np.bincount(skills, minlength=vocab.n_skills + 1)
    rate_s = (np.bincount(skills, y, minlength=vocab.n_skills + 1) + 1.0) / (n_s + 2.0)
    prior = rate_s[skills]  # (N,) the skill's rate for each response
    n_i = np.bincount(items, minlength=len(out)).astype(np.float64)
    y_i = np.bincount(items, y, minlength=len(out))
    p_i = np.bincount(items, prior, minlength=len(out)) / np.maximum(n_i, 1.0)  # mean skill rate of the item
    ok = n_i > 0
    shrunk = (y_i[ok] + shrink * p_i[ok]) / (n_i[ok] + shrink)
    out[ok] = _logit(shrunk) - _logit(p_i[ok])
    out[0] = 0.0
    return out.astype(np.float32)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


# ---------------------------------------------------------------------------- PFA


@dataclass
class PFAConfig:
    C: float = 1.0  # inverse L2 strength on the summed log loss, as scikit-learn's LogisticRegression
    iters: int = 300


class PFANet(nn.Module):
    """logit = beta_id + gamma_id*log1p(successes on id) + rho_id*log1p(failures on id) + global counts terms."""

    def __init__(self, n_ids: int) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.zeros(n_ids + 1))
        self.gamma = nn.Parameter(torch.zeros(n_ids + 1))
        self.rho = nn.Parameter(torch.zeros(n_ids + 1))
        self.glob = nn.Parameter(torch.zeros(2))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, ids: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """ids (N,), counts (N, 4) = log1p(succ id, fail id, succ all, fail all) -> logits (N,)."""
        return (
            self.bias
            + self.beta[ids]
            + self.gamma[ids] * counts[:, 0]
            + self.rho[ids] * counts[:, 1]
            + counts[:, 2:] @ self.glob
        )


class PFAKT(LearnerModel):
    name = "pfa"
    Config = PFAConfig
    net: PFANet  # built by fit / load (optional in the base class until then)

    def _build(self) -> PFANet:
        return PFANet(self.vocab.n_skills)

    def _features(self, seqs):
        ids = [_mapped(self, s) for s in seqs]
        cnt = [count_features_before(i, s.correct) for i, s in zip(ids, seqs, strict=True)]
        return ids, cnt

    def _fit(self, seqs, callbacks, seed) -> None:
        ids, cnt = self._features(seqs)
        q = torch.from_numpy(np.concatenate(ids)).to(self.device)
        c = torch.from_numpy(np.concatenate(cnt)).to(self.device)
        y = torch.from_numpy(np.concatenate([s.correct for s in seqs]).astype(np.float32)).to(self.device)
        opt = torch.optim.LBFGS(
            self.net.parameters(), lr=1.0, max_iter=self.config.iters, line_search_fn="strong_wolfe"
        )
        n = len(y)

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(self.net(q, c), y)
            reg = sum((p**2).sum() for name, p in self.net.named_parameters() if name != "bias") / (
                2 * self.config.C * n
            )
            (loss + reg).backward()
            return loss

        loss = opt.step(closure)
        with torch.no_grad():  # unseen ids: average parameters
            seen = torch.from_numpy(self.vocab.seen_skills.nonzero()[0] + 1).to(self.device)
            for p in (self.net.beta, self.net.gamma, self.net.rho):
                p[0] = p[seen].mean()
        emit(callbacks, stage="epoch", epoch=1, loss=float(loss.detach()), val_auc=None, percent=100.0, n=n)

    def _predict_online(self, seqs):
        ids, cnt = self._features(seqs)
        return [
            torch.sigmoid(self.net(torch.from_numpy(i).to(self.device), torch.from_numpy(c).to(self.device)))
            .cpu()
            .numpy()
            for i, c in zip(ids, cnt, strict=False)
        ]

    def _adapt(self, seqs):
        out = []
        n = self.vocab.n_skills + 1
        for s in seqs:
            q, y = torch.from_numpy(_mapped(self, s)), torch.from_numpy(s.correct.astype(np.float32))
            succ, fail = count_totals(q, y, None, n)
            out.append({"succ": succ, "fail": fail})
        return out

    def _empty_state(self) -> State:
        n = self.vocab.n_skills + 1
        return {"succ": torch.zeros(n), "fail": torch.zeros(n)}

    def _extend(self, state, new):
        got = self._adapt([new])[0]
        return {"succ": state["succ"].cpu() + got["succ"], "fail": state["fail"].cpu() + got["fail"]}

    def _predict_logits(self, state, skills, items):
        counts = count_features_from_state(state["succ"], state["fail"], skills)
        return self.net(skills, counts)


# ---------------------------------------------------------------------------- BKT


@dataclass
class BKTConfig:
    iters: int = 60
    lr: float = 0.1
    max_len: int = 200  # per (student, id) subsequence used while fitting
    max_slip_guess: float = 0.5  # keeps the HMM identifiable (guess, slip < 0.5)


_P = TypeVar("_P", float, torch.Tensor)


def bkt_p_correct(p_know: _P, guess: _P, slip: _P) -> _P:
    """P(correct) of an answer given P(known): a known skill slips, an unknown one is guessed."""
    return p_know * (1 - slip) + (1 - p_know) * guess


def bkt_step(p_know: _P, correct: bool | torch.Tensor, learn: _P, guess: _P, slip: _P) -> tuple[_P, _P]:
    """The one BKT step: (P(correct) before answering, P(known) after the answer and the learning transition).

    Plain floats for one student and id (serving, online prediction), or tensors for many (subsequences)
    at once with `correct` a bool tensor (the forward pass the parameters are fitted by).
    """
    pc = bkt_p_correct(p_know, guess, slip)
    if_right, if_wrong = p_know * (1 - slip) / pc, p_know * slip / (1 - pc)
    post: Any  # typed loosely: a TypeVar does not follow an isinstance test on `correct`
    if isinstance(correct, torch.Tensor):
        post = torch.where(correct, if_right, if_wrong)
    else:
        post = if_right if correct else if_wrong
    return pc, post + (1 - post) * learn


class BKTNet(nn.Module):
    """Per-id HMM parameters as logits: prior P(L0), learn P(T), guess P(G), slip P(S)."""

    def __init__(self, n_ids: int, cap: float) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor([-1.0, -2.0, -0.5, -1.0]).repeat(n_ids + 1, 1))  # (S+1, 4)
        self.cap = cap

    def params(self, ids: torch.Tensor | slice = slice(None)) -> tuple[torch.Tensor, ...]:
        p = torch.sigmoid(self.logits[ids])
        return p[..., 0], p[..., 1], p[..., 2] * self.cap, p[..., 3] * self.cap

    def forward(self, ids: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids (N,), y/mask (N, T) one (student, id) subsequence per row -> P(correct) (N, T)."""
        L, T_, G, S = self.params(ids)
        pk, out = L, []
        for t in range(y.shape[1]):
            pc, nxt = bkt_step(pk, y[:, t] > 0, T_, G, S)
            pk = torch.where(mask[:, t], nxt, pk)
            out.append(pc)
        return torch.stack(out, 1)


class BKTKT(LearnerModel):
    """Standard 4-parameter BKT per id, fitted by maximum likelihood on the HMM forward pass."""

    name = "bkt"
    Config = BKTConfig
    net: BKTNet  # built by fit / load (optional in the base class until then)

    def _build(self) -> BKTNet:
        return BKTNet(self.vocab.n_skills, self.config.max_slip_guess)

    def _fit(self, seqs, callbacks, seed) -> None:
        rows: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(seqs):
            for q, y in zip(_mapped(self, s), s.correct, strict=False):
                r = rows.setdefault((i, int(q)), [])
                if len(r) < self.config.max_len:
                    r.append(int(y))
        keys = list(rows)
        N, T = len(keys), max(len(r) for r in rows.values())
        ids = torch.tensor([k[1] for k in keys])
        y = torch.zeros(N, T)
        m = torch.zeros(N, T, dtype=torch.bool)
        for j, k in enumerate(keys):
            r = rows[k]
            y[j, : len(r)] = torch.tensor(r, dtype=torch.float32)
            m[j, : len(r)] = True
        ids, y, m = ids.to(self.device), y.to(self.device), m.to(self.device)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        for it in range(self.config.iters):
            pc = self.net(ids, y, m).clamp(1e-5, 1 - 1e-5)
            loss = -(torch.where(y > 0, pc.log(), (1 - pc).log()) * m).sum() / m.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if it % 5 == 0 or it == self.config.iters - 1:
                emit(
                    callbacks,
                    stage="train",
                    epoch=it + 1,
                    loss=float(loss.detach()),
                    val_auc=None,
                    percent=100 * (it + 1) / self.config.iters,
                )
        with torch.no_grad():
            seen = torch.from_numpy(self.vocab.seen_skills.nonzero()[0] + 1).to(self.device)
            self.net.logits[0] = self.net.logits[seen].mean(0)

    def _run(self, s: StudentSequence) -> tuple[np.ndarray, np.ndarray]:
        """P(correct) of each response given the earlier ones, and P(known) of every id after the last."""
        L, T_, G, S = (x.cpu().numpy().astype(np.float64).tolist() for x in self.net.params())
        pk = list(L)
        ps = np.empty(len(s))
        for t, (q, y) in enumerate(zip(_mapped(self, s).tolist(), s.correct.tolist(), strict=True)):
            ps[t], pk[q] = bkt_step(pk[q], bool(y), T_[q], G[q], S[q])
        return ps, np.array(pk)

    def _predict_online(self, seqs):
        return [self._run(s)[0] for s in seqs]

    def _adapt(self, seqs):
        return [{"p_know": torch.from_numpy(self._run(s)[1]).float()} for s in seqs]

    def _empty_state(self) -> State:
        return {"p_know": self.net.params()[0].detach().float().cpu()}

    def _predict_logits(self, state, skills, items):
        _, _, G, S = self.net.params(skills)
        p = bkt_p_correct(state["p_know"][skills], G, S)
        return torch.logit(p.clamp(1e-6, 1 - 1e-6))
