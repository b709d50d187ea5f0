"""The promotion gate: whether a newly trained model may replace the one serving students.

A pure decision on held-out predictions (no Django). A challenger is promoted only if, on every held-out set
(students never trained on; the most recent attempts of the training students):

(a) it is clearly better than the active version: the lower end of the paired, student-level bootstrap
    interval of AUC(challenger) - AUC(active) is above ``margin``;
(b) its log-loss and ECE are no worse than the reference's beyond a small tolerance (the reference is the
    active version, or for a first version the better classic baseline);
(c) it is not below the better of Elo and PFA fitted on the same training data: the lower end of the paired
    interval of AUC(challenger) - AUC(best baseline) is at least ``-floor_tolerance``. A first version is held
    to this floor too.

A held-out set too small to tell models apart is a refusal with that reason, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .evaluate import auc, ece


@dataclass(frozen=True)
class GateConfig:
    margin: float = 0.0  # (a) lower bound of AUC(challenger) - AUC(active) must be above this
    logloss_tolerance: float = 0.01  # (b) challenger's log-loss may exceed the reference's by at most this
    ece_tolerance: float = 0.01  # (b) same for the expected calibration error
    floor_tolerance: float = 0.01  # (c) lower bound of AUC(challenger) - AUC(best baseline) >= -this
    level: float = 0.95  # two-sided percentile interval
    n_boot: int = 1000
    seed: int = 0
    min_students: int = 5  # a held-out set with fewer students (or responses) cannot decide anything
    min_responses: int = 100


@dataclass(frozen=True)
class HeldOutSet:
    """Per-response held-out predictions of every contender, aligned with ``correct`` and ``student``."""

    name: str  # short key, e.g. "students" or "recent"
    label: str  # plain words, e.g. "held-out students"
    correct: np.ndarray  # (N,) in {0, 1}
    student: np.ndarray  # (N,) student id of each response (the bootstrap draws students)
    challenger: np.ndarray  # (N,) P(correct)
    incumbent: np.ndarray | None = None  # (N,) the active version's P(correct); None for a first version
    baselines: Mapping[str, np.ndarray] = field(default_factory=dict)  # e.g. {"elo": (N,), "pfa": (N,)}


@dataclass(frozen=True)
class Check:
    check: str  # "size", "auc_vs_active", "log_loss", "ece", "floor"
    held_out: str  # which held-out set (HeldOutSet.name)
    passed: bool
    text: str  # the reason in plain words
    values: dict[str, Any]


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    checks: list[Check]
    config: GateConfig

    def summary(self) -> str:
        """One line: the first failed check, or that every check passed."""
        failed = [c for c in self.checks if not c.passed]
        if failed:
            return f"not promoted: {failed[0].text}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "")
        return "promoted: " + "; ".join(c.text for c in self.checks if c.check in ("auc_vs_active", "floor"))

    def to_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "checks": [asdict(c) for c in self.checks], "config": asdict(self.config)}


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    y = np.asarray(y, dtype=np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).mean())


def _weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUC of each row of weights ``w`` (B, N) over responses (y, p) (N,), ties counting half; NaN with one class."""
    order = np.argsort(p, kind="stable")
    ps, ys, ws = p[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])  # (G,) first response of each tied score
    pos = np.add.reduceat(ws * ys, starts, axis=1)  # (B, G)
    neg = np.add.reduceat(ws * (1.0 - ys), starts, axis=1)  # (B, G)
    w1, w0 = pos.sum(1), neg.sum(1)
    below = np.cumsum(neg, 1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (pos * (below + 0.5 * neg)).sum(1) / (w1 * w0)
    out[(w1 <= 0) | (w0 <= 0)] = np.nan
    return out


def paired_auc_resamples(
    y: np.ndarray, student: np.ndarray, preds: Sequence[np.ndarray], *, n_boot: int, seed: int
) -> np.ndarray:
    """(n_boot, len(preds)) AUCs of each model on the same student-level bootstrap resamples (paired).

    Each resample draws the students with replacement and counts each of their responses that many times.
    Computed in chunks of resamples so memory stays near 4M floats whatever the held-out size.
    """
    y = np.asarray(y, dtype=np.float64)
    _, sidx = np.unique(student, return_inverse=True)
    n = int(sidx.max()) + 1
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)  # (B, S)
    chunk = max(1, 4_000_000 // max(1, len(y)))
    out = np.empty((n_boot, len(preds)))
    for lo in range(0, n_boot, chunk):
        w = counts[lo : lo + chunk, sidx]  # (b, N)
        for m, p in enumerate(preds):
            out[lo : lo + chunk, m] = _weighted_auc(y, np.asarray(p, dtype=np.float64), w)
    return out


def _interval(diff: np.ndarray, level: float) -> tuple[float, float]:
    d = diff[np.isfinite(diff)]
    if len(d) < 2:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(d, tail)), float(np.percentile(d, 100 - tail))


def _or_low(v: float | None) -> float:
    return -1.0 if v is None else v


def _set_checks(s: HeldOutSet, cfg: GateConfig, incumbent_name: str) -> list[Check]:
    y = np.asarray(s.correct, dtype=np.float64)
    n_students, n = len(np.unique(s.student)), len(y)
    wrong = int((y == 0).sum())
    size = {"students": n_students, "responses": n, "wrong": wrong}
    if n_students < cfg.min_students or n < cfg.min_responses or wrong == 0 or wrong == n:
        text = (
            f"{s.label}: only {n_students} students and {n} responses ({wrong} wrong), too few to tell models"
            f" apart (needs at least {cfg.min_students} students and {cfg.min_responses} responses with both"
            " right and wrong answers)"
        )
        return [Check("size", s.name, False, text, size)]
    checks = [Check("size", s.name, True, f"{s.label}: {n_students} students, {n} responses", size)]
    names = ["challenger"] + (["incumbent"] if s.incumbent is not None else []) + list(s.baselines)
    preds = [s.challenger] + ([s.incumbent] if s.incumbent is not None else []) + list(s.baselines.values())
    point = {k: auc(y, p) for k, p in zip(names, preds, strict=True)}
    boot = paired_auc_resamples(y, s.student, preds, n_boot=cfg.n_boot, seed=cfg.seed)
    col = dict(zip(names, boot.T, strict=True))
    pct = f"{cfg.level:.0%}".replace("%", " %")

    def compare(other: str, other_label: str) -> dict[str, Any]:
        lo, hi = _interval(col["challenger"] - col[other], cfg.level)
        a, b = point["challenger"], point[other]
        diff = None if a is None or b is None else a - b
        return {"auc": a, "other_auc": b, "other": other, "diff": diff, "lo": lo, "hi": hi, "label": other_label}

    def words(v: dict[str, Any]) -> str:
        return (
            f"AUC {v['auc']:.3f} vs {v['label']} {v['other_auc']:.3f}, difference {v['diff']:+.3f}"
            f" ({pct} interval {v['lo']:+.3f} to {v['hi']:+.3f})"
        )

    if s.incumbent is not None:
        v = compare("incumbent", incumbent_name)
        ok = bool(np.isfinite(v["lo"]) and v["lo"] > cfg.margin)
        verdict = "clearly better" if ok else f"not clearly better (needs the interval above {cfg.margin:+.3f})"
        checks.append(Check("auc_vs_active", s.name, ok, f"{s.label}: {words(v)}: {verdict}", v))

    best = max(s.baselines, key=lambda k: _or_low(point[k]), default=None)
    if s.incumbent is not None:
        ref, ref_label, ref_p = "incumbent", incumbent_name, s.incumbent
    elif best is not None:
        ref, ref_label, ref_p = best, best.upper(), s.baselines[best]
    else:
        ref = ""
    if ref:
        for key, fn, tol, what in (
            ("log_loss", log_loss, cfg.logloss_tolerance, "log-loss"),
            ("ece", ece, cfg.ece_tolerance, "ECE"),
        ):
            mine, theirs = float(fn(y, s.challenger) or 0.0), float(fn(y, ref_p) or 0.0)
            ok = mine <= theirs + tol
            verdict = "no worse" if ok else f"worse by more than {tol:.3f}"
            text = f"{s.label}: {what} {mine:.3f} vs {ref_label} {theirs:.3f}: {verdict}"
            checks.append(Check(key, s.name, ok, text, {"challenger": mine, "reference": theirs, "against": ref}))

    if best is not None:
        v = compare(best, f"{best.upper()} (the better baseline)")
        ok = bool(np.isfinite(v["lo"]) and v["lo"] >= -cfg.floor_tolerance)
        verdict = (
            "at or above the baseline floor"
            if ok
            else f"may be below the baseline (needs the interval's lower end at least {-cfg.floor_tolerance:+.3f})"
        )
        checks.append(Check("floor", s.name, ok, f"{s.label}: {words(v)}: {verdict}", v))
    return checks


def gate_decide(
    held_out: Sequence[HeldOutSet], config: GateConfig | None = None, *, incumbent_name: str = "the active version"
) -> GateDecision:
    """Promote only if every check passes on every held-out set; deterministic for a given ``config.seed``."""
    cfg = config or GateConfig()
    if not held_out:
        return GateDecision(False, [Check("size", "", False, "no held-out data to judge the model on", {})], cfg)
    checks = [c for s in held_out for c in _set_checks(s, cfg, incumbent_name)]
    return GateDecision(all(c.passed for c in checks), checks, cfg)


def recent_split(times: Sequence[np.ndarray], ids: Sequence[np.ndarray], fraction: float) -> list[int]:
    """How many of each student's first responses to train on, holding out the most recent ``fraction`` of all
    responses by time (ties broken by id). Each sequence must be in (time, id) order, so the held-out responses
    of a student are a suffix of their sequence."""
    lengths = [len(t) for t in times]
    total = sum(lengths)
    n_recent = int(fraction * total)
    if n_recent == 0:
        return lengths
    t_all = np.concatenate([np.asarray(t, dtype=np.float64) for t in times])
    i_all = np.concatenate([np.asarray(i, dtype=np.int64) for i in ids])
    owner = np.repeat(np.arange(len(lengths)), lengths)
    recent = np.lexsort((i_all, t_all))[-n_recent:]
    held = np.bincount(owner[recent], minlength=len(lengths))
    return [n - int(h) for n, h in zip(lengths, held, strict=True)]
