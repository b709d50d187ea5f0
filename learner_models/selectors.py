"""Reads of the learner-model app: predictions for the scheduler and the strategy engine, registry views."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from tutor.models import Attempt

from . import loader
from .models import ModelVersion, StudentModelState, TrainingRun
from .services import student_state_refresh


def active_model_version() -> ModelVersion | None:
    return ModelVersion.active()


def model_versions() -> QuerySet[ModelVersion]:
    """The registry, newest first. Versions hold no student data: every API client may read them."""
    return ModelVersion.objects.order_by("-id")


def skill_predictions_for_student(*, student, skill_ids: list[int]) -> dict[int, float] | None:
    """P(correct) on each skill's next item from the student's own adapted model; None when no model is active.

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
    model = loader.load_model(version)
    probs = model.predict(loader.state_unpacked(state.state), list(skill_ids))
    return {sid: float(p) for sid, p in zip(skill_ids, probs, strict=True)}


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
