"""Training loops, separate from the model files. Progress goes through callbacks only.

`train_causal` fits any net whose forward(batch) returns causal logits (B, T):
logit t may only look at responses < t, so one teacher-forced pass is the same
as predicting each response online. Early stopping and calibration use held-out
*training* students, never the test file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Callback, LearnerModel, emit
from .data import Batch, StudentSequence, Vocab, length_batches, make_batch
from .evaluate import auc


@dataclass
class TrainSettings:
    epochs: int = 30
    lr: float = 2e-3
    weight_decay: float = 0.0
    tokens_per_batch: int = 12000  # padded responses per optimiser step
    patience: int = 3
    max_len: int | None = None  # crop training sequences (None = whole sequences)
    time_budget_s: float = 480.0
    val_frac: float = 0.1
    id_dropout: float = 0.02  # share of ids replaced by 'unknown' so unseen ids get a sensible prediction
    # share of answers whose item id alone is hidden (the skill kept), so the model leans on the skill for
    # rare items instead of memorising each item's few training answers
    item_dropout: float = 0.0
    # share of answers whose own confidence rating is hidden from the head: a tutor choosing the next item
    # predicts before the student has rated it, so the model must also predict without one
    confidence_dropout: float = 0.3
    grad_clip: float = 1.0
    batch_students: int = 32  # with tbptt: students per batch (sorted by length)
    lr_decay: float = 0.5  # learning-rate factor after an epoch without validation improvement
    tbptt: int = 0  # > 0: chunk length for truncated BPTT (net must have forward_stateful)


def causal_logits(
    net: nn.Module,
    seqs: Sequence[StudentSequence],
    vocab: Vocab,
    device: torch.device,
    tokens: int = 40000,
    max_len: int | None = None,
) -> list[np.ndarray]:
    """Uncalibrated online logits per student, batched by length."""
    out: list[np.ndarray | None] = [None] * len(seqs)
    net.eval()
    with torch.no_grad():
        for idx in length_batches(seqs, tokens):
            b = make_batch([seqs[i] for i in idx], vocab, max_len).to(device)
            lg = net(b).float().cpu().numpy()
            for j, i in enumerate(idx):
                n = len(seqs[i]) if max_len is None else min(len(seqs[i]), max_len)
                out[i] = lg[j, :n]
    return out  # type: ignore[return-value]


def fit_platt(logits: np.ndarray, y: np.ndarray, iters: int = 200) -> tuple[float, float]:
    """Scale and shift of the logit minimising held-out log loss (temperature + bias calibration)."""
    z = torch.tensor(logits, dtype=torch.float64)
    t = torch.tensor(y, dtype=torch.float64)
    ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=0.5, max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * z + ab[1], t)
        loss.backward()
        return loss

    opt.step(closure)
    a, b = ab.detach().tolist()
    return (a, b) if np.isfinite(a) and np.isfinite(b) else (1.0, 0.0)


def _drop_ids(b: Batch, p: float, gen: torch.Generator) -> Batch:
    if p <= 0:
        return b
    keep = torch.rand(b.skills.shape, generator=gen) >= p
    keep = keep.to(b.skills.device)
    return replace(b, skills=b.skills * keep, items=b.items * keep)


def _drop_items(b: Batch, p: float, gen: torch.Generator) -> Batch:
    if p <= 0 or not bool(b.items.any()):  # no item ids (skill-level data): nothing to hide, no draw
        return b
    keep = (torch.rand(b.items.shape, generator=gen) >= p).to(b.items.device)
    return replace(b, items=b.items * keep)


def _drop_confidence(b: Batch, p: float, gen: torch.Generator) -> Batch:
    """Hide the rated confidence (value and flag, channels 0-1 of ``pre``) of a random share of answers."""
    if p <= 0 or not bool(b.pre[..., 1].any()):
        return b
    keep = (torch.rand(b.skills.shape, generator=gen) >= p).to(b.pre.dtype)
    pre = b.pre.clone()
    pre[..., :2] *= keep[..., None]
    return replace(b, pre=pre)


def _slice(b: Batch, a: int, z: int) -> Batch:
    return b.time_slice(a, z)


def train_causal(
    net: nn.Module,
    seqs: list[StudentSequence],
    vocab: Vocab,
    device: torch.device,
    st: TrainSettings,
    callbacks: Sequence[Callback],
    seed: int,
    extra_loss: Callable[[nn.Module], torch.Tensor] | None = None,
) -> dict:
    """Adam on masked BCE over whole (or cropped) sequences; early stop on val AUC; Platt calibration.

    Writes the calibration into `net.calib` (a (2,) buffer) and returns a small history dict.
    """
    from .data import split_students

    tr_idx, va_idx = split_students(len(seqs), st.val_frac, seed)
    train = [seqs[i] for i in tr_idx]
    val = [seqs[i] for i in va_idx]
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=st.lr, weight_decay=st.weight_decay)
    best_auc, best_state, stale = -1.0, None, 0
    t0 = time.time()
    hist = []
    for ep in range(1, st.epochs + 1):
        net.train()
        if st.tbptt:
            # length-sorted groups of about tokens_per_batch responses: many short students per step,
            # at least batch_students long ones (their chunks share the step)
            groups, cur = [], []
            for i in sorted(range(len(train)), key=lambda i: len(train[i])):
                cur.append(i)
                if len(cur) >= max(st.batch_students, st.tokens_per_batch / max(len(train[i]), 1)):
                    groups.append(cur)
                    cur = []
            groups += [cur] if cur else []
            rng.shuffle(groups)
        else:
            groups = length_batches(train, st.tokens_per_batch, rng)
        tot, cnt = 0.0, 0.0
        for gi, idx in enumerate(groups):
            full = _drop_ids(make_batch([train[i] for i in idx], vocab, st.max_len), st.id_dropout, gen)
            full = _drop_items(full, st.item_dropout, gen)
            full = _drop_confidence(full, st.confidence_dropout, gen).to(device)
            T = full.skills.shape[1]
            chunk = st.tbptt or T
            state: tuple[torch.Tensor, ...] | None = None
            for a in range(0, T, chunk):
                b = _slice(full, a, a + chunk)
                if st.tbptt:
                    lg, state = cast(Any, net).forward_stateful(b, state)
                    state = tuple(x.detach() for x in state)
                else:
                    lg = net(b)
                m = b.mask.float()
                if m.sum() == 0:
                    break
                loss = (F.binary_cross_entropy_with_logits(lg, b.correct, reduction="none") * m).sum() / m.sum()
                if extra_loss is not None:
                    loss = loss + extra_loss(net)
                opt.zero_grad()
                loss.backward()
                if st.grad_clip:
                    nn.utils.clip_grad_norm_(net.parameters(), st.grad_clip)
                opt.step()
                tot += float(loss.detach()) * float(m.sum())
                cnt += float(m.sum())
            if gi % 20 == 0:
                emit(
                    callbacks,
                    stage="train",
                    epoch=ep,
                    loss=tot / max(cnt, 1),
                    percent=100.0 * ((ep - 1) + gi / len(groups)) / st.epochs,
                )
        val_auc = float("nan")
        if val:
            lg = causal_logits(net, val, vocab, device)
            val_auc = auc(np.concatenate([s.correct for s in val]), np.concatenate(lg)) or 0.0
        hist.append({"epoch": ep, "loss": tot / max(cnt, 1), "val_auc": val_auc})
        emit(
            callbacks,
            stage="epoch",
            epoch=ep,
            loss=tot / max(cnt, 1),
            val_auc=val_auc,
            percent=100.0 * ep / st.epochs,
            elapsed_s=time.time() - t0,
        )
        if not val or val_auc > best_auc:
            best_auc, stale = val_auc, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= st.patience:
                break
            for g in opt.param_groups:  # plateau: smaller steps before giving up
                g["lr"] *= st.lr_decay
        if time.time() - t0 > st.time_budget_s:
            emit(callbacks, stage="budget", epoch=ep, loss=tot / max(cnt, 1), val_auc=val_auc, percent=100.0)
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    calib = getattr(net, "calib", None)
    if val and isinstance(calib, torch.Tensor):
        logits = np.concatenate(causal_logits(net, val, vocab, device))
        scale, shift = fit_platt(logits, np.concatenate([s.correct for s in val]).astype(np.float64))
        calib.copy_(torch.tensor([scale, shift], dtype=calib.dtype))
    emit(
        callbacks,
        stage="done",
        epoch=len(hist),
        loss=hist[-1]["loss"] if hist else float("nan"),
        val_auc=best_auc,
        percent=100.0,
    )
    return {"history": hist, "best_val_auc": best_auc}


def settings_from_config(config: Any, **overrides: Any) -> TrainSettings:
    """TrainSettings from the model config's fields of the same names (epochs, lr, ...), plus overrides."""
    names = {f.name for f in fields(TrainSettings)}
    return TrainSettings(**{**{k: v for k, v in asdict(config).items() if k in names}, **overrides})


class CausalNetModel(LearnerModel):
    """A learner whose net is trained by ``train_causal`` and evaluated by one causal pass (``causal_logits``)."""

    train_overrides: ClassVar[dict[str, Any]] = {}
    predict_tokens: ClassVar[int] = 40000  # padded responses per evaluation batch

    def _fit(self, seqs, callbacks, seed) -> None:
        st = settings_from_config(self.config, **self.train_overrides)
        self.history = train_causal(self.net, seqs, self.vocab, self.device, st, callbacks, seed)

    def _predict_online(self, seqs):
        logits = causal_logits(self.net, seqs, self.vocab, self.device, tokens=self.predict_tokens)
        return [1 / (1 + np.exp(-z)) for z in logits]
