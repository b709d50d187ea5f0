"""Celery tasks: ids in, one service call, retry policy here. Queues are routed in settings."""

from __future__ import annotations

import socket

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError

from tutor.models import User

from . import services
from .models import ModelVersion, TrainingRun

_RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, ConnectionError),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(bind=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300, **_RETRY)
def metatrain_run(self, run_id: int) -> int | None:
    """Meta-train one requested run; a second delivery of the same run is a no-op."""
    version = services.training_run_execute(run_id=run_id, worker=services.worker_name())
    return version.pk if version else None


@shared_task(soft_time_limit=60, time_limit=90, **_RETRY)
def student_state_refresh_task(student_id: int, version_id: int) -> None:
    """A no-op for an account being erased or gone: a job queued before the erasure must not re-create state."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is not None and User.objects.filter(pk=student_id, is_active=True).exists():
        services.student_state_refresh(student_id=student_id, version=version)


@shared_task(soft_time_limit=1800, time_limit=1900, **_RETRY)
def students_readapt(version_id: int) -> int:
    version = ModelVersion.objects.filter(pk=version_id, status=ModelVersion.Status.ACTIVE).first()
    return services.students_readapt(version=version) if version is not None else 0


@shared_task(soft_time_limit=60, time_limit=90, **_RETRY)
def metatrain_scheduled() -> int:
    return services.training_run_request(trigger=TrainingRun.Trigger.SCHEDULE)[0].pk


@shared_task(soft_time_limit=60, time_limit=90, **_RETRY)
def metatrain_if_due() -> int | None:
    run = services.metatrain_if_due()
    return run.pk if run else None


@shared_task(soft_time_limit=60, time_limit=90, **_RETRY)
def training_runs_recover() -> list[int]:
    return services.training_runs_recover()


@worker_ready.connect
def _recover_runs_of_dead_workers(sender=None, **kwargs) -> None:
    """A fresh worker re-queues runs whose worker on this host died (e.g. SIGKILL mid-training)."""
    services.training_runs_recover(host=socket.gethostname())
