"""A meta-learned per-student component on top of a model's logit: per-student fast weights.

Each student carries their own weights, an ability offset ``a`` and one offset per skill ``u[k]``, added to
the population model's logit: ``z' = z + a + u[k]``. After each answer they take one gradient step of the
log-loss on that answer (the inner loop, ``g = y - sigmoid(z')``)::

    a    <- a    + alpha / (1 + c * n)      * g      n    = the student's answers so far
    u[k] <- u[k] + beta_k / (1 + c_k * n_k) * g      n_k  = their answers on skill k so far

The step sizes (``alpha``, a per-skill ``beta_k``) and how fast they shrink (``c``, ``c_k``) are learned
across the population (Meta-SGD with an online inner loop): the outer loop minimises the log-loss of every
adapted prediction of held-out students, back-propagated through their whole sequence of inner steps. With
all steps at 0 the component is the identity, so it can only help where the population data says so; the
comparison with and without it is in docs/decisions/0007-per-student-adapter.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class StudentAdapter(nn.Module):
    """Learned inner-loop step sizes for per-student fast weights (ability and per-skill offsets)."""

    enabled: torch.Tensor  # () buffer: 1.0, or 0.0 to serve the model without the component (ablation)

    def __init__(self, n_ids: int, init_step: float = 0.05) -> None:
        super().__init__()
        raw = math.log(math.expm1(init_step))  # softplus^-1
        self.alpha_raw = nn.Parameter(torch.tensor(raw))
        self.beta_raw = nn.Parameter(torch.tensor(raw))
        self.beta_skill = nn.Parameter(torch.zeros(n_ids + 1))  # per-skill deviation of beta (log scale)
        self.c_raw = nn.Parameter(torch.tensor(-2.0))  # shrinkage of the ability step with the answers
        self.ck_raw = nn.Parameter(torch.tensor(-2.0))  # shrinkage of a skill's step with its answers
        self.register_buffer("enabled", torch.tensor(1.0))

    def steps(self) -> dict[str, torch.Tensor]:
        """Step sizes (0 when switched off) and shrinkage rates; ``beta`` (n_ids + 1,)."""
        return {
            "alpha": F.softplus(self.alpha_raw) * self.enabled,
            "beta": F.softplus(self.beta_raw) * torch.exp(self.beta_skill) * self.enabled,
            "c": F.softplus(self.c_raw),
            "ck": F.softplus(self.ck_raw),
        }

    def run(
        self, z: torch.Tensor, skills: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Adapted logits (B, T) of a batch from each student's prior (differentiable, for meta-training),
        and the final ``a`` (B,) and ``u`` (B, n_ids + 1)."""
        s = self.steps()
        B, T = z.shape
        rows = torch.arange(B, device=z.device)
        a = z.new_zeros(B)
        u = z.new_zeros(B, s["beta"].shape[0])
        n = z.new_zeros(B)
        nk = z.new_zeros(B, s["beta"].shape[0])
        out = []
        for t in range(T):
            k, m = skills[:, t], mask[:, t].to(z.dtype)
            zt = z[:, t] + a + u[rows, k]
            out.append(zt)
            g = (y[:, t] - torch.sigmoid(zt)) * m
            a = a + s["alpha"] / (1 + s["c"] * n) * g
            du = s["beta"][k] / (1 + s["ck"] * nk[rows, k]) * g
            u = u + F.one_hot(k, u.shape[1]).to(z.dtype) * du[:, None]
            n = n + m
            nk = nk + F.one_hot(k, u.shape[1]).to(z.dtype) * m[:, None]
        return torch.stack(out, 1), a, u

    def fit(self, batches: Sequence[tuple[torch.Tensor, ...]], iters: int = 60, lr: float = 0.05) -> list[float]:
        """Meta-train the step sizes on held-out students' logits: ``batches`` of (z, skills, y, mask), each
        (B, T), z without the component. Returns the mean log-loss per outer step (the first is the model's
        own: every fast weight starts at 0)."""
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        n_tok = sum(float(b[3].sum()) for b in batches)
        losses = []
        for _ in range(iters):
            opt.zero_grad()
            total = 0.0
            for z, skills, y, mask in batches:
                adapted = self.run(z, skills, y, mask)[0]
                loss = F.binary_cross_entropy_with_logits(adapted[mask], y[mask], reduction="sum") / n_tok
                loss.backward()
                total += float(loss.detach())
            # a weak pull of the per-skill deviations towards the shared step (rare skills keep it)
            reg = 1e-4 * self.beta_skill.pow(2).sum()
            reg.backward()
            opt.step()
            losses.append(total)
        return losses

    # -- serving: one student at a time, plain floats -----------------------------------------------
    def numpy_steps(self) -> tuple[float, np.ndarray, float, float]:
        with torch.no_grad():
            s = self.steps()
            return (
                float(s["alpha"]),
                s["beta"].double().cpu().numpy(),
                float(s["c"]),
                float(s["ck"]),
            )

    def replay(
        self,
        z: np.ndarray,
        skills: np.ndarray,
        y: np.ndarray,
        a: float = 0.0,
        u: np.ndarray | None = None,
        n: float = 0.0,
        nk: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """One student's adapted logits for responses with base logits ``z`` and mapped ``skills``, continuing
        from fast weights ``a``, ``u`` after ``n`` answers (``nk`` per skill); returns (z', a, u)."""
        alpha, beta, c, ck = self.numpy_steps()
        u = np.zeros(len(beta)) if u is None else u.astype(np.float64).copy()
        nk = np.zeros(len(beta)) if nk is None else nk.astype(np.float64).copy()
        out = np.empty(len(z))
        for t, (zt, k, yt) in enumerate(zip(z.tolist(), skills.tolist(), y.tolist(), strict=True)):
            zz = zt + a + u[k]
            out[t] = zz
            g = yt - 1.0 / (1.0 + math.exp(-zz))
            a += alpha / (1 + c * n) * g
            u[k] += beta[k] / (1 + ck * nk[k]) * g
            n += 1
            nk[k] += 1
        return out, a, u
