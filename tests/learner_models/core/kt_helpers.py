"""Synthetic students and quick model configs for the core tests (no /work/shared data, no Django)."""

from __future__ import annotations

import numpy as np

from learner_models.core.data import StudentSequence


def synth(
    n_students: int = 120,
    n_skills: int = 8,
    length: int = 30,
    seed: int = 0,
    side: bool = False,
    items_per_skill: int = 0,
) -> list[StudentSequence]:
    """Students with a latent ability that grows with practice; skills with fixed difficulty.

    A model that tracks the student beats chance clearly; a constant predictor does not. With
    `items_per_skill`, each response also has an item id (skill s owns items s*items_per_skill onwards).
    """
    rng = np.random.default_rng(seed)
    diff = rng.normal(0, 1.0, n_skills)
    out = []
    for _ in range(n_students):
        th = rng.normal(0, 1.2)
        T = int(rng.integers(length // 2, length + 1))
        sk = rng.integers(0, n_skills, T)
        y = np.zeros(T, dtype=np.int64)
        for t in range(T):
            p = 1 / (1 + np.exp(-(th - diff[sk[t]])))
            y[t] = rng.random() < p
            th += 0.05
        kw = {}
        if side:
            kw = {
                "confidence": np.clip(y * 0.3 + rng.random(T) * 0.7, 0, 1).astype(np.float32),
                "response_time": rng.gamma(2.0, 10.0, T).astype(np.float32),
                "hints": rng.integers(0, 3, T).astype(np.float32),
            }
        if items_per_skill:  # drawn last, so the other fields are the same with or without items
            kw["items"] = (sk * items_per_skill + rng.integers(0, items_per_skill, T)).astype(np.int64)
        out.append(StudentSequence(sk.astype(np.int64), y, **kw))
    return out


def write_akt(path, seqs: list[StudentSequence]) -> None:
    """The four-line format with item ids (`<row>,<student id>` / items / skills / answers), AKT's layout."""
    with open(path, "w") as f:
        for i, s in enumerate(seqs):
            assert s.items is not None
            f.write(f"{i + 1},{s.student_id or 1000 + i}\n")
            f.writelines(",".join(map(str, a.tolist())) + "\n" for a in (s.items, s.skills, s.correct))


# Small configs so every family fits in about a second on one core.
_SEQUENCE = {
    "epochs": 12,
    "d_model": 16,
    "hidden": 16,
    "head_hidden": 16,
    "batch_students": 16,
    "dropout": 0.0,
    "tokens_per_batch": 200,
    "tbptt": 10,
}
QUICK = {
    "best": {**_SEQUENCE, "n_models": 2},
    "dkt": dict(_SEQUENCE),
    "dkt-lstm": dict(_SEQUENCE),
    "dkvmn": {"epochs": 10, "tokens_per_batch": 400, "slots": 4, "dk": 8, "dv": 8, "hidden": 8},
    "maml": {"steps": 150, "batch": 64, "dim": 4},
    "fomaml": {"steps": 150, "batch": 64, "dim": 4},
    "reptile": {"steps": 150, "batch": 64, "dim": 4},
    "metasgd": {"steps": 150, "batch": 64, "dim": 4},
    "protonet": {"epochs": 20, "tokens_per_batch": 200, "dim": 8, "n_types": 4, "lr": 1e-2},
    "matching": {"epochs": 12, "tokens_per_batch": 200, "dim": 16},
    "elo": {},
    "pfa": {},
    "bkt": {"iters": 40},
}

# families whose state continues response by response (`extend`); the others return None
EXTENDS = {"best", "dkt", "dkt-lstm", "elo", "pfa"}
