"""Student response data: the contract types, file parsers and tensor batching.

The Django side converts ORM rows into `Response` / `StudentSequence` through
its own mappers; the core never sees a model instance. Inside the core a
sequence is kept as NumPy arrays (one per field) because the KT files hold
hundreds of thousands of responses.
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

_N = TypeVar("_N", int, float)


class KTFormatError(ValueError):
    """A malformed input file; the message names the file, line and problem."""

    def __init__(self, path: str | Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


@dataclass(frozen=True)
class Response:
    """One answer. Optional fields are None when the source does not record them."""

    skill: int
    correct: int
    item: int | None = None
    confidence: float | None = None  # 0..1, rated before answering
    response_time: float | None = None  # seconds
    hints: int | None = None
    timestamp: float | None = None  # when it was answered, seconds (e.g. since the epoch)


def _opt(values: Sequence[float | int | None]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class StudentSequence:
    """One student's responses in answer order, stored column-wise (NaN = not recorded)."""

    skills: np.ndarray  # (T,) int64
    correct: np.ndarray  # (T,) int64 in {0, 1}
    items: np.ndarray | None = None  # (T,) int64, -1 = none
    confidence: np.ndarray | None = None  # (T,) float, NaN = not recorded
    response_time: np.ndarray | None = None  # (T,) float seconds
    hints: np.ndarray | None = None  # (T,) float count
    student_id: str | None = field(default=None)
    timestamps: np.ndarray | None = None  # (T,) float seconds, NaN = not recorded

    def __len__(self) -> int:
        return int(self.skills.shape[0])

    @classmethod
    def from_responses(cls, responses: Iterable[Response], student_id: str | None = None) -> StudentSequence:
        rs = list(responses)
        items = [r.item for r in rs]
        return cls(
            skills=np.array([r.skill for r in rs], dtype=np.int64),
            correct=np.array([int(r.correct) for r in rs], dtype=np.int64),
            items=None
            if all(i is None for i in items)
            else np.array([-1 if i is None else i for i in items], dtype=np.int64),
            confidence=_opt_or_none([r.confidence for r in rs]),
            response_time=_opt_or_none([r.response_time for r in rs]),
            hints=_opt_or_none([r.hints for r in rs]),
            student_id=student_id,
            timestamps=_opt_or_none([r.timestamp for r in rs]),
        )

    def responses(self) -> list[Response]:
        def get(a: np.ndarray | None, t: int, cast: Callable[[Any], _N]) -> _N | None:
            if a is None or (a.dtype.kind == "f" and math.isnan(a[t])) or (a.dtype.kind == "i" and a[t] < 0):
                return None
            return cast(a[t])

        return [
            Response(
                int(self.skills[t]),
                int(self.correct[t]),
                get(self.items, t, int),
                get(self.confidence, t, float),
                get(self.response_time, t, float),
                get(self.hints, t, int),
                get(self.timestamps, t, float),
            )
            for t in range(len(self))
        ]

    def prefix(self, n: int) -> StudentSequence:
        """The first n responses (what the tutor knew before answer n+1)."""
        return self._slice(slice(None, n))

    def since(self, n: int) -> StudentSequence:
        """The responses after the first n (what ``LearnerModel.extend`` adds to a state covering n)."""
        return self._slice(slice(n, None))

    def _slice(self, sl: slice) -> StudentSequence:
        def cut(a):
            return None if a is None else a[sl]

        return StudentSequence(
            self.skills[sl],
            self.correct[sl],
            cut(self.items),
            cut(self.confidence),
            cut(self.response_time),
            cut(self.hints),
            self.student_id,
            cut(self.timestamps),
        )


def _opt_or_none(values: list[float | int | None]) -> np.ndarray | None:
    return None if all(v is None for v in values) else _opt(values)


# ---------------------------------------------------------------------------- parsers


# Ids, counts and positions are stored as int64: anything larger is a malformed file, not an overflow later.
_MAX_INT = 2**62


def _read_text(path: Path) -> str:
    """The file as UTF-8 text (a BOM is dropped); bytes that are not UTF-8 are a KTFormatError naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KTFormatError(path, line, f"not UTF-8 text (byte {data[exc.start]:#04x})") from None


def _int(path: Path, lineno: int, tok: str, what: str) -> int:
    try:
        value = int(tok)
    except ValueError:
        raise KTFormatError(path, lineno, f"{what} {tok[:40]!r} is not an integer") from None
    if abs(value) > _MAX_INT:
        raise KTFormatError(path, lineno, f"{what} {tok[:40]!r} is too large")
    return value


def _groups(path: Path, size: int, what: str) -> list[list[tuple[int, str]]]:
    """The file's non-blank lines (number, text less surrounding whitespace) in groups of `size`."""
    raw = _read_text(path).splitlines()
    lines = [(i + 1, ln.strip()) for i, ln in enumerate(raw) if ln.strip()]
    if not lines:
        raise KTFormatError(path, 1, "no students in file")
    if len(lines) % size:
        raise KTFormatError(
            path, lines[-1][0], f"expected groups of {size} lines ({what}), got {len(lines)} non-blank lines"
        )
    return [lines[g : g + size] for g in range(0, len(lines), size)]


def _int_line(path: Path, line: tuple[int, str], n: int | None, what: str, *, binary: bool = False) -> np.ndarray:
    """One line of comma-separated non-negative integers (0 or 1 where `binary`), n of them when n is given.

    `what` names them in the plural ("skill ids"); errors name the line.
    """
    lineno, text = line
    values = np.array(
        [_int(path, lineno, t.strip(), what.removesuffix("s")) for t in text.split(",") if t.strip()], dtype=np.int64
    )
    if n is not None and len(values) != n:
        raise KTFormatError(path, lineno, f"expected {n} {what}, got {len(values)}")
    if binary and not np.isin(values, (0, 1)).all():
        raise KTFormatError(path, lineno, f"{what} must be 0 or 1")
    if (values < 0).any():
        raise KTFormatError(path, lineno, f"{what} must be non-negative")
    return values


DKVMN_LINES = "count, ids, answers"
AKT_LINES = "row and student, item ids, skill ids, answers"


def read_dkvmn(path: str | Path) -> list[StudentSequence]:
    """Three-line format: count / ids / 0-1 answers per student (DKVMN reference data)."""
    path = Path(path)
    seqs = []
    for (ln_n, s_n), ids, answers in _groups(path, 3, DKVMN_LINES):
        n = _int(path, ln_n, s_n.rstrip(","), "response count")
        if n <= 0:
            raise KTFormatError(path, ln_n, f"response count must be positive, got {n}")
        seqs.append(
            StudentSequence(_int_line(path, ids, n, "ids"), _int_line(path, answers, n, "answers", binary=True))
        )
    return seqs


def read_akt(path: str | Path) -> list[StudentSequence]:
    """Four-line format with item ids: `<row>,<student id>` / item ids / skill ids / 0-1 answers per student
    (AKT reference data, e.g. assist2009_pid). The student id becomes `student_id`."""
    path = Path(path)
    seqs = []
    for (ln_h, head), items, skills, answers in _groups(path, 4, AKT_LINES):
        fields = [t.strip() for t in head.rstrip(",").split(",")]
        if len(fields) != 2 or not fields[1]:
            raise KTFormatError(path, ln_h, f"expected `<row>,<student id>` to start a student, got {head[:40]!r}")
        _int(path, ln_h, fields[0], "row")
        item_ids = _int_line(path, items, None, "item ids")
        if not len(item_ids):
            raise KTFormatError(path, items[0], "a student without responses")
        n = len(item_ids)
        seqs.append(
            StudentSequence(
                _int_line(path, skills, n, "skill ids"),
                _int_line(path, answers, n, "answers", binary=True),
                item_ids,
                student_id=fields[1],
            )
        )
    return seqs


LONG_REQUIRED = ("student", "skill", "correct")
LONG_OPTIONAL = ("item", "timestamp", "confidence", "response_time", "hints")


def read_long(path: str | Path) -> list[StudentSequence]:
    """Long CSV: header `student,skill,correct[,item,timestamp,confidence,response_time,hints]`.

    ``timestamp`` is in seconds (e.g. Unix time); ``confidence`` in 0..1, rated before answering.

    Rows are in answer order per student; students keep their order of first appearance.
    """
    path = Path(path)
    with io.StringIO(_read_text(path), newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise KTFormatError(path, 1, "empty file (expected a header row)")
        header = [h.strip() for h in header]
        missing = [c for c in LONG_REQUIRED if c not in header]
        if missing:
            raise KTFormatError(path, 1, f"header lacks column(s) {', '.join(missing)}")
        unknown = [c for c in header if c not in LONG_REQUIRED + LONG_OPTIONAL]
        if unknown:
            raise KTFormatError(path, 1, f"unknown column(s) {', '.join(unknown)}")
        col = {h: i for i, h in enumerate(header)}
        rows: dict[str, list[Response]] = {}

        def cell(row: list[str], name: str) -> str | None:
            v = row[col[name]].strip() if name in col else ""
            return v or None

        def num(
            row: list[str],
            lineno: int,
            name: str,
            kind: Callable[[str], _N],
            lo: float | None = None,
            hi: float | None = None,
        ) -> _N | None:
            v = cell(row, name)
            if v is None:
                return None
            try:
                x = kind(v)
            except ValueError:
                kind_name = getattr(kind, "__name__", kind)
                raise KTFormatError(path, lineno, f"{name} {v[:40]!r} is not a {kind_name}") from None
            too_big = isinstance(x, int) and abs(x) > _MAX_INT
            if (
                (lo is not None and x < lo)
                or (hi is not None and x > hi)
                or (isinstance(x, float) and not math.isfinite(x))
                or too_big
            ):
                raise KTFormatError(path, lineno, f"{name} {v[:40]!r} is out of range")
            return x

        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise KTFormatError(path, lineno, f"expected {len(header)} fields, got {len(row)}")

            student = cell(row, "student")
            if student is None:
                raise KTFormatError(path, lineno, "student is empty")
            skill, correct = num(row, lineno, "skill", int, 0), num(row, lineno, "correct", int, 0, 1)
            if skill is None or correct is None:
                raise KTFormatError(path, lineno, "skill and correct are required")
            rows.setdefault(student, []).append(
                Response(
                    skill=int(skill),
                    correct=int(correct),
                    item=num(row, lineno, "item", int, 0),
                    confidence=num(row, lineno, "confidence", float, 0.0, 1.0),
                    response_time=num(row, lineno, "response_time", float, 0.0),
                    hints=num(row, lineno, "hints", int, 0),
                    timestamp=num(row, lineno, "timestamp", float, 0.0),
                )
            )
    if not rows:
        raise KTFormatError(path, 2, "no responses in file")
    return [StudentSequence.from_responses(r, student_id=s) for s, r in rows.items()]


FORMATS = ("auto", "dkvmn", "akt", "long")
_READERS: dict[str, Callable[[str | Path], list[StudentSequence]]] = {
    "dkvmn": read_dkvmn,
    "akt": read_akt,
    "long": read_long,
}
_GROUP = {"dkvmn": (3, DKVMN_LINES), "akt": (4, AKT_LINES)}  # the line formats: lines per student


def detect_format(path: str | Path) -> str:
    """The format of a file from its first non-blank line (the referee tells the line formats apart the same way).

    An integer alone is a response count (``dkvmn``, three lines a student); an integer and one more field
    are ``<row>,<student id>`` (``akt``, four lines a student, with item ids); anything else is a long
    CSV's header (``long``), so a header that lacks a column is reported as such.
    """
    path = Path(path)
    first = next((ln.strip().rstrip(",") for ln in _read_text(path).splitlines() if ln.strip()), None)
    if first is None:
        raise KTFormatError(path, 1, "empty file")
    fields = first.split(",")
    try:
        int(fields[0])
    except ValueError:
        return "long"
    return {1: "dkvmn", 2: "akt"}.get(len(fields), "long")


def read_sequences(path: str | Path, fmt: str = "auto") -> list[StudentSequence]:
    """A KT file in any of `FORMATS` ("auto" detects it); a malformed file raises `KTFormatError`."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    return _READERS[fmt](path)


def subset_students(path: str | Path, fmt: str, fraction: float, seed: int) -> tuple[str, int, int]:
    """A random share of a file's students, as the text of a file of the same format.

    The file is parsed first (a malformed file raises `KTFormatError` and nothing is returned). The
    students are shuffled with `random.Random(seed)` and the first `round(fraction * n)` (at least one)
    are kept, in their original order, with their lines copied as they are (less surrounding whitespace
    in the three- and four-line formats). Subsets of one seed are nested:
    every student of a smaller fraction is in every larger one, so a learning curve adds data rather than
    redrawing it. Returns (text, students kept, students in the file).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    n = len(read_sequences(path, fmt))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    keep = set(order[: max(1, round(fraction * n))])
    if fmt in _GROUP:  # the parser's own grouping
        groups = _groups(path, *_GROUP[fmt])
        kept = [text for g, lines in enumerate(groups) if g in keep for _, text in lines]
        return "\n".join(kept) + "\n", len(keep), n
    raw = _read_text(path).splitlines()
    header = next(csv.reader([raw[0]]))
    col = [h.strip() for h in header].index("student")
    index: dict[str, int] = {}  # students in order of first appearance, as `read_long` numbers them
    kept = [raw[0]]
    for ln in raw[1:]:
        cells = next(csv.reader([ln]), [])
        if not cells or all(not c.strip() for c in cells):
            continue
        if index.setdefault(cells[col].strip(), len(index)) in keep:
            kept.append(ln)
    return "\n".join(kept) + "\n", len(keep), n


def read_predictions(path: str | Path, lengths: Sequence[int]) -> list[np.ndarray]:
    """A `student,position,p` CSV (what kt-eval writes) as one array per test student.

    `lengths` are the test students' response counts. Each response needs exactly one row (student is
    0-based, position 1-based) with p a probability; rows may come in any order.
    """
    path = Path(path)
    out = [np.full(n, np.nan) for n in lengths]
    with io.StringIO(_read_text(path), newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if header != ["student", "position", "p"]:
            raise KTFormatError(path, 1, f"expected the header student,position,p, got {','.join(header) or 'nothing'}")
        lineno = 1
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 3:
                raise KTFormatError(path, lineno, f"expected 3 fields, got {len(row)}")
            i = _int(path, lineno, row[0].strip(), "student")
            t = _int(path, lineno, row[1].strip(), "position")
            try:
                v = float(row[2])
            except ValueError:
                raise KTFormatError(path, lineno, f"p {row[2].strip()!r} is not a number") from None
            if not 0 <= i < len(lengths):
                raise KTFormatError(path, lineno, f"student {i} is not in the test file (0 to {len(lengths) - 1})")
            if not 1 <= t <= lengths[i]:
                raise KTFormatError(path, lineno, f"student {i} has positions 1 to {lengths[i]}, not {t}")
            if not 0.0 <= v <= 1.0:  # also rejects NaN
                raise KTFormatError(path, lineno, f"p {row[2].strip()!r} is not a probability")
            if not np.isnan(out[i][t - 1]):
                raise KTFormatError(path, lineno, f"a second prediction for student {i}, position {t}")
            out[i][t - 1] = v
    for i, a in enumerate(out):
        gaps = np.flatnonzero(np.isnan(a))
        if len(gaps):
            raise KTFormatError(path, lineno, f"ends without a prediction for student {i}, position {int(gaps[0]) + 1}")
    return out


# ---------------------------------------------------------------------------- batching

N_SIDE = 6  # side-feature channels, see side_features()


def side_features(seq: StudentSequence) -> np.ndarray:
    """(T, 6) float32: confidence, log time, log hints, each with a 'present' flag.

    Missing values become 0 with flag 0, so a model trained with them still runs without.
    """
    T = len(seq)
    out = np.zeros((T, N_SIDE), dtype=np.float32)
    channels: tuple[tuple[np.ndarray | None, Callable[[np.ndarray], np.ndarray]], ...] = (
        (seq.confidence, lambda x: x),
        (seq.response_time, lambda x: np.log1p(x) - 3.0),
        (seq.hints, np.log1p),
    )
    for j, (arr, fn) in enumerate(channels):
        if arr is not None:
            ok = ~np.isnan(arr)
            out[ok, 2 * j] = fn(arr[ok])
            out[ok, 2 * j + 1] = 1.0
    return out


N_PRE = 6  # channels known before an answer is given, see pre_channels()
HOUR = 3600.0


def pre_channels(confidence: np.ndarray, since_skill_s: np.ndarray, since_last_s: np.ndarray) -> np.ndarray:
    """(..., 6) float32: what is known about a response before it is given, each with a 'present' flag.

    The confidence the student rated before answering; log1p hours since they last practised the same
    skill (absent the first time); log1p hours since their previous answer (a long gap is a new session).
    A model fed these predicts forgetting and self-assessment itself. NaN = not recorded (0, flag 0), so
    data without confidence or times (the public KT files) runs unchanged. The one definition, whether the
    inputs come from a sequence (``pre_features``) or from a served state (``pre_features_at``).
    """
    chans = (
        confidence,
        np.log1p(np.maximum(since_skill_s, 0.0) / HOUR),
        np.log1p(np.maximum(since_last_s, 0.0) / HOUR),
    )
    out = np.zeros((*np.shape(confidence), N_PRE), dtype=np.float32)
    for j, x in enumerate(chans):
        ok = ~np.isnan(x)
        out[..., 2 * j] = np.where(ok, x, 0.0)
        out[..., 2 * j + 1] = ok
    return out


def pre_features(seq: StudentSequence) -> np.ndarray:
    """(T, N_PRE) ``pre_channels`` of every response of one sequence."""
    T = len(seq)
    nan = np.full(T, np.nan)
    conf = nan if seq.confidence is None else seq.confidence
    if seq.timestamps is None:
        return pre_channels(conf, nan, nan)
    ts = seq.timestamps
    since_last = np.r_[np.nan, np.diff(ts)] if T else nan
    since_skill = np.full(T, np.nan)
    last: dict[int, float] = {}
    for t, (q, x) in enumerate(zip(seq.skills.tolist(), ts.tolist(), strict=True)):
        if q in last:
            since_skill[t] = x - last[q]
        if not math.isnan(x):
            last[q] = x
    return pre_channels(conf, since_skill, since_last)


def last_times(skills: np.ndarray, timestamps: np.ndarray | None, n_ids: int) -> tuple[np.ndarray, float]:
    """When each (mapped) id was last practised (NaN = never or unknown) and the last answer's time: what a
    served state keeps so that ``pre_features_at`` continues ``pre_features``."""
    out = np.full(n_ids, np.nan)
    if timestamps is None or not len(skills):
        return out, math.nan
    ok = ~np.isnan(timestamps)
    out[skills[ok]] = timestamps[ok]  # later answers overwrite earlier ones (fancy assignment keeps the last)
    return out, float(timestamps[-1])


def pre_features_at(last_skill_t: np.ndarray, last_t: float, now: float | None, confidence: float | None) -> np.ndarray:
    """(K, N_PRE) ``pre_channels`` for K candidates answered at ``now`` (seconds; None = unknown), given the
    times each candidate's id was last practised (K,) and the last answer's time."""
    K = len(last_skill_t)
    t = math.nan if now is None else float(now)
    conf = np.full(K, math.nan if confidence is None else float(confidence))
    return pre_channels(conf, t - last_skill_t, np.full(K, t - last_t))


def count_features(
    succ: torch.Tensor, fail: torch.Tensor, succ_all: torch.Tensor, fail_all: torch.Tensor
) -> torch.Tensor:
    """The PFA-style count channels a model sees for one asked id: (..., 4) float32, log1p of the successes
    and failures on that id and on every id before the response. The one definition, whether the counts
    come from a sequence (``count_features_before``) or from a state's totals (``count_features_from_state``).
    """
    return torch.stack([succ, fail, succ_all, fail_all], -1).log1p().float()


def count_features_before(skills: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """(T, 4) ``count_features`` of each response of one sequence, counting the responses before it.

    Vectorised (stable sort by id, exclusive cumulative sums per group): it runs on every adaptation.
    """
    T = len(skills)
    y = correct.astype(np.float64)
    order = np.argsort(skills, kind="stable")
    s_sorted, y_sorted = skills[order], y[order]
    cs = np.cumsum(y_sorted) - y_sorted
    start = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1] if T else np.zeros(0, dtype=np.int64)
    grp = np.repeat(start, np.diff(np.r_[start, T]))
    succ = np.empty(T)
    cnt = np.empty(T)
    succ[order] = cs - cs[grp]
    cnt[order] = np.arange(T) - grp
    gs = np.cumsum(y) - y
    counts = (succ, cnt - succ, gs, np.arange(T) - gs)
    return count_features(*(torch.from_numpy(c) for c in counts)).numpy()


def count_features_from_state(succ: torch.Tensor, fail: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
    """(K, 4) ``count_features`` for K candidate ids, from a state's per-id totals (``count_totals``)."""
    K = skills.shape[0]
    return count_features(succ[skills], fail[skills], succ.sum().expand(K), fail.sum().expand(K))


def count_totals(
    skills: torch.Tensor, correct: torch.Tensor, mask: torch.Tensor | None, n_ids: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Successes and failures per id (..., n_ids) over the last axis of ids (..., T): what a state keeps
    so that ``count_features_from_state`` continues ``count_features_before``. Masked responses
    (padding) count as neither."""
    seen = torch.ones_like(correct) if mask is None else mask.to(correct.dtype)
    keep = correct * seen
    zeros = torch.zeros(*skills.shape[:-1], n_ids, dtype=correct.dtype, device=skills.device)
    return zeros.scatter_add(-1, skills, keep), zeros.scatter_add(-1, skills, seen - keep)


@dataclass
class Batch:
    """Padded tensors for B students of length ≤ T. Ids are already mapped to the model's vocabulary."""

    skills: torch.Tensor  # (B, T) long, 0 = padding/unknown
    items: torch.Tensor  # (B, T) long, 0 = none/unknown
    correct: torch.Tensor  # (B, T) float
    side: torch.Tensor  # (B, T, N_SIDE) float
    counts: torch.Tensor  # (B, T, 4) float
    mask: torch.Tensor  # (B, T) bool, True where a real response
    pre: torch.Tensor  # (B, T, N_PRE) float, known before each answer (pre_features)

    FIELDS = ("skills", "items", "correct", "side", "counts", "mask", "pre")

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(getattr(self, f).to(device) for f in self.FIELDS))

    def time_slice(self, a: int, z: int) -> Batch:
        return Batch(*(getattr(self, f)[:, a:z] for f in self.FIELDS))


@dataclass
class Vocab:
    """Maps raw ids seen in training to 1..n; anything unseen maps to 0 (the shared 'unknown' row)."""

    n_skills: int  # largest raw skill id seen + 1
    n_items: int
    seen_skills: np.ndarray  # (n_skills,) bool
    seen_items: np.ndarray

    @classmethod
    def fit(cls, seqs: Sequence[StudentSequence]) -> Vocab:
        ms = max(int(s.skills.max()) for s in seqs) + 1
        its = [s.items for s in seqs if s.items is not None]
        mi = max((int(i.max()) for i in its), default=-1) + 1
        seen_s = np.zeros(ms, dtype=bool)
        seen_i = np.zeros(max(mi, 1), dtype=bool)
        for s in seqs:
            seen_s[s.skills] = True
            if s.items is not None:
                seen_i[s.items[s.items >= 0]] = True
        return cls(ms, mi, seen_s, seen_i)

    def map_skills(self, raw: np.ndarray) -> np.ndarray:
        ok = (raw >= 0) & (raw < self.n_skills)
        out = np.zeros_like(raw)
        out[ok] = np.where(self.seen_skills[raw[ok]], raw[ok] + 1, 0)
        return out

    def map_items(self, raw: np.ndarray | None, T: int) -> np.ndarray:
        if raw is None or self.n_items == 0:
            return np.zeros(T, dtype=np.int64)
        ok = (raw >= 0) & (raw < self.n_items)
        out = np.zeros_like(raw)
        out[ok] = np.where(self.seen_items[raw[ok]], raw[ok] + 1, 0)
        return out

    def state_dict(self) -> dict:
        return {
            "n_skills": self.n_skills,
            "n_items": self.n_items,
            "seen_skills": self.seen_skills.tolist(),
            "seen_items": self.seen_items.tolist(),
        }

    @classmethod
    def from_state_dict(cls, d: dict) -> Vocab:
        return cls(
            d["n_skills"], d["n_items"], np.array(d["seen_skills"], dtype=bool), np.array(d["seen_items"], dtype=bool)
        )


def make_batch(
    seqs: Sequence[StudentSequence], vocab: Vocab, max_len: int | None = None, features: bool = True
) -> Batch:
    """Pad B sequences (optionally keeping only the first max_len responses).

    ``features=False`` leaves the count channels at zero (paths that only run the recurrence).
    """
    lens = [len(s) if max_len is None else min(len(s), max_len) for s in seqs]
    B, T = len(seqs), max(lens)
    skills = np.zeros((B, T), dtype=np.int64)
    items = np.zeros((B, T), dtype=np.int64)
    correct = np.zeros((B, T), dtype=np.float32)
    side = np.zeros((B, T, N_SIDE), dtype=np.float32)
    counts = np.zeros((B, T, 4), dtype=np.float32)
    pre = np.zeros((B, T, N_PRE), dtype=np.float32)
    mask = np.zeros((B, T), dtype=bool)
    for b, (s, n) in enumerate(zip(seqs, lens, strict=False)):
        sk = vocab.map_skills(s.skills[:n])
        skills[b, :n] = sk
        items[b, :n] = vocab.map_items(None if s.items is None else s.items[:n], n)
        correct[b, :n] = s.correct[:n]
        if s.confidence is not None or s.response_time is not None or s.hints is not None:
            side[b, :n] = side_features(s)[:n]
        if s.confidence is not None or s.timestamps is not None:
            pre[b, :n] = pre_features(s)[:n]
        if features:
            counts[b, :n] = count_features_before(sk, s.correct[:n])
        mask[b, :n] = True
    return Batch(
        torch.from_numpy(skills),
        torch.from_numpy(items),
        torch.from_numpy(correct),
        torch.from_numpy(side),
        torch.from_numpy(counts),
        torch.from_numpy(mask),
        torch.from_numpy(pre),
    )


def length_batches(
    seqs: Sequence[StudentSequence], tokens: int, rng: np.random.Generator | None = None
) -> list[list[int]]:
    """Index groups of similar length, each about `tokens` padded responses; shuffled when rng is given."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    groups: list[list[int]] = []
    cur: list[int] = []
    cur_max = 0
    for i in order:
        m = max(cur_max, len(seqs[i]))
        if cur and m * (len(cur) + 1) > tokens:
            groups.append(cur)
            cur, m = [], len(seqs[i])
        cur.append(i)
        cur_max = m
    if cur:
        groups.append(cur)
    if rng is not None:
        rng.shuffle(groups)
    return groups


def split_students(n: int, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): hold out a fraction of the *training* students for early stopping/calibration."""
    order = np.random.default_rng(seed).permutation(n)
    nv = max(1, int(round(n * frac))) if n > 1 else 0
    return np.sort(order[nv:]), np.sort(order[:nv])
