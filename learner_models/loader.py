"""Loading model versions into memory, once per process, with their checksum verified; unpacked
per-student states, cached per process by their content."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict

from learner_models.core.base import LearnerModel, State, state_from_bytes, state_to_bytes

from .models import ModelVersion

_CACHE_SIZE = 3
_cache: OrderedDict[tuple[int, str], LearnerModel] = OrderedDict()
_adapt_ms: dict[int, float] = {}
_lock = threading.Lock()
# Unpacking a stored state (torch.load) takes about a millisecond, as much as predicting from it; the
# per-answer refresh and the next-item predictions both start from the state stored a moment before.
# Keyed on a digest of the stored bytes, so a hit is the same state by construction and nothing needs
# invalidating. Callers treat the states as read-only (extend and predict return new tensors).
_STATE_CACHE_SIZE = 1024  # a few KB each (11 KB for 1,200 ids): at most about 11 MB per process
_states: OrderedDict[bytes, State] = OrderedDict()


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


def _state_key(blob: bytes) -> bytes:
    return hashlib.blake2b(blob, digest_size=16).digest()


def _state_remember(key: bytes, state: State) -> None:
    with _lock:
        _states[key] = state
        _states.move_to_end(key)
        while len(_states) > _STATE_CACHE_SIZE:
            _states.popitem(last=False)


def state_unpacked(blob: bytes | memoryview) -> State:
    """The state stored as ``blob`` (read-only: shared with later readers of the same bytes)."""
    blob = bytes(blob)
    key = _state_key(blob)
    with _lock:
        state = _states.get(key)
        if state is not None:
            _states.move_to_end(key)
            return state
    state = state_from_bytes(blob)
    _state_remember(key, state)
    return state


def state_packed(state: State) -> bytes:
    """The bytes to store for ``state``; the next ``state_unpacked`` of them needs no unpacking."""
    blob = state_to_bytes(state)
    _state_remember(_state_key(blob), state)
    return blob


def states_forget() -> None:
    """Empty this process's cache of unpacked states (as a process that never read them would be)."""
    with _lock:
        _states.clear()
