"""Model-based family: a recurrent sequence learner (DKT-style GRU/LSTM). The network *is* the learner.

Hybrid touches that help cold start: the initial hidden state is learned across
the population (a meta-learned prior student), the output head sees the target
skill's and item's embeddings, a per-id easiness bias, PFA-style success/failure counts and (``use_pre``)
what is known before the answer: its confidence rating and the time since practice. The final logit is
Platt-calibrated on held-out training students. With `stack`, each member's logit is combined with Elo and
PFA logits (and an item easiness) by a logistic stack fitted on held-out students.
The per-student state is the hidden vector plus the count vectors (and the Elo ability with `stack`, the
last practice times with ``use_pre``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .adapter import StudentAdapter
from .base import LearnerModel, State
from .baselines import PFAKT, EloConfig, EloKT, EloNet, PFANet, elo_update, item_easiness
from .data import (
    N_PRE,
    N_SIDE,
    Batch,
    StudentSequence,
    count_features_from_state,
    count_totals,
    last_times,
    length_batches,
    make_batch,
    pre_features_at,
    split_students,
)
from .train import TrainSettings, causal_logits, train_causal

# earlier answers (inclusive ranges) of the answers that `stack_early` calibrates apart: 1st, 2nd, 3rd-5th, 6th-10th
EARLY_BUCKETS: tuple[tuple[int, int], ...] = ((0, 0), (1, 1), (2, 4), (5, 9))


@dataclass
class SequenceConfig:
    cell: str = "gru"  # gru | lstm
    n_models: int = 3  # ensemble size (members differ in seed and held-out students)
    d_model: int = 128
    hidden: int = 128
    head_hidden: int = 128
    dropout: float = 0.2
    use_counts: bool = True  # PFA-style log success/failure counts in the head
    use_side: bool = True  # confidence / response time / hints when present
    # what is known before each answer (its own confidence rating, hours since the skill was last practised
    # and since the previous answer) fed to the head, so the prediction itself moves with them
    use_pre: bool = False
    epochs: int = 30
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_students: int = 32
    tokens_per_batch: int = 3200  # responses per optimiser step (short sequences batch many students)
    tbptt: int = 100  # truncated BPTT chunk (long sequences train in chunks with carried state)
    patience: int = 3
    time_budget_s: float = 1500.0  # whole ensemble; a safety net, early stopping ends first
    id_dropout: float = 0.02
    item_dropout: float = 0.0  # share of answers trained with the item id hidden (skill kept)
    # final logit = logistic stack of the ensemble, Elo and PFA logits (weights fitted on held-out students)
    stack: bool = False
    # with `stack`: also each item's difficulty relative to its skill (Rasch-style, shrunk to 0 for rare or
    # unseen items, so they fall back to the skill)
    item_stack: bool = False
    item_shrink: float = 10.0  # pseudo-responses at the skill's rate added to each item's count
    # with `stack`: also 1 / (1 + answers so far) and its product with the member's logit, so the stack can
    # calibrate a new student's first answers apart from the rest (one global Platt scale cannot)
    stack_position: bool = False
    # with `stack`: also indicators of the answer's position (1st, 2nd, 3rd-5th, 6th-10th) and their products
    # with the member's logit, so each of a new student's first answers gets its own scale and shift
    stack_early: bool = False
    # with `stack`: per-student fast weights (ability and per-skill offsets on the final logit) whose inner-loop
    # step sizes are meta-learned on held-out students (adapter.StudentAdapter)
    student_adapter: bool = False
    adapter_len: int = 200  # meta-train on each held-out student's first responses (cold start matters most)
    adapter_iters: int = 60  # outer (Adam) steps

    def __post_init__(self) -> None:
        if self.student_adapter and not self.stack:
            raise ValueError("student_adapter needs stack (it is meta-trained on the stacked logits)")
        for name in ("dropout", "id_dropout", "item_dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1, got {getattr(self, name)!r}")


class SequenceNet(nn.Module):
    calib: torch.Tensor  # (2,) buffer: Platt scale and shift

    def __init__(self, cfg: SequenceConfig, n_ids: int, n_items: int) -> None:
        super().__init__()
        self.cfg = cfg
        d, h = cfg.d_model, cfg.hidden
        self.inter = nn.Embedding(2 * (n_ids + 1), d)  # (id, correct) -> input
        self.target = nn.Embedding(n_ids + 1, d)  # id asked next
        self.item = nn.Embedding(n_items + 1, d)  # optional item id (row 0 = none/unknown)
        nn.init.zeros_(self.item.weight)
        self.side = nn.Linear(N_SIDE, d)
        self.rnn = (nn.GRU if cfg.cell == "gru" else nn.LSTM)(d, h, batch_first=True)
        self.h0 = nn.Parameter(torch.zeros(1, 1, h))  # learned prior student
        self.c0 = nn.Parameter(torch.zeros(1, 1, h)) if cfg.cell == "lstm" else None
        self.drop = nn.Dropout(cfg.dropout)
        n_cnt = (4 if cfg.use_counts else 0) + (N_PRE if cfg.use_pre else 0)
        self.head = nn.Sequential(
            nn.Linear(h + d + n_cnt, cfg.head_hidden), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.head_hidden, 1)
        )
        self.bias = nn.Embedding(n_ids + 1, 1)  # per-id easiness
        nn.init.zeros_(self.bias.weight)
        self.register_buffer("calib", torch.tensor([1.0, 0.0]))

    def _init_state(self, B: int) -> tuple[torch.Tensor, ...]:
        h = self.h0.expand(1, B, -1).contiguous()
        return (h,) if self.c0 is None else (h, self.c0.expand(1, B, -1).contiguous())

    def _inputs(self, b: Batch) -> torch.Tensor:
        x = self.inter(b.skills * 2 + b.correct.long()) + self.item(b.items)  # (B, T, d)
        if self.cfg.use_side:
            x = x + self.side(b.side)
        return x

    def head_logit(
        self, h: torch.Tensor, skills: torch.Tensor, items: torch.Tensor, counts: torch.Tensor, pre: torch.Tensor
    ) -> torch.Tensor:
        """h (..., H), ids (...), counts (..., 4), pre (..., N_PRE) -> calibrated logit (...)."""
        parts = [self.drop(h), self.target(skills) + self.item(items)]
        if self.cfg.use_counts:
            parts.append(counts)
        if self.cfg.use_pre:
            parts.append(pre)
        z = self.head(torch.cat(parts, -1)).squeeze(-1) + self.bias(skills).squeeze(-1)
        return self.calib[0] * z + self.calib[1]

    def run(self, b: Batch, state: tuple[torch.Tensor, ...] | None = None):
        B = b.skills.shape[0]
        st = self._init_state(B) if state is None else state
        out, last = self.rnn(self.drop(self._inputs(b)), st[0] if self.c0 is None else st)  # (B, T, H)
        return out, ((last,) if self.c0 is None else last)

    def forward_stateful(self, b: Batch, state: tuple[torch.Tensor, ...] | None = None):
        """Causal logits (B, T) and the recurrent state after the chunk (for truncated BPTT).

        Response t is predicted from the hidden state after responses < t; the first one from
        `state` (the previous chunk) or the learned prior h0.
        """
        B = b.skills.shape[0]
        st = self._init_state(B) if state is None else state
        out, last = self.run(b, st)  # (B, T, H)
        prev = torch.cat([st[0][0][:, None, :], out[:, :-1]], 1)  # (B, T, H) state before t
        return self.head_logit(prev, b.skills, b.items, b.counts, b.pre), last

    def forward(self, b: Batch) -> torch.Tensor:
        return self.forward_stateful(b)[0]


def pack_rows(parts: dict[str, torch.Tensor]) -> list[State]:
    """One state per row of `parts` (each (B, ...)), every student's tensors views of one compact copy.

    A state must hold only its own student: a view into a batch-wide tensor keeps the whole batch alive
    and torch.save writes the whole storage (stored states grew with the batch: 5 to 30 times their size
    for 300 students). One copy per student, not one per tensor, so a batch on CUDA costs one small
    kernel per student. All parts share one dtype (torch.cat would silently promote them)."""
    if len({v.dtype for v in parts.values()}) != 1:
        raise TypeError(f"state parts of different dtypes: { {k: v.dtype for k, v in parts.items()} }")
    B = next(iter(parts.values())).shape[0]
    flat = torch.cat([v.reshape(B, -1) for v in parts.values()], 1)
    out: list[State] = []
    for row in flat.unbind(0):
        own, at, st = row.clone(), 0, {}
        for k, v in parts.items():
            size = v[0].numel()
            st[k] = own[at : at + size].view(v.shape[1:])
            at += size
        out.append(st)
    return out


# Students per adapt call from which the GRU members run as one fused recurrence (FusedGRU), by device
# type. On CPU it is the faster path even for one student (about 11 against 13 ms for 200 responses);
# on CUDA a small batch is left to cuDNN's GRU, which launches far fewer kernels per step.
FUSED_MIN_BATCH = {"cpu": 1, "cuda": 16}
# Padded responses per adapt batch, by device type. On CPU, batches that stay in cache; on CUDA a step of
# the recurrence is a handful of kernel launches whatever the batch, so the fewer batches the better
# (10,000 students of 200 responses need about 0.3 GB).
ADAPT_TOKENS = {"cpu": 40_000, "cuda": 2_000_000}


class FusedGRU:
    """All GRU members of an ensemble as one recurrence, for adaptation (inference only, no dropout).

    The same function as running every member's ``nn.GRU`` over packed sequences (tests hold them equal),
    arranged for speed on large batches:

    - the input side of every gate is linear in the embeddings, so it becomes per-member lookup tables
      of pre-multiplied rows (a gather per step instead of an input matmul), with the input biases and
      the hidden biases of the reset/update gates folded in;
    - the K members advance together: one batched matmul per step for the reset/update gates (added
      straight onto the gathered rows) and one for the candidate state;
    - tanh(x) is computed as 2·sigmoid(2x) − 1, the factor 2 folded into the weights: PyTorch's CPU
      tanh is several times slower than its sigmoid;
    - the recurrence carries g = (h + 1) / 2 instead of h, with the affine map folded into the weights
      and biases, so the new state is lerp(sigmoid(·), g, z) and the 2·s − 1 costs no pass over memory
      (on large batches these elementwise passes, not the matmuls, are half of the time).

    Built once per weights: ``for_members`` keys a cache on the parameters' storage and version counters.
    """

    def __init__(self, members: list[SequenceNet]) -> None:
        with torch.no_grad():
            H = members[0].cfg.hidden
            scale = torch.ones(3 * H, device=members[0].h0.device)
            scale[2 * H :] = 2.0  # pre-activation of the candidate state, doubled for the sigmoid form
            tab, tab_item, side_w, w_rz, w_n, b_n, h0 = [], [], [], [], [], [], []
            for m in members:
                w_ih, w_hh, b_hh, b_ih = (
                    m.rnn.get_parameter(n) for n in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0", "bias_ih_l0")
                )  # (3H, d), (3H, H), (3H,), (3H,)
                # h = 2g - 1, so h @ W = g @ 2W - (column sums of W): the sums go into the reset/update biases
                rz_bias = b_hh[: 2 * H] - w_hh[: 2 * H].sum(1)
                bias = b_ih + torch.cat([rz_bias, torch.zeros_like(b_hh[2 * H :])])
                if m.cfg.use_side:
                    bias = bias + m.side.bias @ w_ih.T
                    side_w.append((w_ih @ m.side.weight).T * scale)  # (N_SIDE, 3H)
                tab_item.append(m.item.weight @ w_ih.T * scale)  # (n_items + 1, 3H)
                tab.append((m.inter.weight @ w_ih.T + bias) * scale)  # (2V, 3H)
                w_rz.append(w_hh[: 2 * H].T * 2.0)  # (H, 2H)
                w_n.append(w_hh[2 * H :].T * 4.0)  # (H, H): 2 for the sigmoid form, 2 for g
                b_n.append((b_hh[2 * H :] - w_hh[2 * H :].sum(1)) * 2.0)
                h0.append((m.h0[0, 0] + 1.0) / 2.0)  # g0
            self.H = H
            self.tab = torch.stack(tab)  # (K, 2V, 3H)
            self.tab_item = torch.stack(tab_item)  # (K, n_items + 1, 3H)
            self.tab_no_item = self.tab + self.tab_item[:, :1]  # row 0 of the item table: 'no item'
            # its reset/update and candidate parts as separate contiguous tables (the matmuls add onto them)
            self.tab_rz = self.tab_no_item[..., : 2 * H].contiguous()
            self.tab_n = self.tab_no_item[..., 2 * H :].contiguous()
            self.side_w = torch.stack(side_w) if len(side_w) == len(members) else None
            self.w_rz = torch.stack(w_rz)  # (K, H, 2H)
            self.w_n = torch.stack(w_n)  # (K, H, H)
            self.b_n = torch.stack(b_n)[:, None, :]  # (K, 1, H)
            self.g0 = torch.stack(h0)[:, None, :]  # (K, 1, H)
        self._split: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @staticmethod
    def for_members(owner: nn.Module, members: list[SequenceNet]) -> FusedGRU:
        key = tuple((p.data_ptr(), p._version) for m in members for p in m.parameters())
        cached = getattr(owner, "_fused_gru", None)
        if cached is None or cached[0] != key:
            cached = (key, FusedGRU(members))
            object.__setattr__(owner, "_fused_gru", cached)  # a plain attribute, not a submodule
        return cached[1]

    def _split_weights(self, S: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The hidden-side weights with each member's repeated S times, for matmuls over S groups of students."""
        if S not in self._split:
            rep = [w.repeat_interleave(S, 0) for w in (self.w_rz, self.w_n, self.b_n)]
            self._split[S] = (rep[0], rep[1], rep[2])
        return self._split[S]

    def last(self, b: Batch) -> torch.Tensor:
        """(B, K, H): each member's hidden state after each student's last response."""
        B, T = b.skills.shape
        H, K = self.H, self.g0.shape[0]
        # On a multi-threaded CPU the per-step matmuls run as K·S products over S groups of students:
        # batched matmuls share out whole products among the threads, and K members alone leave some
        # threads idle (3 members on 2 threads: 1.2x instead of 1.8x). The groups are views, no copies.
        threads = torch.get_num_threads() if b.skills.device.type == "cpu" else 1
        S = threads // math.gcd(K, threads)
        S = S if B >= 32 * S else 1
        pad = (-B) % S  # extra students, always 'answering' token 0, dropped at the end
        tok = (b.skills * 2 + b.correct.long()).T.contiguous()  # (T, B)
        items = b.items.T.contiguous() if bool(b.items.any()) else None
        side = b.side.transpose(0, 1).contiguous() if self.side_w is not None and bool(b.side.any()) else None
        mask = b.mask.T  # (T, B)
        if pad:
            tok = F.pad(tok, (0, pad))
            items = F.pad(items, (0, pad)) if items is not None else None
            side = F.pad(side, (0, 0, 0, pad)) if side is not None else None
            mask = torch.cat([mask, mask.new_ones(T, pad)], 1)
        Bp = B + pad
        tab = self.tab if items is not None else self.tab_no_item
        live = mask[:, None, :, None]  # (T, 1, Bp, 1)
        n_live = mask.sum(1).tolist()  # students still answering at each step (padding is at the end)
        w_rz, w_n, b_n = self._split_weights(S)
        g = self.g0.repeat(1, Bp, 1)  # (K, Bp, H): (h + 1) / 2; a copy, as its buffer is reused
        # step buffers, reused: the gathers write into them and the matmuls accumulate in place
        rz = g.new_empty(K, Bp, 2 * H)
        gin, hn = g.new_empty(K, Bp, H), g.new_empty(K, Bp, H)
        rz_s, hn_s = rz.view(K * S, Bp // S, 2 * H), hn.view(K * S, Bp // S, H)
        # Views and locals made once: for one student the step is a dozen tiny ops, and Python-level
        # indexing inside the loop cost about a third of the time.
        r, z = rz[..., :H], rz[..., H:]
        plain = items is None and side is None
        tab_rz, tab_n, index_select, baddbmm = self.tab_rz, self.tab_n, torch.index_select, torch.baddbmm
        for t, tok_t in enumerate(tok.unbind(0)):
            if plain:  # the common case: two contiguous gathers
                index_select(tab_rz, 1, tok_t, out=rz)
                index_select(tab_n, 1, tok_t, out=gin)
            else:
                gi = tab.index_select(1, tok_t)  # (K, Bp, 3H)
                if items is not None:
                    gi += self.tab_item.index_select(1, items[t])
                if side is not None and self.side_w is not None:
                    gi += side[t] @ self.side_w
                rz.copy_(gi[..., : 2 * H])
                gin.copy_(gi[..., 2 * H :])
            g_s = g if S == 1 else g.view(K * S, Bp // S, H)
            rz_s.baddbmm_(g_s, w_rz).sigmoid_()  # reset and update gates
            baddbmm(b_n, g_s, w_n, out=hn_s)
            new = gin.addcmul_(r, hn).sigmoid_().lerp_(g, z)  # (1 - z)(n + 1)/2 + z g
            if n_live[t] != Bp:
                new = torch.where(live[t], new, g)
            g, gin = new, g  # the old state's buffer is the next step's scratch
        g = g[:, :B]
        return (2.0 * g - 1.0).transpose(0, 1)


class SequenceEnsemble(nn.Module):
    """K independently trained SequenceNets; P(correct) is the mean of their calibrated probabilities."""

    stack_w: torch.Tensor  # (F + 2,) buffer: weights of (member logit, F base logits, 1)
    item_d: torch.Tensor  # (n_items + 1,) buffer with item_stack: item difficulty relative to its skill

    def __init__(self, cfg: SequenceConfig, n_ids: int, n_items: int) -> None:
        super().__init__()
        self.members = nn.ModuleList(SequenceNet(cfg, n_ids, n_items) for _ in range(cfg.n_models))
        self.stacked = cfg.stack
        self.item_stacked = cfg.stack and cfg.item_stack
        self.position_stacked = cfg.stack and cfg.stack_position
        self.early_stacked = cfg.stack and cfg.stack_early
        # how many of the stack's bases (the last ones) are functions of the answer's position
        self.n_position_bases = int(self.position_stacked) + len(EARLY_BUCKETS) * int(self.early_stacked)
        if cfg.stack:
            self.elo = EloNet(n_ids, EloConfig.k)
            self.pfa = PFANet(n_ids)
            for p in self.pfa.parameters():
                p.requires_grad_(False)
            # weights of (member logit, Elo logit, PFA logit[, item easiness][, 1 / (1 + n)][, early-position
            # indicators][, member logit / (1 + n)][, member logit × each indicator], 1); identity until fitted
            w = torch.zeros(4 + int(self.item_stacked) + 2 * self.n_position_bases)
            w[0] = 1.0
            self.register_buffer("stack_w", w)
            if self.item_stacked:
                self.register_buffer("item_d", torch.zeros(n_items + 1))
        self.adapter = StudentAdapter(n_ids) if cfg.student_adapter else None

    def nets(self) -> list[SequenceNet]:
        """The members, typed (``nn.ModuleList`` iterates as plain modules)."""
        return [cast(SequenceNet, m) for m in self.members]

    @staticmethod
    def mean_logit(logits: list[torch.Tensor]) -> torch.Tensor:
        p = torch.stack([torch.sigmoid(z) for z in logits]).mean(0).clamp(1e-6, 1 - 1e-6)
        return torch.logit(p)

    def elo_logits(self, b: Batch, theta: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Online Elo logits (B, T) before each response and each student's ability after the last one (B,).

        ``theta`` (B,) continues from known abilities instead of the prior 0. The Elo parameters are fixed
        (no gradient), so the sequential update runs in NumPy (in plain floats for one student): a step
        costs a few microseconds instead of a handful of tensor-op dispatches.
        """
        d = self.elo.difficulty.detach().cpu().numpy()[b.skills.cpu().numpy()]  # (B, T) float64
        k = float(self.elo.k)
        y = b.correct.detach().cpu().numpy().astype(np.float64)
        m = b.mask.cpu().numpy()
        B, T = d.shape
        th = np.zeros(B) if theta is None else theta.detach().cpu().numpy().astype(np.float64).reshape(B)
        if B == 1:  # one student: plain floats, several times faster than ops on size-1 arrays
            th1, row = float(th[0]), []
            for dt, yt, mt in zip(d[0].tolist(), y[0].tolist(), m[0].tolist(), strict=True):
                row.append(th1 - dt)
                if mt:
                    th1 = elo_update(th1, dt, yt, k)[1]
            out, th = np.array([row]), np.array([th1])
        else:
            out = np.empty((B, T))
            for t in range(T):
                out[:, t] = th - d[:, t]
                th = np.where(m[:, t], elo_update(th, d[:, t], y[:, t], k)[1], th)
        dev = b.skills.device
        return torch.from_numpy(out).float().to(dev), torch.from_numpy(th).float().to(dev)

    def base_logits(self, b: Batch) -> list[torch.Tensor]:
        """The stack's other inputs (B, T) for every response given the earlier ones: Elo, PFA (and item)."""
        B, T = b.skills.shape
        pfa = self.pfa(b.skills.reshape(-1), b.counts.reshape(-1, 4)).reshape(B, T)
        out = [self.elo_logits(b)[0], pfa]
        if self.item_stacked:
            out.append(self.item_d[b.items])
        # each batch holds whole sequences from their first answer
        n = torch.arange(T, device=b.skills.device, dtype=torch.float32)
        return out + [x[None].expand(B, T) for x in self.position_bases(n)]

    def position_bases(self, n: torch.Tensor) -> list[torch.Tensor]:
        """The stack's position bases for answers with ``n`` earlier answers (any shape, float)."""
        out = [1.0 / (1.0 + n)] if self.position_stacked else []
        if self.early_stacked:
            out += [((n >= a) & (n <= b)).to(n.dtype) for a, b in EARLY_BUCKETS]
        return out

    def combine(self, z: torch.Tensor, bases: list[torch.Tensor]) -> torch.Tensor:
        """One member's stacked logit. The weights were fitted on single members' held-out logits, so they
        are applied to each member before averaging (not to the ensemble's mean)."""
        w = self.stack_w
        out = w[-1] + torch.zeros_like(z)
        for j, x in enumerate(self.stack_features(z, bases)):
            out = out + w[j] * x
        return out

    def stack_features(self, z: torch.Tensor, bases: list[torch.Tensor]) -> list[torch.Tensor]:
        """What ``combine`` weighs, in the order of ``stack_w`` (without the constant): the member's logit,
        the bases, then the member's logit times each position base."""
        pos = bases[len(bases) - self.n_position_bases :] if self.n_position_bases else []
        return [z, *bases] + [z * x for x in pos]

    def forward(self, b: Batch) -> torch.Tensor:
        logits = [m(b) for m in self.members]
        if self.stacked:
            bases = self.base_logits(b)
            logits = [self.combine(z, bases) for z in logits]
        return self.mean_logit(logits)


class SequenceKT(LearnerModel):
    """DKT-style recurrent learner with a learned initial state and calibrated head (optionally an ensemble)."""

    name = "dkt"
    Config = SequenceConfig
    net: SequenceEnsemble  # built by fit / load (optional in the base class until then)

    def _build(self) -> SequenceEnsemble:
        return SequenceEnsemble(self.config, self.vocab.n_skills, self.vocab.n_items)

    def _fit(self, seqs, callbacks, seed) -> None:
        c = self.config
        st = TrainSettings(
            epochs=c.epochs,
            lr=c.lr,
            weight_decay=c.weight_decay,
            batch_students=c.batch_students,
            tokens_per_batch=c.tokens_per_batch,
            tbptt=c.tbptt,
            patience=c.patience,
            time_budget_s=c.time_budget_s / c.n_models,
            id_dropout=c.id_dropout,
            item_dropout=c.item_dropout,
        )
        self.history = []
        for k, member in enumerate(self.net.nets()):
            # each member: its own seed and its own held-out students (bagging-like diversity)
            torch.manual_seed(seed + 1000 * k)
            cbs = [
                lambda info, k=k, cb=cb: cb(
                    {**info, "member": k + 1, "percent": (100 * k + info.get("percent", 0)) / c.n_models}
                )
                for cb in callbacks
            ]
            self.history.append(train_causal(member, seqs, self.vocab, self.device, st, cbs, seed + 1000 * k))
        if c.stack:
            self._fit_stack(seqs, seed, st.val_frac)

    def _fit_base(self, seqs: list[StudentSequence], seed: int) -> None:
        """Elo and PFA (and item easiness) fitted on `seqs` with this model's id vocabulary, loaded into the
        ensemble."""
        for base, target in ((EloKT(), self.net.elo), (PFAKT(), self.net.pfa)):
            base.vocab, base.device = self.vocab, self.device
            base.net = base._build().to(self.device)
            base._fit(seqs, [], seed)
            target.load_state_dict(base.net.state_dict())
        if self.net.item_stacked:
            self.net.item_d.copy_(torch.from_numpy(item_easiness(seqs, self.vocab, self.config.item_shrink)))

    def _fit_stack(self, seqs: list[StudentSequence], seed: int, val_frac: float) -> None:
        """Stacking weights on each member's held-out students, then Elo and PFA on all training students.

        A held-out student contributes that member's calibrated logit and the logits of an Elo and a PFA
        (and the item easiness) fitted on the students no member held out (all out of sample); at
        prediction time the weights are applied to each member's logit, then the members are averaged.
        """
        net = self.net
        vals = [split_students(len(seqs), val_frac, seed + 1000 * k)[1] for k in range(len(net.members))]
        held = set(np.concatenate(vals).tolist()) if vals else set()
        rest = [s for i, s in enumerate(seqs) if i not in held]
        self._fit_base(rest if rest else seqs, seed)
        feats, ys, early = [], [], []
        L = self.config.adapter_len
        with torch.no_grad():
            for k, member in enumerate(net.nets()):
                val = [seqs[i] for i in vals[k]]
                member.eval()
                for idx in length_batches(val, 40000):
                    b = make_batch([val[i] for i in idx], self.vocab).to(self.device)
                    z = member(b)
                    m = b.mask
                    bases = net.base_logits(b)
                    feats.append(torch.stack([x[m] for x in net.stack_features(z, bases)], 1).double().cpu())
                    ys.append(b.correct[m].double().cpu())
                    if net.adapter is not None:
                        early.append((z[:, :L], [x[:, :L] for x in bases], b.skills[:, :L], b.correct[:, :L], m[:, :L]))
        if feats:
            self._fit_weights(torch.cat(feats), torch.cat(ys))
        if net.adapter is not None and early:
            with torch.no_grad():
                batches = [(net.combine(z, bases), sk, y, m) for z, bases, sk, y, m in early]
            self.adapter_history = net.adapter.fit(batches, iters=self.config.adapter_iters)
        self._fit_base(seqs, seed)

    def _fit_weights(self, X: torch.Tensor, y: torch.Tensor) -> None:
        net = self.net
        X = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], 1)
        w0 = torch.zeros(X.shape[1], dtype=torch.float64)
        w0[0] = 1.0
        w = w0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([w], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(X @ w, y)
            loss.backward()
            return loss

        opt.step(closure)
        got = w.detach()
        if torch.isfinite(got).all():
            net.stack_w.copy_(got.to(net.stack_w.dtype))

    def _predict_online(self, seqs: list[StudentSequence]) -> list[np.ndarray]:
        logits = causal_logits(self.net, seqs, self.vocab, self.device)
        if self.net.adapter is not None:
            logits = [self._adapter_replay(s, z)[0] for s, z in zip(seqs, logits, strict=True)]
        return [1 / (1 + np.exp(-z)) for z in logits]

    def _adapter_replay(
        self, seq: StudentSequence, z: np.ndarray, state: State | None = None
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """The per-student fast weights over ``seq`` (base logits ``z``), continuing from ``state``'s."""
        assert self.net.adapter is not None
        skills = self.vocab.map_skills(seq.skills)
        if state is None:
            return self.net.adapter.replay(z.astype(np.float64), skills, seq.correct)
        nk = (state["succ"] + state["fail"]).double().cpu().numpy()
        return self.net.adapter.replay(
            z.astype(np.float64),
            skills,
            seq.correct,
            a=float(state["ad_a"][0]),
            u=state["ad_u"].double().cpu().numpy(),
            n=float(nk.sum()),
            nk=nk,
        )

    def _adapter_state(self, a: float, u: np.ndarray) -> State:
        return {
            "ad_a": torch.tensor([a], dtype=torch.float64, device=self.device),
            "ad_u": torch.from_numpy(u).to(self.device),
        }

    def _adapt(self, seqs: list[StudentSequence]) -> list[State]:
        states: list[State | None] = [None] * len(seqs)
        n = self.vocab.n_skills + 1
        lstm = self.config.cell == "lstm"
        for idx in length_batches(seqs, ADAPT_TOKENS.get(self.device.type, 40_000)):
            b = make_batch([seqs[i] for i in idx], self.vocab, features=False).to(self.device)
            c = None
            if not lstm and len(idx) >= FUSED_MIN_BATCH.get(self.device.type, 16):
                h = FusedGRU.for_members(self.net, self.net.nets()).last(b)  # (B, K, H)
            else:
                lens = b.mask.sum(1).cpu()
                hs, cs = [], []
                same_length = bool((lens == lens[0]).all())
                for m in self.net.nets():
                    # pack so each student's final state is taken at its own length; equal lengths (one
                    # student, the per-answer case) need no packing, and nn.GRU then computes the input
                    # side of all steps in one matmul
                    x = m._inputs(b)
                    seq_in = (
                        x
                        if same_length
                        else nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
                    )
                    init = m._init_state(len(idx))
                    _, last = m.rnn(seq_in, init if lstm else init[0])
                    hs.append(last[0][0] if lstm else last[0])  # (B, H)
                    if lstm:
                        cs.append(last[1][0])
                h = torch.stack(hs, 1)  # (B, K, H)
                c = torch.stack(cs, 1) if lstm else None
            succ, fail = count_totals(b.skills, b.correct, b.mask, n)
            parts = {"h": h, "succ": succ, "fail": fail}
            if c is not None:
                parts["c"] = c
            if self.net.stacked:
                parts["theta"] = self.net.elo_logits(b)[1][:, None]
            for j, st in zip(idx, pack_rows(parts), strict=True):
                states[j] = {**st, **self._times(seqs[j])}
        if self.net.adapter is not None:
            for j, z in enumerate(causal_logits(self.net, seqs, self.vocab, self.device)):
                _, a, u = self._adapter_replay(seqs[j], z)
                states[j] = {**states[j], **self._adapter_state(a, u)}  # type: ignore[dict-item]
        return states  # type: ignore[return-value]

    def _times(self, seq: StudentSequence, state: State | None = None) -> State:
        """With ``use_pre``: when each skill was last practised and the last answer's time (float64 seconds,
        NaN = never or not recorded), continued from ``state``; what ``_predict_logits_at`` needs."""
        if not self.config.use_pre:
            return {}
        n = self.vocab.n_skills + 1
        got, t_last = last_times(self.vocab.map_skills(seq.skills), seq.timestamps, n)
        if state is not None and "last_t" in state:
            got = np.where(np.isnan(got), state["last_t"].cpu().numpy(), got)
            t_last = float(state["t_last"][0]) if math.isnan(t_last) else t_last
        return {
            "last_t": torch.from_numpy(got).to(self.device),
            "t_last": torch.tensor([t_last], dtype=torch.float64, device=self.device),
        }

    def _extend(self, state: State, new: StudentSequence) -> State:
        if self.net.adapter is None:
            return self._extend_base(state, new)
        # the fast weights step on each answer's prediction before it: one response at a time
        for t in range(len(new)):
            one = new._slice(slice(t, t + 1))
            z = self._logit_before(state, one)
            _, a, u = self._adapter_replay(one, np.array([z]), state)
            state = {**self._extend_base(state, one), **self._adapter_state(a, u)}
        return state

    def _logit_before(self, state: State, one: StudentSequence) -> float:
        """The model's logit (without the fast weights) for the single response ``one`` given ``state``."""

        def opt(a: np.ndarray | None) -> float | None:
            return None if a is None or math.isnan(float(a[0])) else float(a[0])

        sk = torch.from_numpy(self.vocab.map_skills(one.skills)).to(self.device)
        it = torch.from_numpy(self.vocab.map_items(one.items, 1)).to(self.device)
        base = {k: v for k, v in state.items() if not k.startswith("ad_")}
        z = self._predict_logits_at(base, sk, it, now=opt(one.timestamps), confidence=opt(one.confidence))
        return float(z[0])

    def _extend_base(self, state: State, new: StudentSequence) -> State:
        b = make_batch([new], self.vocab, features=False).to(self.device)
        lstm = self.config.cell == "lstm"
        hs, cs = [], []
        for k, m in enumerate(self.net.nets()):
            h0 = state["h"][k][None, None].contiguous()  # (1, 1, H)
            init = (h0, state["c"][k][None, None].contiguous()) if lstm else h0
            _, last = m.rnn(m._inputs(b), init)
            hs.append(last[0][0, 0] if lstm else last[0, 0])
            if lstm:
                cs.append(last[1][0, 0])
        succ, fail = count_totals(b.skills[0], b.correct[0], b.mask[0], self.vocab.n_skills + 1)
        out = {"h": torch.stack(hs), "succ": state["succ"] + succ, "fail": state["fail"] + fail}
        if lstm:
            out["c"] = torch.stack(cs)
        if self.net.stacked:
            out["theta"] = self.net.elo_logits(b, state["theta"])[1]
        return {**out, **self._times(new, state)}

    def _empty_state(self) -> State:
        n = self.vocab.n_skills + 1
        st = {
            "h": torch.stack([m.h0[0, 0] for m in self.net.nets()]).detach().clone(),
            "succ": torch.zeros(n, device=self.device),
            "fail": torch.zeros(n, device=self.device),
        }
        if self.config.cell == "lstm":
            st["c"] = torch.stack([m.c0[0, 0] for m in self.net.nets() if m.c0 is not None]).detach().clone()
        if self.net.stacked:
            st["theta"] = torch.zeros(1, device=self.device)
        if self.config.use_pre:
            st["last_t"] = torch.full((n,), math.nan, dtype=torch.float64, device=self.device)
            st["t_last"] = torch.full((1,), math.nan, dtype=torch.float64, device=self.device)
        if self.net.adapter is not None:
            st.update(self._adapter_state(0.0, np.zeros(n)))
        return st

    def _predict_logits(self, state: State, skills: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self._predict_logits_at(state, skills, items, now=None, confidence=None)

    @property
    def uses_clock(self) -> bool:
        return self.config.use_pre

    def _member_logits_at(
        self, state: State, skills: torch.Tensor, items: torch.Tensor, *, now: float | None
    ) -> torch.Tensor | None:
        if len(self.net.members) < 2:
            return None
        return self._predict_logits_at(state, skills, items, now=now, confidence=None, members=True)

    def _predict_logits_at(
        self,
        state: State,
        skills: torch.Tensor,
        items: torch.Tensor,
        *,
        now: float | None,
        confidence: float | None,
        members: bool = False,
    ) -> torch.Tensor:
        """(K,) logits; with ``members`` (M, K), each member's (stacked, with the fast weights) instead of their mean."""
        K = skills.shape[0]
        counts = count_features_from_state(state["succ"], state["fail"], skills)
        pre = torch.zeros(K, N_PRE, device=self.device)
        if self.config.use_pre and "last_t" in state:
            last_t = state["last_t"].cpu().numpy()[skills.cpu().numpy()]
            got = pre_features_at(last_t, float(state["t_last"][0]), now, confidence)
            pre = torch.from_numpy(got).to(self.device)
        logits = [
            m.head_logit(state["h"][k].expand(K, -1), skills, items, counts, pre) for k, m in enumerate(self.net.nets())
        ]
        if self.net.stacked:
            bases = [state["theta"] - self.net.elo.difficulty.float()[skills], self.net.pfa(skills, counts)]
            if self.net.item_stacked:
                bases.append(self.net.item_d[items])
            n = (state["succ"].sum() + state["fail"].sum()).float()
            bases += [x.expand(K) for x in self.net.position_bases(n)]
            logits = [self.net.combine(z, bases) for z in logits]
        z = torch.stack(logits) if members else self.net.mean_logit(logits)
        if self.net.adapter is not None and "ad_a" in state:
            fast = state["ad_a"] + state["ad_u"][skills]
            z = z + float(self.net.adapter.enabled) * fast.to(z.dtype)
        return z
