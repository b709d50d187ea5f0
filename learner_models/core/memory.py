"""Model-based family, memory-augmented variant: DKVMN (Zhang et al. 2017).

A static key memory holds latent concepts; each student owns a value memory
(slots x dv floats, a few KB) that is read with attention over the concepts
and rewritten with erase/add gates after every answer. The value memory is the
per-student adapted state; its initial value is meta-learned across students.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import State
from .data import Batch, StudentSequence, length_batches, make_batch
from .train import CausalNetModel


@dataclass
class MemoryConfig:
    slots: int = 16
    dk: int = 32
    dv: int = 64
    hidden: int = 64
    dropout: float = 0.1
    epochs: int = 15
    lr: float = 3e-3
    tokens_per_batch: int = 6000
    patience: int = 3
    max_len: int = 200  # training crop (the recurrence is a Python loop over time)
    time_budget_s: float = 200.0


class MemoryNet(nn.Module):
    calib: torch.Tensor  # (2,) buffer: Platt scale and shift

    def __init__(self, cfg: MemoryConfig, n_ids: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.qk = nn.Embedding(n_ids + 1, cfg.dk)
        self.mk = nn.Parameter(torch.randn(cfg.slots, cfg.dk) * 0.1)  # concept keys
        self.mv0 = nn.Parameter(torch.randn(cfg.slots, cfg.dv) * 0.1)  # meta-learned initial value memory
        self.v = nn.Embedding(2 * (n_ids + 1), cfg.dv)
        self.erase = nn.Linear(cfg.dv, cfg.dv)
        self.add = nn.Linear(cfg.dv, cfg.dv)
        self.f = nn.Sequential(
            nn.Linear(cfg.dv + cfg.dk, cfg.hidden), nn.Tanh(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, 1)
        )
        self.bias = nn.Embedding(n_ids + 1, 1)
        nn.init.zeros_(self.bias.weight)
        self.register_buffer("calib", torch.tensor([1.0, 0.0]))

    def attend(self, skills: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.qk(skills) @ self.mk.T, -1)  # (..., N)

    def read_logit(self, mv: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
        """mv (B, N, dv), skills (B, Q) -> calibrated logits (B, Q)."""
        w = self.attend(skills)  # (B, Q, N)
        r = w @ mv  # (B, Q, dv)
        z = self.f(torch.cat([r, self.qk(skills)], -1)).squeeze(-1) + self.bias(skills).squeeze(-1)
        return self.calib[0] * z + self.calib[1]

    def write(self, mv: torch.Tensor, w: torch.Tensor, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """mv (B, N, dv), w (B, N), x (B, dv) response encoding, keep (B,) bool -> new mv."""
        e = torch.sigmoid(self.erase(x))[:, None, :]  # (B, 1, dv)
        a = torch.tanh(self.add(x))[:, None, :]
        new = mv * (1 - w[..., None] * e) + w[..., None] * a
        return torch.where(keep[:, None, None], new, mv)

    def forward(self, b: Batch) -> torch.Tensor:
        B, T = b.skills.shape
        w = self.attend(b.skills)  # (B, T, N)
        x = self.v(b.skills * 2 + b.correct.long())  # (B, T, dv)
        mv = self.mv0.expand(B, -1, -1)
        reads = []
        for t in range(T):
            reads.append(torch.einsum("bn,bnd->bd", w[:, t], mv))
            mv = self.write(mv, w[:, t], x[:, t], b.mask[:, t])
        r = torch.stack(reads, 1)  # (B, T, dv) memory before response t
        z = self.f(torch.cat([r, self.qk(b.skills)], -1)).squeeze(-1) + self.bias(b.skills).squeeze(-1)
        return self.calib[0] * z + self.calib[1]

    def run_memory(self, b: Batch) -> torch.Tensor:
        B, T = b.skills.shape
        w = self.attend(b.skills)
        x = self.v(b.skills * 2 + b.correct.long())
        mv = self.mv0.expand(B, -1, -1)
        for t in range(T):
            mv = self.write(mv, w[:, t], x[:, t], b.mask[:, t])
        return mv


class MemoryKT(CausalNetModel):
    name = "dkvmn"
    Config = MemoryConfig
    net: MemoryNet  # built by fit / load (optional in the base class until then)
    predict_tokens = 200000

    def _build(self) -> MemoryNet:
        return MemoryNet(self.config, self.vocab.n_skills)

    def _adapt(self, seqs: list[StudentSequence]) -> list[State]:
        out: list[State | None] = [None] * len(seqs)
        for idx in length_batches(seqs, 200000):
            mv = self.net.run_memory(make_batch([seqs[i] for i in idx], self.vocab).to(self.device))
            for j, i in enumerate(idx):
                out[i] = {"mv": mv[j].clone()}
        return out  # type: ignore[return-value]

    def _empty_state(self) -> State:
        return {"mv": self.net.mv0.detach().clone()}

    def _predict_logits(self, state, skills, items):
        return self.net.read_logit(state["mv"][None], skills[None])[0]
