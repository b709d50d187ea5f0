"""Metric-based family: learner-type prototypes and a matching / relation scorer.

Both treat a student's earlier responses as the support set of a few-shot task
and score the query item by similarity, so adapting a student is just encoding
the support set (no gradient steps): cheap and stable at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import State
from .data import Batch, StudentSequence
from .train import CausalNetModel


@dataclass
class PrototypeConfig:
    dim: int = 32
    n_types: int = 8  # learner types (prototypes)
    prior_count: float = 2.0  # pseudo-responses of the population-average student
    epochs: int = 20
    lr: float = 3e-3
    tokens_per_batch: int = 6000
    patience: int = 3
    time_budget_s: float = 150.0


class PrototypeNet(nn.Module):
    """Student embedding = running mean of response encodings; P(correct) = mixture over learner types,
    weighted by softmax(-distance to each type's prototype)."""

    calib: torch.Tensor  # (2,) buffer: Platt scale and shift

    def __init__(self, cfg: PrototypeConfig, n_ids: int) -> None:
        super().__init__()
        d, k = cfg.dim, cfg.n_types
        self.cfg = cfg
        self.enc = nn.Embedding(2 * (n_ids + 1), d)
        self.z0 = nn.Parameter(torch.zeros(d))
        self.protos = nn.Parameter(torch.randn(k, d) * 0.5)
        self.qemb = nn.Embedding(n_ids + 1, d)
        nn.init.normal_(self.qemb.weight, std=0.1)
        self.ability = nn.Parameter(torch.randn(k, d) * 0.1)
        self.type_bias = nn.Parameter(torch.zeros(k))
        self.bias = nn.Embedding(n_ids + 1, 1)
        nn.init.zeros_(self.bias.weight)
        self.log_tau = nn.Parameter(torch.zeros(()))
        self.register_buffer("calib", torch.tensor([1.0, 0.0]))

    def score(self, total: torch.Tensor, count: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
        """total (..., d) sum of encodings, count (...), skills (...) -> calibrated logit (...)."""
        c = self.cfg.prior_count
        z = (total + c * self.z0) / (count[..., None] + c)  # (..., d)
        d2 = ((z[..., None, :] - self.protos) ** 2).sum(-1)  # (..., K)
        logw = F.log_softmax(-d2 / self.log_tau.exp(), -1)
        type_logit = self.qemb(skills) @ self.ability.T + self.type_bias + self.bias(skills)  # (..., K)
        log_p = torch.logsumexp(logw + F.logsigmoid(type_logit), -1)
        log_q = torch.logsumexp(logw + F.logsigmoid(-type_logit), -1)
        return self.calib[0] * (log_p - log_q) + self.calib[1]

    def forward(self, b: Batch) -> torch.Tensor:
        e = self.enc(b.skills * 2 + b.correct.long()) * b.mask[..., None]  # (B, T, d)
        total = torch.cumsum(e, 1) - e  # exclusive: responses before t
        count = torch.arange(b.skills.shape[1], device=e.device, dtype=e.dtype).expand(b.skills.shape)
        return self.score(total, count, b.skills)


class PrototypeKT(CausalNetModel):
    name = "protonet"
    Config = PrototypeConfig
    net: PrototypeNet  # built by fit / load (optional in the base class until then)

    def _build(self) -> PrototypeNet:
        return PrototypeNet(self.config, self.vocab.n_skills)

    def _adapt(self, seqs: list[StudentSequence]) -> list[State]:
        out = []
        for s in seqs:
            ids = torch.from_numpy(self.vocab.map_skills(s.skills)).to(self.device)
            y = torch.from_numpy(s.correct).to(self.device)
            out.append({"total": self.net.enc(ids * 2 + y).sum(0), "count": torch.tensor([float(len(s))])})
        return out

    def _empty_state(self) -> State:
        return {"total": torch.zeros(self.config.dim, device=self.device), "count": torch.zeros(1)}

    def _predict_logits(self, state, skills, items):
        K = skills.shape[0]
        return self.net.score(state["total"].expand(K, -1), state["count"].to(self.device).expand(K), skills)


@dataclass
class MatchingConfig:
    dim: int = 64
    window: int = 100  # support = the last `window` responses
    epochs: int = 20
    lr: float = 2e-3
    tokens_per_batch: int = 6000
    patience: int = 3
    time_budget_s: float = 200.0
    dropout: float = 0.1


class MatchingNet(nn.Module):
    """Attention of the query id over the support responses (plus a learned 'prior' slot),
    then a relation head on [query, matched support summary]."""

    calib: torch.Tensor  # (2,) buffer: Platt scale and shift

    def __init__(self, cfg: MatchingConfig, n_ids: int) -> None:
        super().__init__()
        d = cfg.dim
        self.cfg = cfg
        self.key = nn.Embedding(n_ids + 1, d)
        self.val = nn.Embedding(2 * (n_ids + 1), d)
        self.null_k = nn.Parameter(torch.zeros(d))
        self.null_v = nn.Parameter(torch.zeros(d))
        self.rel = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(d, 1))
        self.bias = nn.Embedding(n_ids + 1, 1)
        nn.init.zeros_(self.bias.weight)
        self.register_buffer("calib", torch.tensor([1.0, 0.0]))

    def score(self, q_ids: torch.Tensor, s_ids: torch.Tensor, s_y: torch.Tensor, allow: torch.Tensor) -> torch.Tensor:
        """q_ids (B, Q); s_ids, s_y (B, S); allow (B, Q, S) bool -> calibrated logits (B, Q)."""
        d = self.cfg.dim
        q = self.key(q_ids)  # (B, Q, d)
        k = self.key(s_ids)  # (B, S, d)
        v = self.val(s_ids * 2 + s_y.long())  # (B, S, d)
        sc = (q @ k.transpose(1, 2)) / d**0.5  # (B, Q, S)
        sc = sc.masked_fill(~allow, float("-inf"))
        null = (q @ self.null_k / d**0.5)[..., None]  # (B, Q, 1)
        a = torch.softmax(torch.cat([null, sc], -1), -1)  # (B, Q, 1+S)
        pooled = a[..., :1] * self.null_v + a[..., 1:] @ v  # (B, Q, d)
        z = self.rel(torch.cat([q, pooled], -1)).squeeze(-1) + self.bias(q_ids).squeeze(-1)
        return self.calib[0] * z + self.calib[1]

    def forward(self, b: Batch) -> torch.Tensor:
        T = b.skills.shape[1]
        i = torch.arange(T, device=b.skills.device)
        allow = (i[None, :] < i[:, None]) & (i[None, :] >= i[:, None] - self.cfg.window)  # (T, T) strictly past
        allow = allow[None] & b.mask[:, None, :]
        return self.score(b.skills, b.skills, b.correct, allow)


class MatchingKT(CausalNetModel):
    name = "matching"
    Config = MatchingConfig
    net: MatchingNet  # built by fit / load (optional in the base class until then)
    train_overrides = {"max_len": 400}
    predict_tokens = 8000

    def _build(self) -> MatchingNet:
        return MatchingNet(self.config, self.vocab.n_skills)

    def _adapt(self, seqs):
        w = self.config.window
        return [
            {
                "ids": torch.from_numpy(self.vocab.map_skills(s.skills[-w:])),
                "correct": torch.from_numpy(s.correct[-w:].astype(np.float32)),
            }
            for s in seqs
        ]

    def _empty_state(self) -> State:
        return {"ids": torch.zeros(0, dtype=torch.long), "correct": torch.zeros(0)}

    def _predict_logits(self, state, skills, items):
        s_ids, s_y = state["ids"].to(self.device)[None], state["correct"].to(self.device)[None]
        allow = torch.ones(1, skills.shape[0], s_ids.shape[1], dtype=torch.bool, device=self.device)
        return self.score_state(skills, s_ids, s_y, allow)

    def score_state(self, skills, s_ids, s_y, allow):
        return self.net.score(skills[None], s_ids, s_y, allow)[0]
