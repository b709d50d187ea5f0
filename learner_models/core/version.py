"""The version of the learner-model code: a hash of this package's source files.

A training request is keyed on it (with the algorithm, hyperparameters and data cut-off), so a deploy that
changes the model code trains again even when no new attempts arrived. No constant to remember to bump.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def source_hash(root: Path) -> str:
    """sha256 over the relative path and bytes of every ``*.py`` file under ``root``, in path order (12 hex)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@cache
def code_version() -> str:
    """The hash of ``learner_models/core`` as deployed (computed once per process)."""
    return source_hash(_HERE)
