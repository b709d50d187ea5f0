"""Metis learner-model core: plain PyTorch + NumPy, never Django.

Stable API for the product (see docs/learner-models.md):
    get_model(name, **config) -> LearnerModel;  MODEL_NAMES
    model.fit(sequences, *, device, callbacks, seed); model.adapt(sequences) -> states
    model.predict(state, skill_ids, item_ids=None) -> probabilities; model.save(path); LearnerModel.load(path)
    Response, StudentSequence, read_sequences, state_to_bytes, state_from_bytes, bucket_report
"""

from .base import Callback, LearnerModel, State, resolve_device, state_from_bytes, state_to_bytes
from .data import KTFormatError, Response, StudentSequence, read_sequences
from .evaluate import bucket_report
from .registry import MODEL_NAMES, describe, get_model

__all__ = [
    "MODEL_NAMES",
    "Callback",
    "KTFormatError",
    "LearnerModel",
    "Response",
    "State",
    "StudentSequence",
    "bucket_report",
    "describe",
    "get_model",
    "read_sequences",
    "resolve_device",
    "state_from_bytes",
    "state_to_bytes",
]
