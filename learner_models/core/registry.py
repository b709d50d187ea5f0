"""Model registry: one name per family/baseline, and `best` for the model the product serves.

`best` is whichever model measured best on the cold-start protocol (see
docs/learner-models.md); its defaults are the same for every dataset.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import LearnerModel

# name -> (module, class, config overrides, one-line description for --help)
_REGISTRY: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "best": (
        "sequence",
        "SequenceKT",
        {
            "stack": True,
            "item_stack": True,
            "use_pre": True,
            "stack_position": True,
            "stack_early": True,
            "item_dropout": 0.9,
        },
        "3 GRU learners (ensemble): learned prior state, item and skill embeddings (item ids hidden from 90 %"
        " of training answers), PFA counts, side inputs, the answer's own confidence and time since practice,"
        " calibration; stacked with Elo, PFA and item easiness, with each of the first answers calibrated apart",
    ),
    "dkt": (
        "sequence",
        "SequenceKT",
        {"use_counts": False, "n_models": 1},
        "DKT-style GRU (learned initial state, calibrated)",
    ),
    "dkt-lstm": ("sequence", "SequenceKT", {"cell": "lstm", "use_counts": False, "n_models": 1}, "DKT-style LSTM"),
    "dkvmn": ("memory", "MemoryKT", {}, "memory-augmented (DKVMN); state = per-student value memory"),
    "maml": ("meta", "FastWeightKT", {"algo": "maml"}, "MAML (second order) on per-student fast weights"),
    "fomaml": ("meta", "FastWeightKT", {"algo": "fomaml"}, "first-order MAML"),
    "reptile": ("meta", "FastWeightKT", {"algo": "reptile"}, "Reptile"),
    "metasgd": ("meta", "FastWeightKT", {"algo": "metasgd"}, "Meta-SGD: learned per-parameter inner step sizes"),
    "protonet": ("metric", "PrototypeKT", {}, "learner-type prototypes (prototypical network)"),
    "matching": ("metric", "MatchingKT", {}, "matching / relation scorer over the support responses"),
    "elo": ("baselines", "EloKT", {}, "Elo / 1PL IRT with online ability"),
    "pfa": ("baselines", "PFAKT", {}, "Performance Factors Analysis"),
    "bkt": ("baselines", "BKTKT", {}, "Bayesian Knowledge Tracing (per-id HMM)"),
}
MODEL_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def describe() -> dict[str, str]:
    return {k: v[3] for k, v in _REGISTRY.items()}


def model_class(name: str) -> type[LearnerModel]:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    mod, cls, _, _ = _REGISTRY[name]
    return getattr(importlib.import_module(f"{__package__}.{mod}"), cls)


def get_model(name: str = "best", **config: Any) -> LearnerModel:
    """A fresh, unfitted model: registry defaults for `name`, overridden by `config`."""
    klass = model_class(name)
    m = klass(**{**_REGISTRY[name][2], **config})
    m.name = name
    return m
