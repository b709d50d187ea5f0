"""The meta-training pipeline through a real broker and a real Celery worker process.

Locally the broker is the embedded filesystem transport; in CI (CI=true) it is Redis.
"""

from __future__ import annotations

import sys
import time
import uuid

import pytest
from django.conf import settings

from learner_models import services
from learner_models.models import ModelVersion, TrainingRun
from learner_models.selectors import active_model_version, skill_predictions_for_student
from tests.learner_models.conftest import QUICK_BEST
from tests.processes import ChildProcess, child_env
from tutor.celery import app as celery_app
from tutor.models import Skill, User

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class Worker(ChildProcess):
    def __init__(self, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "celery", "-A", "tutor", "worker", "-Q", "default,metatrain,adapt"]
        argv += ["-c", "1", "-P", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        argv += ["-l", "INFO", "-n", f"test-{uuid.uuid4().hex[:8]}@%h"]
        super().__init__(argv, env)
        self.wait_for("ready.", timeout=60)


@pytest.fixture
def start_worker(tmp_path):
    celery_app.control.purge()
    env = child_env(MEDIA_ROOT=str(settings.MEDIA_ROOT), METIS_TRAIN_DEVICE="cpu")
    workers: list[Worker] = []

    def start() -> Worker:
        workers.append(Worker(env))
        return workers[-1]

    yield start
    for w in workers:
        w.stop()
    celery_app.control.purge()


def _wait(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_training_end_to_end_and_a_duplicate_request_creates_nothing(demo_school, start_worker):
    worker = start_worker()
    run, created = services.training_run_request(hyperparameters=QUICK_BEST)
    assert created
    _wait(lambda: TrainingRun.objects.get(pk=run.pk).status == "succeeded", timeout=120, what="the run")
    # the run succeeds, then the worker runs the promotion gate on the stored version
    version = _wait(
        lambda: ModelVersion.objects.filter(training_run=run).exclude(status_reason="").first(),
        timeout=60,
        what="the promotion decision",
    )
    # judged by the promotion gate in the worker: the demo school's 4 held-out students are too few to promote
    assert version.status == "candidate" and version.status_reason.startswith("not promoted")
    assert version.metrics["gate"]["promote"] is False
    run.refresh_from_db()
    assert run.executions == 1 and run.progress["percent"] == 100 and run.device == "cpu"

    again, created = services.training_run_request(hyperparameters=QUICK_BEST)
    assert again.pk == run.pk and not created
    from learner_models.tasks import metatrain_run

    metatrain_run.delay(run.pk)  # a duplicate delivery of the same run
    worker.wait_for("learner_models.tasks.metatrain_run[", timeout=60, count=4)  # received + succeeded, twice
    assert ModelVersion.objects.count() == 1 and TrainingRun.objects.count() == 1


def test_sigkilled_worker_mid_training_ends_with_one_new_version_and_old_keeps_serving(demo_school, start_worker):
    old_run, _ = services.training_run_request(algorithm="elo", enqueue=False)
    old = services.model_version_activate(version=services.training_run_execute(run_id=old_run.pk))
    assert old.status == "active"  # by hand: the demo school is too small for the promotion gate
    student = User.objects.get(username="demo-student-05")
    skills = list(Skill.objects.values_list("pk", flat=True))

    worker = start_worker()
    slow = {**QUICK_BEST, "epochs": 25, "patience": 25, "hidden": 48, "d_model": 48}
    run, _ = services.training_run_request(hyperparameters=slow)
    _wait(lambda: (TrainingRun.objects.get(pk=run.pk).progress or {}).get("epoch"), timeout=120, what="epoch 1")
    assert skill_predictions_for_student(student=student, skill_ids=skills) is not None
    worker.kill()

    run.refresh_from_db()
    assert run.status == "running" and not ModelVersion.objects.filter(training_run=run).exists()
    assert active_model_version().pk == old.pk
    assert skill_predictions_for_student(student=student, skill_ids=skills) is not None  # old version serves

    fresh = start_worker()  # a fresh worker re-queues the orphaned run and trains it again
    try:
        _wait(lambda: TrainingRun.objects.get(pk=run.pk).status == "succeeded", timeout=240, what="the recovered run")
    except AssertionError as exc:
        run.refresh_from_db()
        raise AssertionError(f"{exc}; run {run.status} by {run.worker!r}\n{fresh.output[-4000:]}") from None
    run.refresh_from_db()
    assert run.executions == 2
    assert ModelVersion.objects.filter(training_run=run).count() == 1
    assert ModelVersion.objects.count() == 2
    assert ModelVersion.objects.filter(status="active").count() == 1


def test_failing_training_in_the_worker_leaves_the_active_version(demo_school, start_worker):
    good_run, _ = services.training_run_request(algorithm="elo", enqueue=False)
    good = services.model_version_activate(version=services.training_run_execute(run_id=good_run.pk))
    start_worker()
    bad, _ = services.training_run_request(hyperparameters={"hidden": -5})
    _wait(lambda: TrainingRun.objects.get(pk=bad.pk).status == "failed", timeout=120, what="the failure")
    bad.refresh_from_db()
    assert bad.error
    assert active_model_version().pk == good.pk and ModelVersion.objects.count() == 1
