"""Writes of the learner-model app: training runs, promotion, per-student states.

Guarantees (see docs/operations.md):
- a request with the same model code, algorithm, hyperparameters and data cut-off is one run;
- a run is executed by one worker at a time; a re-delivered or recovered run
  produces at most one model version (one-to-one with the run);
- a candidate is promoted only if it passes the promotion gate (core/gate.py: clearly better than the
  active version, calibrated no worse, not below Elo/PFA) on the held-out students and on the latest
  attempts, atomically; until then the active version (or the scheduler's fallback) keeps serving;
- a failed run (bad data, NaN loss, out of memory) never touches the active version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files import File
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from learner_models.core.base import resolve_device, state_to_bytes
from learner_models.core.data import StudentSequence
from learner_models.core.evaluate import bucket_report
from learner_models.core.gate import GateConfig, HeldOutSet, gate_decide, recent_split
from learner_models.core.registry import MODEL_NAMES, get_model
from learner_models.core.version import code_version
from tutor.models import Attempt

from . import loader, queue
from .mappers import Dataset, dataset_from_attempts, sequence_after, sequence_for_student
from .models import ModelVersion, StudentModelState, TrainingRun

log = logging.getLogger(__name__)

MIN_TRAIN_STUDENTS = 4
HELD_OUT_PERCENT = 20  # of students, by a fixed hash: never trained on
RECENT_FRACTION = 0.1  # of the training students' attempts, the latest by time: held out too
GATE_BASELINES = ("elo", "pfa")  # the floor: a model must not rank students' answers worse than these
# How much better (AUC, lower end of the paired 95 % interval) a challenger must be than the active version.
PROMOTION_MARGIN = float(os.environ.get("METIS_PROMOTION_MARGIN", "0.0"))
HEARTBEAT_STALE = timedelta(seconds=int(os.environ.get("METIS_RUN_STALE_SECONDS", "300")))
INLINE_ADAPT_BUDGET_MS = 20.0


class TrainingError(Exception):
    """Training cannot produce a usable model (bad data, NaN loss, ...): the run fails, nothing is promoted."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- requesting ---------------------------------------------------------------


def _request_key(algorithm: str, hyperparameters: dict, cutoff: int) -> str:
    """Same model code, algorithm, hyperparameters and data cut-off: same run. A deploy with new model code
    and no new attempts is a new request (``code_version`` hashes ``learner_models/core``)."""
    raw = json.dumps([algorithm, hyperparameters, cutoff, code_version()], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def training_run_request(
    *,
    algorithm: str = "best",
    hyperparameters: dict[str, Any] | None = None,
    trigger: str = TrainingRun.Trigger.MANUAL,
    requested_by=None,
    enqueue: bool = True,
) -> tuple[TrainingRun, bool]:
    """Ask for a training on all attempts so far. Returns (run, created); an identical request reuses its run."""
    if algorithm not in MODEL_NAMES:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {', '.join(MODEL_NAMES)}")
    hyperparameters = dict(hyperparameters or {})
    try:  # a bad setting is refused here, naming it, instead of failing the run in the worker
        get_model(algorithm, **hyperparameters)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"hyperparameters: {exc}") from None
    cutoff = Attempt.objects.aggregate(m=Max("id"))["m"] or 0
    key = _request_key(algorithm, hyperparameters, cutoff)
    with transaction.atomic():
        run, created = TrainingRun.objects.get_or_create(
            request_key=key,
            defaults={
                "algorithm": algorithm,
                "hyperparameters": hyperparameters,
                "trigger": trigger,
                "cutoff_attempt_id": cutoff,
                "requested_by": requested_by,
            },
        )
        requeue = not created and run.status == TrainingRun.Status.FAILED
        if requeue:  # asking again after a failure is a retry of the same run
            TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.QUEUED, error="", progress={})
            run.refresh_from_db()
        if enqueue and (created or requeue):
            queue.task_enqueue(name="metatrain_run", args=(run.pk,))
    return run, created


# --- executing ----------------------------------------------------------------


def training_run_claim(*, run_id: int, worker: str) -> TrainingRun | None:
    """Take the run for this worker, or None if it is finished or another live worker holds it."""
    now = timezone.now()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED):
            return None
        if (
            run.status == TrainingRun.Status.RUNNING
            and run.worker != worker
            and run.heartbeat_at is not None
            and now - run.heartbeat_at < HEARTBEAT_STALE
        ):
            return None
        run.status = TrainingRun.Status.RUNNING
        run.worker = worker
        run.executions += 1
        run.heartbeat_at = now
        run.started_at = run.started_at or now
        run.progress = {"percent": 0}
        run.save(update_fields=["status", "worker", "executions", "heartbeat_at", "started_at", "progress"])
    return run


def _is_held_out(student_id: int) -> bool:
    """A fixed, hash-based split: the same students are held out in every run, so versions compare fairly."""
    return zlib.crc32(f"metis-heldout-{student_id}".encode()) % 100 < HELD_OUT_PERCENT


@dataclass(frozen=True)
class _Split:
    """Held out by student (never trained on) and by time (the training students' latest attempts)."""

    train: list[StudentSequence]  # training students without their recent attempts
    held_out: list[StudentSequence]  # held-out students, every attempt
    held_out_ids: list[int]
    recent: list[tuple[StudentSequence, int]]  # a training student's whole sequence, responses trained on
    recent_ids: list[int]


def _split(data: Dataset) -> _Split:
    train_idx = [i for i, sid in enumerate(data.student_ids) if not _is_held_out(sid)]
    held_idx = [i for i, sid in enumerate(data.student_ids) if _is_held_out(sid)]
    keep = recent_split([data.times[i] for i in train_idx], [data.attempt_ids[i] for i in train_idx], RECENT_FRACTION)
    train = [data.sequences[i].prefix(k) for i, k in zip(train_idx, keep, strict=True) if k > 0]
    recent = [(data.sequences[i], k) for i, k in zip(train_idx, keep, strict=True) if k < len(data.sequences[i])]
    recent_ids = [data.student_ids[i] for i, k in zip(train_idx, keep, strict=True) if k < len(data.sequences[i])]
    return _Split(
        train=train,
        held_out=[data.sequences[i] for i in held_idx],
        held_out_ids=[data.student_ids[i] for i in held_idx],
        recent=recent,
        recent_ids=recent_ids,
    )


def _online(model, seqs: list[StudentSequence]) -> list[np.ndarray]:
    preds = model.predict_online(seqs) if seqs else []
    for p in preds:
        if not np.all(np.isfinite(p)):
            raise TrainingError("the model predicts NaN/inf on held-out students")
    return preds


def _evaluate(model, held_out: list) -> dict[str, float | None]:
    if not held_out:
        return {}
    return bucket_report([s.correct for s in held_out], _online(model, held_out))


def _progress_recorder(run: TrainingRun) -> Callable[[dict], None]:
    last = [0.0]

    def record(event: dict) -> None:
        loss = event.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingError(f"loss became {loss} at epoch {event.get('epoch')}")
        now = time.monotonic()
        if now - last[0] < 1.0 and event.get("percent", 0) < 100:
            return  # at most one write a second
        last[0] = now
        progress = {k: v for k, v in event.items() if isinstance(v, int | float | str)}
        TrainingRun.objects.filter(pk=run.pk).update(progress=progress, heartbeat_at=timezone.now())

    return record


def training_run_execute(
    *, run_id: int, worker: str | None = None, device: str | None = None, progress: Callable[[dict], None] | None = None
) -> ModelVersion | None:
    """Train, evaluate, store and (if it wins) promote. Safe to call twice for one run."""
    worker = worker or worker_name()
    run = training_run_claim(run_id=run_id, worker=worker)
    if run is None:
        existing = ModelVersion.objects.filter(training_run_id=run_id).first()
        if existing is not None:  # the run finished, but its worker may have died before the promotion
            model_version_promote_if_better(version=existing)
        return existing
    existing = ModelVersion.objects.filter(training_run=run).first()
    if existing is not None:  # killed after saving the version but before marking the run
        _finish(run, TrainingRun.Status.SUCCEEDED)
        model_version_promote_if_better(version=existing)
        return existing
    device = device or os.environ.get("METIS_TRAIN_DEVICE", "auto")
    try:
        data = dataset_from_attempts(cutoff_attempt_id=run.cutoff_attempt_id)
        split = _split(data)
        train, held_out = split.train, split.held_out
        snapshot = {
            "students": len(data.student_ids),
            "attempts": data.attempts,
            "train_students": len(train),
            "held_out_students": len(held_out),
            "recent_attempts_held_out": sum(len(seq) - k for seq, k in split.recent),
            "cutoff_attempt_id": run.cutoff_attempt_id,
            "cutoff_time": timezone.now().isoformat(),
            "code_version": code_version(),
        }
        try:
            resolved = str(resolve_device(device))
        except ValueError as exc:  # a misconfigured METIS_TRAIN_DEVICE: permanent, retrying cannot help
            raise TrainingError(f"METIS_TRAIN_DEVICE / --device: {exc}") from None
        TrainingRun.objects.filter(pk=run.pk).update(data_snapshot=snapshot, device=resolved)
        if len(train) < MIN_TRAIN_STUDENTS:
            raise TrainingError(
                f"needs at least {MIN_TRAIN_STUDENTS} training students with attempts, has {len(train)}"
            )
        model = get_model(run.algorithm, **run.hyperparameters)
        callbacks = [_progress_recorder(run)] + ([progress] if progress else [])
        model.fit(train, device=resolved, callbacks=callbacks, seed=run.pk)
        model.to("cpu")  # evaluation and the checkpoint are CPU-side, whatever device trained it
        metrics = {"held_out": _evaluate(model, held_out), "held_out_students": len(held_out)}
        version = _store_version(run, model, metrics)
    except (OperationalError, InterfaceError, ConnectionError):
        # Transient (database or broker connection): hand the run back; the task's retry claims it again.
        with contextlib.suppress(Exception):
            TrainingRun.objects.filter(pk=run.pk, worker=worker).update(status=TrainingRun.Status.QUEUED, worker="")
        raise
    except Exception as exc:
        reason = _failure_reason(exc)
        log.exception("training run %s failed: %s", run.pk, reason)
        _finish(run, TrainingRun.Status.FAILED, error=reason)
        if isinstance(exc, TrainingError | MemoryError) or "out of memory" in str(exc).lower():
            return None
        raise
    _finish(run, TrainingRun.Status.SUCCEEDED)
    model_version_promote_if_better(version=version)
    return version


def _failure_reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if "out of memory" in text.lower() or isinstance(exc, MemoryError):
        return "out of memory: " + text
    return text[:2000]


def _finish(run: TrainingRun, status: str, *, error: str = "") -> None:
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "error": error}
    if status == TrainingRun.Status.SUCCEEDED:
        fields["progress"] = {**(TrainingRun.objects.get(pk=run.pk).progress or {}), "percent": 100}
    TrainingRun.objects.filter(pk=run.pk).update(**fields)


def _store_version(run: TrainingRun, model, metrics: dict) -> ModelVersion:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"run-{run.pk}.pt"
        model.save(path)
        checksum = hashlib.sha256(path.read_bytes()).hexdigest()
        with transaction.atomic():
            locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
            version = ModelVersion.objects.filter(training_run=locked).first()
            if version is not None:
                return version
            version = ModelVersion(
                training_run=locked,
                algorithm=run.algorithm,
                config={"name": model.name, **_jsonable(model.config)},
                checksum=checksum,
                metrics=metrics,
            )
            with path.open("rb") as fh:
                version.checkpoint.save(f"run-{run.pk}-{checksum[:12]}.pt", File(fh), save=False)
            version.save()
    return version


def _jsonable(config: Any) -> dict:
    from dataclasses import asdict, is_dataclass

    raw = asdict(config) if is_dataclass(config) and not isinstance(config, type) else dict(config)
    return json.loads(json.dumps(raw, default=str))


def training_runs_recover(*, host: str | None = None) -> list[int]:
    """Re-queue runs whose worker died: on ``host``, runs whose worker pid is gone; anywhere, stale heartbeats."""
    recovered = []
    now = timezone.now()
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING):
        run_host, _, pid = run.worker.rpartition(":")
        dead_here = host is not None and run_host == host and pid.isdigit() and not _pid_alive(int(pid))
        stale = run.heartbeat_at is None or now - run.heartbeat_at >= HEARTBEAT_STALE
        if dead_here or stale:
            updated = TrainingRun.objects.filter(
                pk=run.pk, status=TrainingRun.Status.RUNNING, worker=run.worker
            ).update(status=TrainingRun.Status.QUEUED, worker="", heartbeat_at=None)
            if updated:
                recovered.append(run.pk)
                queue.task_enqueue(name="metatrain_run", args=(run.pk,))
    return recovered


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` still runs. A zombie (killed, not yet reaped: common in containers whose PID 1
    reaps late) is dead: it will never heartbeat again."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(pid, 0) is all we know
    return state != "Z"


# --- promotion ----------------------------------------------------------------


def _held_out_set(name: str, label: str, seqs, ids: list[int], starts: list[int], preds: dict) -> HeldOutSet:
    """One held-out set for the gate: responses from ``starts[i]`` on of each sequence, every contender's
    online prediction for them (each model sees the student's earlier responses, never their answer)."""

    def cut(ps: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([p[k:] for p, k in zip(ps, starts, strict=True)]) if ps else np.zeros(0)

    return HeldOutSet(
        name=name,
        label=label,
        correct=cut([s.correct for s in seqs]),
        student=np.concatenate([np.full(len(s) - k, sid) for s, k, sid in zip(seqs, starts, ids, strict=True)])
        if seqs
        else np.zeros(0, np.int64),
        challenger=cut(preds["challenger"]),
        incumbent=cut(preds["incumbent"]) if "incumbent" in preds else None,
        baselines={b: cut(preds[b]) for b in GATE_BASELINES},
    )


def _gate_sets(split: _Split, models: dict[str, Any]) -> list[HeldOutSet]:
    recent_seqs = [seq for seq, _ in split.recent]
    on_students = {name: _online(m, split.held_out) for name, m in models.items()}
    on_recent = {name: _online(m, recent_seqs) for name, m in models.items()}
    return [
        _held_out_set(
            "students", "held-out students", split.held_out, split.held_out_ids, [0] * len(split.held_out), on_students
        ),
        _held_out_set(
            "recent",
            "latest attempts of the training students",
            recent_seqs,
            split.recent_ids,
            [k for _, k in split.recent],
            on_recent,
        ),
    ]


def _jsonable_floats(value: Any) -> Any:
    """NaN/inf become None (PostgreSQL's JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _jsonable_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable_floats(v) for v in value]
    return value


def model_version_promote_if_better(*, version: ModelVersion) -> bool:
    """Run the promotion gate (learner_models/core/gate.py) on the version's held-out data; promote atomically
    if it passes. Until then the active version, or the scheduler's fallback estimator, keeps serving.

    The gate sees the held-out students and the training students' latest attempts, scored by the challenger,
    the active version and Elo and PFA fitted here on the same training data. Decides once per version: a
    version already decided (active, retired, or with a reason) is left alone. The decision and its reasons go
    to ``metrics["gate"]``.
    """
    version.refresh_from_db()
    if version.status != ModelVersion.Status.CANDIDATE or version.status_reason:
        return version.status == ModelVersion.Status.ACTIVE
    run = version.training_run
    split = _split(dataset_from_attempts(cutoff_attempt_id=run.cutoff_attempt_id))
    models: dict[str, Any] = {"challenger": loader.load_model(version)}
    for name in GATE_BASELINES:  # fitted on exactly what the challenger trained on
        baseline = get_model(name)
        baseline.fit(split.train, device="cpu", seed=run.pk)
        models[name] = baseline
    champion = ModelVersion.active()
    note = ""
    metrics = dict(version.metrics)
    if champion is not None and champion.pk != version.pk:
        try:
            incumbent = loader.load_model(champion)
            models["incumbent"] = incumbent
            metrics["champion"] = {"version": champion.pk, "held_out": _evaluate(incumbent, split.held_out)}
        except Exception as exc:  # e.g. a checkpoint the current code cannot read: it cannot keep serving either
            log.exception("active version %s could not be evaluated", champion.pk)
            error = f"{type(exc).__name__}: {exc}"[:200]
            models.pop("incumbent", None)
            metrics["champion"] = {"version": champion.pk, "held_out": {"error": error}}
            note = f"active v{champion.pk} could not be evaluated ({error}), judged as a first version; "
    config = GateConfig(margin=PROMOTION_MARGIN)
    name = f"active v{champion.pk}" if champion is not None else "the active version"
    decision = gate_decide(_gate_sets(split, models), config, incumbent_name=name)
    metrics["gate"] = _jsonable_floats({**decision.to_dict(), "note": note})
    ModelVersion.objects.filter(pk=version.pk).update(metrics=metrics)
    reason = (note + decision.summary())[:300]
    if not decision.promote:
        ModelVersion.objects.filter(pk=version.pk).update(status_reason=reason)
        version.refresh_from_db()
        return False
    model_version_activate(version=version, reason=reason)
    return True


def model_version_activate(*, version: ModelVersion, reason: str = "activated by hand") -> ModelVersion:
    """Make ``version`` the one that serves (also the rollback path). Atomic; readapts students lazily."""
    if version.status == ModelVersion.Status.FAILED:
        raise ValueError(f"version {version.pk} failed and cannot be activated")
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).exclude(
            pk=version.pk
        ).update(status=ModelVersion.Status.RETIRED)
        ModelVersion.objects.filter(pk=version.pk).update(
            status=ModelVersion.Status.ACTIVE, activated_at=timezone.now(), status_reason=reason[:300]
        )
        queue.task_enqueue(name="students_readapt", args=(version.pk,))
    version.refresh_from_db()
    return version


# --- per-student states -------------------------------------------------------


def _state_continued(model, stored: StudentModelState | None, student_id: int):
    """(state, attempts, last attempt id, model ms) by extending the stored state with the attempts it has
    not seen; None when it cannot be continued (no state, a family that re-reads the whole history, or a
    history that changed under it)."""
    if stored is None:
        return None
    after = sequence_after(student_id=student_id, last_attempt_id=stored.last_attempt_id, n_attempts=stored.n_attempts)
    if after is None:
        return None
    seq, n, last_id = after
    started = time.perf_counter()
    state = model.extend(loader.state_unpacked(stored.state), seq)
    return None if state is None else (state, n, last_id, (time.perf_counter() - started) * 1000)


def student_state_refresh(*, student_id: int, version: ModelVersion | None = None) -> StudentModelState | None:
    """The student's adapted state under ``version`` (default: the active one), covering all their attempts.

    A stored state is continued with only the attempts it has not seen (``LearnerModel.extend``, the same
    state as adapting from scratch), so the per-answer cost does not grow with the student's history;
    otherwise the model adapts from every attempt. A refresh never overwrites a state that a concurrent
    refresh stored meanwhile covering more attempts.
    """
    version = version or ModelVersion.active()
    if version is None:
        return None
    model = loader.load_model(version)
    stored = StudentModelState.objects.filter(student_id=student_id, model_version=version).first()
    got = _state_continued(model, stored, student_id)
    if got is None:
        seq, n, last_id = sequence_for_student(student_id=student_id)
        started = time.perf_counter()
        state = model.adapt([seq])[0]
        got = (state, n, last_id, (time.perf_counter() - started) * 1000)
    state, n, last_id, adapt_ms = got
    loader.record_adapt_ms(version.pk, adapt_ms)
    with transaction.atomic():
        current = (
            StudentModelState.objects.select_for_update().filter(student_id=student_id, model_version=version).first()
        )
        written_meanwhile = current is not None and (
            stored is None
            or (current.last_attempt_id, current.n_attempts) != (stored.last_attempt_id, stored.n_attempts)
        )
        if current is not None and written_meanwhile and current.last_attempt_id > last_id:
            return current  # a concurrent refresh already covered more attempts
        values = {
            "state": loader.state_packed(state),
            "n_attempts": n,
            "last_attempt_id": last_id,
            "adapt_ms": adapt_ms,
        }
        if current is None:  # update_or_create settles a concurrent first insert
            return StudentModelState.objects.update_or_create(
                student_id=student_id, model_version=version, defaults=values
            )[0]
        for field, value in values.items():  # the row is already locked and loaded: no second read
            setattr(current, field, value)
        current.save(update_fields=[*values, "updated_at"])
    return current


def students_readapt(*, version: ModelVersion, student_ids: list[int] | None = None, batch_size: int = 256) -> int:
    """Batch re-adaptation (after a promotion): one batched ``adapt`` call per chunk of students."""
    model = loader.load_model(version)
    if student_ids is None:
        student_ids = sorted(set(Attempt.objects.values_list("student_id", flat=True)))
    done = 0
    for start in range(0, len(student_ids), batch_size):
        chunk = student_ids[start : start + batch_size]
        cutoff = Attempt.objects.aggregate(m=Max("id"))["m"] or 0
        data = dataset_from_attempts(cutoff_attempt_id=cutoff, student_ids=chunk)
        states = model.adapt(data.sequences)
        with transaction.atomic():
            for sid, seq, last_id, state in zip(
                data.student_ids, data.sequences, data.last_attempt_ids, states, strict=True
            ):
                StudentModelState.objects.update_or_create(
                    student_id=sid,
                    model_version=version,
                    defaults={"state": state_to_bytes(state), "n_attempts": len(seq), "last_attempt_id": last_id},
                )
        done += len(data.student_ids)
    return done


def student_state_after_attempt(*, student_id: int) -> str:
    """Refresh inline when adapting is cheap (≤ 20 ms on this worker), else on the ``adapt`` queue."""
    version = ModelVersion.active()
    if version is None:
        return "no-model"
    if loader.typical_adapt_ms(version.pk) <= INLINE_ADAPT_BUDGET_MS:
        student_state_refresh(student_id=student_id, version=version)
        return "inline"
    queue.task_enqueue(name="student_state_refresh_task", args=(student_id, version.pk), on_commit=False)
    return "queued"


def metatrain_if_due(*, threshold: int | None = None) -> TrainingRun | None:
    """Request a training when enough attempts arrived since the newest version's data cut-off."""
    threshold = threshold or settings.METIS_RETRAIN_AFTER_ATTEMPTS
    newest = ModelVersion.objects.select_related("training_run").order_by("-id").first()
    since = newest.training_run.cutoff_attempt_id if newest else 0
    if Attempt.objects.filter(id__gt=since).count() < threshold:
        return None
    return training_run_request(trigger=TrainingRun.Trigger.THRESHOLD)[0]
