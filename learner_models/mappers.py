"""Where the ORM meets the learner-model core: attempts in, core ``StudentSequence`` out.

The core never sees a model instance; it gets integer skill/item ids (database
primary keys) and the optional inputs the tutor records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Max

from learner_models.core.data import Response, StudentSequence
from tutor.models import Attempt

# the last field is the answer's time: the models use it (forgetting), and the split by time orders by it
ATTEMPT_FIELDS = (
    "id",
    "student_id",
    "skill_id",
    "item_id",
    "correct",
    "confidence",
    "response_time_ms",
    "hints_used",
    "created_at",
)


@dataclass(frozen=True)
class Dataset:
    student_ids: list[int]
    sequences: list[StudentSequence]
    last_attempt_ids: list[int]  # per student, aligned with student_ids
    attempts: int
    last_attempt_id: int
    # per student, aligned with sequences: each attempt's id and time (epoch seconds), for the split by time
    attempt_ids: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)


def response_from_row(row: tuple) -> Response:
    """One ``ATTEMPT_FIELDS`` row as the core's ``Response`` (the one conversion: training, serving, checks)."""
    _, _, skill, item, correct, confidence, rt_ms, hints, created_at = row
    return Response(
        skill=skill,
        correct=int(correct),
        item=item,
        confidence=confidence,
        response_time=None if rt_ms is None else rt_ms / 1000.0,
        hints=hints,
        timestamp=created_at.timestamp(),
    )


def _group(rows: Iterable[tuple]) -> Dataset:
    """Rows are ``ATTEMPT_FIELDS`` (ending with ``created_at``), in (student, time, id) order."""
    by_student: dict[int, list[Response]] = {}
    stamps: dict[int, list[tuple[int, float]]] = {}
    n = 0
    for row in rows:
        by_student.setdefault(row[1], []).append(response_from_row(row))
        stamps.setdefault(row[1], []).append((row[0], row[-1].timestamp()))
        n += 1
    ids = sorted(by_student)
    seqs = [StudentSequence.from_responses(by_student[s], student_id=str(s)) for s in ids]
    attempt_ids = [np.array([a for a, _ in stamps[s]], dtype=np.int64) for s in ids]
    times = [np.array([t for _, t in stamps[s]], dtype=np.float64) for s in ids]
    lasts = [int(a.max()) for a in attempt_ids]
    return Dataset(
        ids, seqs, lasts, attempts=n, last_attempt_id=max(lasts, default=0), attempt_ids=attempt_ids, times=times
    )


def dataset_from_attempts(*, cutoff_attempt_id: int, student_ids: Iterable[int] | None = None) -> Dataset:
    """Every student's attempts with id <= cutoff, in answer order."""
    qs = Attempt.objects.filter(id__lte=cutoff_attempt_id)
    if student_ids is not None:
        qs = qs.filter(student_id__in=list(student_ids))
    rows = qs.order_by("student_id", "created_at", "id").values_list(*ATTEMPT_FIELDS)
    return _group(rows.iterator(chunk_size=5000))


def sequence_for_student(*, student_id: int) -> tuple[StudentSequence, int, int]:
    """(sequence, number of attempts, last attempt id) of one student, in answer order."""
    rows = list(Attempt.objects.filter(student_id=student_id).order_by("created_at", "id").values_list(*ATTEMPT_FIELDS))
    seq = StudentSequence.from_responses([response_from_row(r) for r in rows], student_id=str(student_id))
    return seq, len(rows), max((r[0] for r in rows), default=0)


def sequence_after(
    *, student_id: int, last_attempt_id: int, n_attempts: int
) -> tuple[StudentSequence, int, int] | None:
    """The attempts a stored state has not seen yet: (those attempts, total attempts, last attempt id).

    The state covered the student's first ``n_attempts`` attempts in answer order, ending at
    ``last_attempt_id``. None when that no longer describes the history (an attempt was removed, or one
    was recorded with an earlier time than the ones covered), so the caller adapts from scratch.
    """
    qs = Attempt.objects.filter(student_id=student_id)
    head = qs.filter(id__lte=last_attempt_id).aggregate(n=Count("id"), last=Max("created_at"))
    if head["n"] != n_attempts:
        return None
    rows = list(qs.filter(id__gt=last_attempt_id).order_by("created_at", "id").values_list(*ATTEMPT_FIELDS))
    if rows and head["last"] is not None and rows[0][-1] < head["last"]:
        return None
    seq = StudentSequence.from_responses([response_from_row(r) for r in rows], student_id=str(student_id))
    return seq, n_attempts + len(rows), max([last_attempt_id] + [r[0] for r in rows])
