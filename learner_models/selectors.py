"""Reads of the learner-model app: predictions for the scheduler and the strategy engine, registry views."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from tutor.models import Attempt

from . import loader
from .core.beliefs import StudentBeliefs, student_beliefs
from .mappers import dataset_from_attempts
from .models import ModelVersion, StudentModelState, TrainingRun
from .services import student_state_refresh


def active_model_version() -> ModelVersion | None:
    return ModelVersion.active()


def model_versions() -> QuerySet[ModelVersion]:
    """The registry, newest first. Versions hold no student data: every API client may read them."""
    return ModelVersion.objects.order_by("-id")


def _served(student):
    """(model, state) of the student's own adapted model, or None when no version is active.

    One version is read once and used for both the state and the weights, so callers never mix versions.
    A state that is missing or older than the student's newest attempt is re-adapted here (lazily).
    """
    version = active_model_version()
    if version is None:
        return None
    newest = Attempt.objects.filter(student_id=OuterRef("student_id")).order_by("-id").values("id")[:1]
    stored = (
        StudentModelState.objects.filter(student=student, model_version=version)
        .annotate(newest_attempt_id=Subquery(newest))
        .first()
    )  # one query: the stored state and whether an attempt came after it
    state: StudentModelState | None = stored
    if stored is None or stored.last_attempt_id != (stored.newest_attempt_id or 0):
        state = student_state_refresh(student_id=student.pk, version=version)
    if state is None:  # only when no version is given and none is active; ``version`` is given here
        return None
    return loader.load_model(version), loader.state_unpacked(state.state)


def skill_predictions_for_student(
    *, student, skill_ids: list[int], now: datetime | None = None
) -> dict[int, float] | None:
    """P(correct) on each skill's next item from the student's own adapted model; None when no model is active.

    ``now`` (a datetime; default the current time) lets the model count forgetting since each skill was
    last practised.
    """
    served = _served(student)
    if served is None:
        return None
    model, state = served
    probs = model.predict(state, list(skill_ids), now=(now or timezone.now()).timestamp())
    return {sid: float(p) for sid, p in zip(skill_ids, probs, strict=True)}


def beliefs_for_student(*, student, skill_ids: list[int], now: datetime | None = None) -> StudentBeliefs | None:
    """What the active model believes about the student on these skills (mastery with its uncertainty, ability,
    learning speed, forgetting over a week; ``core.beliefs``); None when no model is active."""
    served = _served(student)
    if served is None:
        return None
    model, state = served
    return student_beliefs(model, state, list(skill_ids), now=(now or timezone.now()).timestamp())


def item_predictions_for_student(
    *, student, items: list[tuple[int, int]], now: datetime | None = None
) -> dict[int, float] | None:
    """P(correct) on each candidate item, given as (item id, skill id), at ``now``; None when no model is active.

    The model knows each item it was trained on (its own difficulty); an item it never saw gets its
    skill's prediction.
    """
    served = _served(student)
    if served is None:
        return None
    model, state = served
    item_ids = [i for i, _ in items]
    at = (now or timezone.now()).timestamp()
    probs = model.predict(state, [s for _, s in items], item_ids, now=at)
    return {iid: float(p) for iid, p in zip(item_ids, probs, strict=True)}


def attempt_predictions_for_student(*, student_id: int, attempt_ids: list[int]) -> dict[int, float] | None:
    """The active model's P(correct) for each of these attempts, predicted from the student's earlier answers
    only, as it would have served them; None when no model is active.

    What a strategy's outcome is measured against: the items the scheduler served are already priced in
    (their difficulty, the student's level, forgetting), so the difference is what changed in the student.
    The ratings given on these attempts are withheld from the model: a strategy that changes how students
    rate themselves must not move its own baseline.
    """
    version = active_model_version()
    if version is None or not attempt_ids:
        return None
    data = dataset_from_attempts(cutoff_attempt_id=max(attempt_ids), student_ids=[student_id])
    if not data.sequences:
        return None
    seq, ids = data.sequences[0], data.attempt_ids[0]
    want = np.isin(ids, np.asarray(attempt_ids, dtype=np.int64))
    if seq.confidence is not None:
        seq = replace(seq, confidence=np.where(want, np.nan, seq.confidence))
    probs = loader.load_model(version).predict_online([seq])[0]
    return {int(a): float(p) for a, p, w in zip(ids, probs, want, strict=True) if w}


def _last_training_age_s() -> float | None:
    last_ok = TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).order_by("-finished_at").first()
    if last_ok is None or last_ok.finished_at is None:
        return None
    return (timezone.now() - last_ok.finished_at).total_seconds()


def registry_overview(*, runs: int = 20) -> dict:
    return {
        "active": active_model_version(),
        "versions": list(ModelVersion.objects.select_related("training_run").order_by("-id")[:runs]),
        "runs": list(TrainingRun.objects.order_by("-created_at", "-id")[:runs]),
        "last_success_age_s": _last_training_age_s(),
    }


def model_health() -> dict:
    version = active_model_version()
    age = _last_training_age_s()
    return {
        "active_version": version.pk if version else None,
        "algorithm": version.algorithm if version else None,
        "last_training_age_s": None if age is None else round(age),
    }


def training_run_rows(*, run_id: int | None = None, latest: int = 10) -> list[dict]:
    """Training runs as plain rows for operators (`manage.py metatrain_status`): one run, or the latest ones.

    Raises TrainingRun.DoesNotExist for an unknown run id.
    """
    qs = TrainingRun.objects.select_related("model_version")
    runs = [qs.get(pk=run_id)] if run_id is not None else list(qs.order_by("-created_at", "-id")[:latest])
    rows = []
    for run in runs:
        version = getattr(run, "model_version", None)
        took = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else None
        rows.append(
            {
                "run": run.pk,
                "algorithm": run.algorithm,
                "hyperparameters": run.hyperparameters,
                "status": run.status,
                "trigger": run.trigger,
                "device": run.device,
                "worker": run.worker,
                "progress": run.progress or {},
                "created_at": run.created_at.isoformat(),
                "started_at": run.started_at.isoformat() if run.started_at else None,
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "seconds": took,
                "version": version.pk if version else None,
                "version_status": version.status if version else None,
                "held_out_auc": (version.metrics or {}).get("held_out", {}).get("all") if version else None,
                "error": run.error,
            }
        )
    return rows
