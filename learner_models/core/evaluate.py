"""Metrics for the KT cold-start protocol: AUC per position bucket and calibration.

Pure NumPy so the product and the CLI need no scikit-learn; the rank AUC matches
sklearn's roc_auc_score (ties get the average rank).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BUCKETS: list[tuple[str, int, int]] = [
    ("1-5", 1, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21-50", 21, 50),
    ("51+", 51, 10**9),
    ("all", 1, 10**9),
]


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one class is present."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n1 = y.sum()
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    order = np.argsort(p, kind="mergesort")
    ps = p[order]
    ranks = np.empty(len(p), dtype=np.float64)
    # average ranks over ties
    _, start, counts = np.unique(ps, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float | None:
    """Expected calibration error with equal-width probability bins."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) == 0:
        return None
    idx = np.minimum((p * bins).astype(int), bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.sum() * abs(y[m].mean() - p[m].mean())
    return float(err / len(y))


def bucket_report(correct: Sequence[np.ndarray], preds: Sequence[np.ndarray]) -> dict[str, float | None]:
    """AUC per position bucket, plus ECE on positions 1-10 and overall."""
    out: dict[str, float | None] = {}
    pos = [np.arange(1, len(a) + 1) for a in correct]
    y_all, p_all, t_all = np.concatenate(correct), np.concatenate(preds), np.concatenate(pos)
    for name, lo, hi in BUCKETS:
        m = (t_all >= lo) & (t_all <= hi)
        out[name] = auc(y_all[m], p_all[m])
    m10 = t_all <= 10
    out["ece_1-10"] = ece(y_all[m10], p_all[m10])
    out["ece_all"] = ece(y_all, p_all)
    return out


def format_report(rep: dict[str, float | None]) -> str:
    keys = [b[0] for b in BUCKETS] + ["ece_1-10", "ece_all"]
    head = "| " + " | ".join(keys) + " |"
    sep = "|" + "---|" * len(keys)
    row = "| " + " | ".join("-" if rep.get(k) is None else f"{rep[k]:.4f}" for k in keys) + " |"
    return "\n".join([head, sep, row])
