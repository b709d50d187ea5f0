"""Metrics for the KT cold-start protocol: AUC per position bucket and calibration.

Pure NumPy so the product and the CLI need no scikit-learn; the AUC matches sklearn's
roc_auc_score (ties count half). One implementation (``_TieGroups``) serves plain and bootstrap-weighted AUCs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

BUCKETS: list[tuple[str, int, int]] = [
    ("1-5", 1, 5),
    ("6-10", 6, 10),
    ("11-20", 11, 20),
    ("21-50", 21, 50),
    ("51+", 51, 10**9),
    ("all", 1, 10**9),
]


class _TieGroups:
    """Responses of one bucket grouped by equal score, in score order: AUC under any weights in O(n).

    With weight w_i on response i, AUC = sum over positive i and negative j of w_i w_j ([p_i > p_j] +
    [p_i = p_j] / 2), divided by (sum of positive weights)(sum of negative weights). Integer weights give
    the AUC of the data with each response repeated that many times (what a bootstrap resample is).
    """

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        self.y = np.asarray(y, dtype=np.float64)
        _, self.group = np.unique(np.asarray(p, dtype=np.float64), return_inverse=True)
        self.n_groups = int(self.group.max()) + 1 if len(self.group) else 0

    def auc(self, w: np.ndarray) -> float | None:
        pos = np.bincount(self.group, weights=w * self.y, minlength=self.n_groups)
        neg = np.bincount(self.group, weights=w * (1.0 - self.y), minlength=self.n_groups)
        w1, w0 = pos.sum(), neg.sum()
        if w1 <= 0 or w0 <= 0:
            return None
        below = np.cumsum(neg) - neg
        return float(pos @ (below + 0.5 * neg) / (w1 * w0))


def paired_bootstrap(
    correct: Sequence[np.ndarray],
    preds_a: Sequence[np.ndarray],
    preds_b: Sequence[np.ndarray],
    n_boot: int = 1000,
    seed: int = 0,
    margin: float = 0.01,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, float | int | None]]:
    """Bucket AUCs of two models on the same test students, with a student-level paired bootstrap.

    Each resample draws the test students with replacement and scores both models on it, so the
    difference keeps the pairing (the same responses). Per bucket: responses, wrong answers, AUC of
    A and B, the standard error of A's AUC, A - B with its 95 % percentile interval, and the share of
    resamples with A - B >= margin.
    """
    n = len(correct)
    pos = [np.arange(1, len(a) + 1) for a in correct]
    sid_all = np.concatenate([np.full(len(a), i) for i, a in enumerate(correct)]) if n else np.zeros(0, int)
    y_all, t_all = np.concatenate(correct), np.concatenate(pos)
    pa_all, pb_all = np.concatenate(preds_a), np.concatenate(preds_b)
    if not (len(y_all) == len(pa_all) == len(pb_all)):
        raise ValueError("the two prediction sets and the test file have different numbers of responses")
    parts = []
    for name, lo, hi in BUCKETS:
        m = (t_all >= lo) & (t_all <= hi)
        parts.append((name, sid_all[m], _TieGroups(y_all[m], pa_all[m]), _TieGroups(y_all[m], pb_all[m])))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[tuple[float, float]]] = {name: [] for name, *_ in parts}
    for r in range(n_boot):
        counts = rng.multinomial(n, np.full(n, 1.0 / n)).astype(np.float64)
        for name, sid, ga, gb in parts:
            w = counts[sid]
            a, b = ga.auc(w), gb.auc(w)
            if a is not None and b is not None:
                draws[name].append((a, b))
        if progress is not None:
            progress(r + 1, n_boot)
    out: dict[str, dict[str, float | int | None]] = {}
    for name, sid, ga, gb in parts:
        ones = np.ones(len(sid))
        a, b = ga.auc(ones), gb.auc(ones)
        d = np.array(draws[name]).reshape(-1, 2)
        diff = d[:, 0] - d[:, 1]
        ok = len(d) > 1
        out[name] = {
            "responses": len(sid),
            "wrong": int((ga.y == 0).sum()),
            "a": a,
            "b": b,
            "se_a": float(d[:, 0].std(ddof=1)) if ok else None,
            "diff": None if a is None or b is None else a - b,
            "diff_lo": float(np.percentile(diff, 2.5)) if ok else None,
            "diff_hi": float(np.percentile(diff, 97.5)) if ok else None,
            "share_diff_ge_margin": float((diff >= margin).mean()) if ok else None,
            "resamples": len(d),
        }
    return out


def format_comparison(res: dict[str, dict[str, float | int | None]], margin: float = 0.01) -> str:
    def f(v: float | int | None, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    rows = [
        f"| bucket | responses (wrong) | A | SE of A | B | A - B | 95 % interval of A - B | share of resamples A - B >= {margin} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res.items():
        rows.append(
            f"| {name} | {r['responses']} ({r['wrong']}) | {f(r['a'], '.4f')} | {f(r['se_a'], '.4f')} | {f(r['b'], '.4f')}"
            f" | {f(r['diff'], '+.4f')} | {f(r['diff_lo'], '+.4f')} to {f(r['diff_hi'], '+.4f')}"
            f" | {f(r['share_diff_ge_margin'], '.2f')} |"
        )
    return "\n".join(rows)


def auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half, as in sklearn's roc_auc_score); None with one class."""
    return _TieGroups(y, p).auc(np.ones(len(y)))


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
