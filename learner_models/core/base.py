"""The one interface every learner model implements, and the checkpoint format.

A model is fitted on a population of students, then `adapt` turns one student's
responses into a small per-student state (a dict of tensors, kilobytes) that the
product stores per student; `predict` reads P(correct) for next items from it.
`predict_online` is the evaluation path: each response predicted from the
earlier ones only, computed in one causal pass instead of T adaptations.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import torch
from torch import nn

from .data import StudentSequence, Vocab

State = dict[str, torch.Tensor]
Callback = Callable[[dict[str, Any]], None]

CHECKPOINT_FORMAT = "metis-learner-model"
CHECKPOINT_VERSION = 1


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """'auto' (CUDA when PyTorch sees a GPU, else CPU), 'cpu', 'cuda' or 'cuda:N'.

    A device this machine lacks, or a name that is none of these, is a ValueError saying so, raised
    before any work (otherwise it surfaces as an assertion deep inside the first tensor move).
    """
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: PyTorch sees no CUDA GPU on this machine (use auto or cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    elif dev.type != "cpu":
        raise ValueError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N")
    return dev


def state_to_bytes(state: State) -> bytes:
    """Serialise a per-student state for a database column (torch.save of compact CPU copies: torch.save
    writes a view's whole storage, so a view into something bigger would store all of it)."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().clone() for k, v in state.items()}, buf)
    return buf.getvalue()


def state_from_bytes(blob: bytes) -> State:
    return torch.load(io.BytesIO(blob), weights_only=True)


class LearnerModel:
    """Base class. Subclasses set `name`, `Config`, build `self.net` in `_build` and fill the hooks."""

    name: str = "base"  # the registry sets the name a model was asked for on the instance
    Config: ClassVar[type] = object
    # Set by fit() or load(). Until then both are None, which _check_fitted() reports; they are typed
    # as set because every other method runs on a fitted model.
    vocab: Vocab
    net: nn.Module

    def __init__(self, **config: Any) -> None:
        known = {f.name for f in fields(self.Config)}
        bad = set(config) - known
        if bad:
            raise TypeError(f"{self.name}: unknown config option(s) {sorted(bad)}; known: {sorted(known)}")
        self.config = self.Config(**config)
        self.vocab = None  # type: ignore[assignment]
        self.net = None  # type: ignore[assignment]
        self.device = torch.device("cpu")

    # -- interface ------------------------------------------------------------------------
    def fit(
        self,
        sequences: Sequence[StudentSequence],
        *,
        device: str | torch.device = "cpu",
        callbacks: Sequence[Callback] = (),
        seed: int = 0,
    ) -> LearnerModel:
        """Fit / meta-train on a population of students (each student is one task)."""
        torch.manual_seed(seed)
        np.random.seed(seed)
        self.device = resolve_device(device)
        self.vocab = Vocab.fit(sequences)
        self.net = self._build().to(self.device)
        self._fit(list(sequences), list(callbacks), seed)
        self.net.eval()
        return self

    def adapt(self, sequences: Sequence[StudentSequence]) -> list[State]:
        """Per-student states from each student's responses so far (batched over students)."""
        self._check_fitted()
        seqs = list(sequences)
        with torch.no_grad():
            full = [i for i, s in enumerate(seqs) if len(s)]
            got = dict(zip(full, self._adapt([seqs[i] for i in full]), strict=False)) if full else {}
            return [got[i] if i in got else self._empty_state() for i in range(len(seqs))]

    def extend(self, state: State, new: StudentSequence) -> State | None:
        """The state after also seeing ``new``: the responses that came after those ``state`` covers.

        The same state as adapting on the whole history at once (tests hold them equal), at the cost of
        the new responses only, so a tutor can refresh a student after each answer however long their
        history. None when the family cannot continue a state (its adaptation re-reads the whole
        history, e.g. gradient steps on the last responses); the caller then adapts from scratch.
        """
        self._check_fitted()
        with torch.no_grad():
            st = {k: v.to(self.device) for k, v in state.items()}
            if len(new) == 0:
                return {k: v.clone() for k, v in st.items()}
            return self._extend(st, new)

    def predict(
        self,
        state: State,
        skill_ids: Sequence[int] | np.ndarray,
        item_ids: Sequence[int] | np.ndarray | None = None,
        *,
        now: float | None = None,
        confidence: float | None = None,
    ) -> np.ndarray:
        """P(correct) of the student's next response for each candidate skill (and item) id.

        ``now`` (seconds, the clock of the training data's timestamps) and the ``confidence`` the student
        rated for this answer reach the models that use them (``SequenceKT`` with ``use_pre``): the same
        state then predicts lower after a long break, and higher when the student says they are sure.
        """
        self._check_fitted()
        raw = np.asarray(skill_ids, dtype=np.int64)
        sk = torch.from_numpy(self.vocab.map_skills(raw)).to(self.device)
        it = torch.from_numpy(
            self.vocab.map_items(None if item_ids is None else np.asarray(item_ids, dtype=np.int64), len(raw))
        ).to(self.device)
        with torch.no_grad():
            st = {k: v.to(self.device) for k, v in state.items()}
            z = self._predict_logits_at(st, sk, it, now=now, confidence=confidence)
            return torch.sigmoid(z).float().cpu().numpy()

    @property
    def uses_clock(self) -> bool:
        """Whether ``predict``'s ``now`` changes the prediction (the model predicts forgetting)."""
        return False

    def member_predict(
        self, state: State, skill_ids: Sequence[int] | np.ndarray, *, now: float | None = None
    ) -> np.ndarray | None:
        """(M, K) each ensemble member's P(correct) for the skills, or None for a single model."""
        self._check_fitted()
        raw = np.asarray(skill_ids, dtype=np.int64)
        sk = torch.from_numpy(self.vocab.map_skills(raw)).to(self.device)
        it = torch.from_numpy(self.vocab.map_items(None, len(raw))).to(self.device)
        with torch.no_grad():
            st = {k: v.to(self.device) for k, v in state.items()}
            z = self._member_logits_at(st, sk, it, now=now)
        return None if z is None else torch.sigmoid(z).double().cpu().numpy()

    def _member_logits_at(
        self, state: State, skills: torch.Tensor, items: torch.Tensor, *, now: float | None
    ) -> torch.Tensor | None:
        return None

    def predict_online(self, sequences: Sequence[StudentSequence]) -> list[np.ndarray]:
        """For each student, P(correct) of every response given only the earlier ones."""
        self._check_fitted()
        with torch.no_grad():
            return self._predict_online(list(sequences))

    def to(self, device: str | torch.device) -> LearnerModel:
        """Move a fitted model (e.g. trained on a GPU worker, served on CPU)."""
        self.device = resolve_device(device)
        if self.net is not None:
            self.net.to(self.device)
        return self

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, path: str | Path | IO[bytes]) -> None:
        """Weights + config + vocabulary + format version: enough to rebuild without the training code path."""
        self._check_fitted()
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "name": self.name,
                "config": asdict(self.config),
                "vocab": self.vocab.state_dict(),
                "weights": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path | IO[bytes], device: str | torch.device = "cpu") -> LearnerModel:
        from .registry import model_class

        ck = torch.load(path, map_location="cpu", weights_only=True)
        if ck.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: not a learner-model checkpoint")
        if ck["version"] > CHECKPOINT_VERSION:
            raise ValueError(
                f"{path}: checkpoint version {ck['version']} is newer than this code ({CHECKPOINT_VERSION})"
            )
        klass = model_class(ck["name"]) if cls is LearnerModel else cls
        m = klass(**ck["config"])
        m.name = ck["name"]  # keep the registered alias (e.g. 'best')
        m.vocab = Vocab.from_state_dict(ck["vocab"])
        m.device = resolve_device(device)
        m.net = m._build()
        m.net.load_state_dict(ck["weights"])
        m.net.to(m.device).eval()
        return m

    # -- hooks ----------------------------------------------------------------------------
    def _build(self) -> nn.Module:
        raise NotImplementedError

    def _fit(self, seqs: list[StudentSequence], callbacks: list[Callback], seed: int) -> None:
        raise NotImplementedError

    def _adapt(self, seqs: list[StudentSequence]) -> list[State]:
        raise NotImplementedError

    def _predict_logits(self, state: State, skills: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _predict_logits_at(
        self, state: State, skills: torch.Tensor, items: torch.Tensor, *, now: float | None, confidence: float | None
    ) -> torch.Tensor:
        """``_predict_logits`` given the time and the answer's confidence; families that use neither ignore them."""
        return self._predict_logits(state, skills, items)

    def _extend(self, state: State, new: StudentSequence) -> State | None:
        return None  # families whose state cannot be continued

    def _predict_online(self, seqs: list[StudentSequence]) -> list[np.ndarray]:
        # generic (slow) definition; models override with a causal batched pass
        out = []
        for s in seqs:
            ps = []
            for t in range(len(s)):
                st = self._adapt([s.prefix(t)])[0] if t else self._empty_state()
                sk = torch.from_numpy(self.vocab.map_skills(s.skills[t : t + 1])).to(self.device)
                it = torch.from_numpy(self.vocab.map_items(None if s.items is None else s.items[t : t + 1], 1)).to(
                    self.device
                )
                ps.append(float(torch.sigmoid(self._predict_logits(st, sk, it))[0]))
            out.append(np.array(ps))
        return out

    def _empty_state(self) -> State:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if self.net is None or self.vocab is None:
            raise RuntimeError(f"{self.name}: call fit() or load() first")


def emit(callbacks: Sequence[Callback], **info: Any) -> None:
    for cb in callbacks:
        cb(info)
