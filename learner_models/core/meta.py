"""Optimisation-based family: MAML, first-order MAML, Reptile and Meta-SGD.

Slow weights (meta-trained across students): an embedding and an easiness bias
per id. Fast weights (the per-student state, dim+1 floats): a linear head on
the id embedding, i.e. a multidimensional ability vector. A student is adapted
by a few gradient steps on their support responses, starting from a
meta-learned initialisation. `inner_adapt` is the ONE adaptation function used
for meta-training, evaluation and serving; it is batched over students with
torch.func.vmap (functional_call + grad), never a Python loop over students.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from .base import LearnerModel, State, emit
from .data import StudentSequence, split_students
from .evaluate import auc
from .train import fit_platt

ALGOS = ("maml", "fomaml", "reptile", "metasgd")


@dataclass
class FastWeightConfig:
    algo: str = "maml"  # maml | fomaml | reptile | metasgd
    dim: int = 16
    inner_steps: int = 3
    inner_lr: float = 1.0
    prior_count: float = 4.0  # support loss is sum / (n + prior_count): few responses move the weights less
    window: int = 200  # support = the student's last `window` responses
    query: int = 10
    batch: int = 256  # students (episodes) per meta-update
    steps: int = 1500
    lr: float = 1e-2
    time_budget_s: float = 150.0


class FastWeightNet(nn.Module):
    calib: torch.Tensor  # (2,) buffer: Platt scale and shift

    def __init__(self, cfg: FastWeightConfig, n_ids: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(n_ids + 1, cfg.dim)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.bias = nn.Embedding(n_ids + 1, 1)
        nn.init.zeros_(self.bias.weight)
        self.head = nn.Linear(cfg.dim, 1)  # its parameters are the fast-weight initialisation
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # Meta-SGD learns these; the other algorithms keep them fixed at inner_lr
        self.alpha = nn.ParameterDict(
            {
                k: nn.Parameter(torch.full_like(v, cfg.inner_lr), requires_grad=cfg.algo == "metasgd")
                for k, v in self.head.named_parameters()
            }
        )
        self.register_buffer("calib", torch.tensor([1.0, 0.0]))

    def fast0(self) -> dict[str, torch.Tensor]:
        return dict(self.head.named_parameters())


def fw_logits(head: nn.Module, fast: dict[str, torch.Tensor], e: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """e (N, d), b (N,) -> logits (N,) using the student's fast weights."""
    return functional_call(head, fast, (e,)).squeeze(-1) + b


def support_loss(fast, head, e, b, y, m, prior_count: float) -> torch.Tensor:
    lg = fw_logits(head, fast, e, b)
    return (F.binary_cross_entropy_with_logits(lg, y, reduction="none") * m).sum() / (m.sum() + prior_count)


def inner_adapt(
    fast0: dict[str, torch.Tensor],
    alpha: dict[str, torch.Tensor],
    head: nn.Module,
    e: torch.Tensor,
    b: torch.Tensor,
    y: torch.Tensor,
    m: torch.Tensor,
    steps: int,
    prior_count: float,
    first_order: bool,
) -> dict[str, torch.Tensor]:
    """One student: `steps` SGD steps on the support loss. Differentiable (second order) unless first_order."""
    fast = fast0
    for _ in range(steps):
        g = grad(support_loss)(fast, head, e, b, y, m, prior_count)
        fast = {k: fast[k] - alpha[k] * (g[k].detach() if first_order else g[k]) for k in fast}
    return fast


def batched_adapt(net: FastWeightNet, e, b, y, m, steps: int, prior_count: float, first_order: bool):
    """Students along dim 0: e (B, W, d), b/y/m (B, W) -> fast weights with a leading B dim."""
    fn = partial(inner_adapt, steps=steps, prior_count=prior_count, first_order=first_order)
    alpha = dict(net.alpha.items())
    return vmap(fn, in_dims=(None, None, None, 0, 0, 0, 0))(net.fast0(), alpha, net.head, e, b, y, m)


def batched_logits(net: FastWeightNet, fast: dict[str, torch.Tensor], e: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """fast with leading B dim, e (B, Q, d), b (B, Q) -> (B, Q)."""
    return vmap(fw_logits, in_dims=(None, 0, 0, 0))(net.head, fast, e, b)


def meta_loss(net: FastWeightNet, algo: str, cfg: FastWeightConfig, s_ids, s_y, s_m, q_ids, q_y, q_m) -> torch.Tensor:
    """Outer objective whose gradient is the algorithm's meta-update direction.

    maml/metasgd: query loss through the differentiated inner loop (second order).
    fomaml: same, inner gradients treated as constants.
    reptile: 0.5*|phi0 - phi_K|^2 (gradient = phi0 - phi_K, phi_K adapted on support+query), plus the
    query loss at the detached phi_K to train the shared embeddings.
    """
    e_s, b_s = net.emb(s_ids), net.bias(s_ids).squeeze(-1)
    e_q, b_q = net.emb(q_ids), net.bias(q_ids).squeeze(-1)
    if algo == "reptile":
        e_all, b_all = torch.cat([e_s, e_q], 1), torch.cat([b_s, b_q], 1)
        fast = batched_adapt(
            net,
            e_all.detach(),
            b_all.detach(),
            torch.cat([s_y, q_y], 1),
            torch.cat([s_m, q_m], 1),
            cfg.inner_steps,
            cfg.prior_count,
            True,
        )
        fast = {k: v.detach() for k, v in fast.items()}
        pull = sum(
            0.5 * ((p0 - fast[k]) ** 2).sum(tuple(range(1, fast[k].dim()))).mean() for k, p0 in net.fast0().items()
        )
        lg = batched_logits(net, fast, e_q, b_q)
        return pull + (F.binary_cross_entropy_with_logits(lg, q_y, reduction="none") * q_m).sum() / q_m.sum()
    fast = batched_adapt(net, e_s, b_s, s_y, s_m, cfg.inner_steps, cfg.prior_count, algo == "fomaml")
    lg = batched_logits(net, fast, e_q, b_q)
    return (F.binary_cross_entropy_with_logits(lg, q_y, reduction="none") * q_m).sum() / q_m.sum()


class _Flat:
    """All training students concatenated, for vectorised episode sampling."""

    def __init__(self, ids: list[np.ndarray], ys: list[np.ndarray]) -> None:
        self.lens = np.array([len(i) for i in ids])
        self.off = np.concatenate([[0], np.cumsum(self.lens)[:-1]])
        self.ids = np.concatenate(ids)
        self.y = np.concatenate(ys).astype(np.float32)

    def window(self, stud: np.ndarray, start: np.ndarray, width: int, stop: np.ndarray):
        """Rows of `width` positions start..start+width-1, masked to [0, stop)."""
        pos = start[:, None] + np.arange(width)[None, :]
        m = (pos >= 0) & (pos < stop[:, None])
        flat = np.where(m, self.off[stud][:, None] + pos, 0)
        return self.ids[flat] * m, self.y[flat] * m, m.astype(np.float32)


class FastWeightKT(LearnerModel):
    name = "maml"
    Config = FastWeightConfig
    net: FastWeightNet  # built by fit / load (optional in the base class until then)

    def _build(self) -> FastWeightNet:
        if self.config.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}")
        return FastWeightNet(self.config, self.vocab.n_skills)

    def _tensors(self, *arrs):
        return [torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrs]

    def _fit(self, seqs, callbacks, seed) -> None:
        c = self.config
        tr, va = split_students(len(seqs), 0.1, seed)
        flat = _Flat([self.vocab.map_skills(seqs[i].skills) for i in tr], [seqs[i].correct for i in tr])
        val = [seqs[i] for i in va]
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam([p for p in self.net.parameters() if p.requires_grad], lr=c.lr)
        t0, ema = time.time(), None
        for step in range(1, c.steps + 1):
            stud = rng.integers(0, len(flat.lens), c.batch)
            L = flat.lens[stud]
            early = rng.random(c.batch) < 0.5  # half the episodes are cold-start (few support responses)
            cut = np.where(early, rng.integers(0, np.minimum(L, 11)), (rng.random(c.batch) * L).astype(int))
            s_ids, s_y, s_m = flat.window(stud, cut - c.window, c.window, cut)
            q_ids, q_y, q_m = flat.window(stud, cut, c.query, L)
            t = self._tensors(s_ids, s_y, s_m, q_ids, q_y, q_m)
            self.net.train()
            loss = meta_loss(self.net, c.algo, c, *t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ema = float(loss.detach()) if ema is None else 0.95 * ema + 0.05 * float(loss.detach())
            over = time.time() - t0 > c.time_budget_s
            if step % 100 == 0 or step == c.steps or over:
                va_auc = None
                if step % 500 == 0 or step == c.steps or over:
                    lg = self._online_logits([s.prefix(50) for s in val])
                    va_auc = auc(np.concatenate([s.correct[:50] for s in val]), np.concatenate(lg))
                emit(callbacks, stage="meta-train", epoch=step, loss=ema, val_auc=va_auc, percent=100 * step / c.steps)
            if over:
                break
        logits = np.concatenate(self._online_logits(val))
        scale, shift = fit_platt(logits, np.concatenate([s.correct for s in val]).astype(np.float64))
        self.net.calib.copy_(torch.tensor([scale, shift]))

    def _online_logits(self, seqs: list[StudentSequence], chunk: int = 2048) -> list[np.ndarray]:
        """Every position of every student, adapted on the `window` responses before it (batched)."""
        c = self.config
        flat = _Flat([self.vocab.map_skills(s.skills) for s in seqs], [s.correct for s in seqs])
        stud = np.repeat(np.arange(len(seqs)), flat.lens)
        pos = np.concatenate([np.arange(n) for n in flat.lens])
        out = np.empty(len(pos), dtype=np.float32)
        self.net.eval()
        with torch.no_grad():
            for a in range(0, len(pos), chunk):
                st, ps = stud[a : a + chunk], pos[a : a + chunk]
                s_ids, s_y, s_m = flat.window(st, ps - c.window, c.window, ps)
                q_ids, _, _ = flat.window(st, ps, 1, ps + 1)
                s_ids, s_y, s_m, q_ids = self._tensors(s_ids, s_y, s_m, q_ids)
                fast = self._serve_adapt(s_ids, s_y, s_m)
                lg = batched_logits(self.net, fast, self.net.emb(q_ids), self.net.bias(q_ids).squeeze(-1))[:, 0]
                out[a : a + chunk] = (self.net.calib[0] * lg + self.net.calib[1]).cpu().numpy()
        return np.split(out, np.cumsum(flat.lens)[:-1])

    def _serve_adapt(self, s_ids, s_y, s_m):
        """The shared inner loop on support windows, as evaluation and serving run it (no meta-gradient)."""
        c = self.config
        net = self.net
        return batched_adapt(
            net, net.emb(s_ids), net.bias(s_ids).squeeze(-1), s_y, s_m, c.inner_steps, c.prior_count, True
        )

    def _predict_online(self, seqs):
        return [1 / (1 + np.exp(-z)) for z in self._online_logits(seqs)]

    def _adapt(self, seqs):
        c = self.config
        flat = _Flat([self.vocab.map_skills(s.skills) for s in seqs], [s.correct for s in seqs])
        stud = np.arange(len(seqs))
        s_ids, s_y, s_m = flat.window(stud, flat.lens - c.window, c.window, flat.lens)
        s_ids, s_y, s_m = self._tensors(s_ids, s_y, s_m)
        fast = self._serve_adapt(s_ids, s_y, s_m)
        return [{k: v[i].clone() for k, v in fast.items()} for i in range(len(seqs))]

    def _empty_state(self) -> State:
        return {k: v.detach().clone() for k, v in self.net.fast0().items()}

    def _predict_logits(self, state, skills, items):
        lg = fw_logits(self.net.head, state, self.net.emb(skills), self.net.bias(skills).squeeze(-1))
        return self.net.calib[0] * lg + self.net.calib[1]
