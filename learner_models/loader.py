"""Loading model versions into memory, once per process, with their checksum verified."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict

from learner_models.core.base import LearnerModel

from .models import ModelVersion

_CACHE_SIZE = 3
_cache: OrderedDict[tuple[int, str], LearnerModel] = OrderedDict()
_adapt_ms: dict[int, float] = {}
_lock = threading.Lock()


class CheckpointCorrupt(Exception):
    pass


def load_model(version: ModelVersion) -> LearnerModel:
    """The version's model on CPU (serving adapts one student at a time; CPU is fastest for that)."""
    key = (version.pk, version.checksum)
    with _lock:
        model = _cache.get(key)
        if model is not None:
            _cache.move_to_end(key)
            return model
    with version.checkpoint.open("rb") as fh:
        blob = fh.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != version.checksum:
        raise CheckpointCorrupt(
            f"model version {version.pk}: checksum {digest[:12]} != recorded {version.checksum[:12]}"
        )
    model = LearnerModel.load(io.BytesIO(blob), device="cpu")
    with _lock:
        _cache[key] = model
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model


def record_adapt_ms(version_id: int, ms: float) -> None:
    """Exponentially weighted adapt time per version in this process (decides inline vs queued refresh)."""
    prev = _adapt_ms.get(version_id)
    _adapt_ms[version_id] = ms if prev is None else 0.8 * prev + 0.2 * ms


def typical_adapt_ms(version_id: int) -> float:
    return _adapt_ms.get(version_id, 0.0)


def clear() -> None:
    with _lock:
        _cache.clear()
    _adapt_ms.clear()
