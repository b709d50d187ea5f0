"""Celery tasks for LTI: ids in, one service call, the retry policy here."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from . import services
from .models import ResourceLink

_RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, ConnectionError, services.ScoreSendFailed, services.RosterSyncFailed),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(soft_time_limit=60, time_limit=90, **_RETRY)
def score_send_task(submission_id: int) -> str | None:
    """Send one practice score to the platform's gradebook; a sent score is not sent twice."""
    submission = services.score_send(submission_id=submission_id)
    return submission.status if submission else None


@shared_task(soft_time_limit=300, time_limit=330, **_RETRY)
def roster_sync_task(resource_link_id: int) -> dict[str, int] | None:
    """Bring one placement's LMS roster into its class (idempotent); a placement gone or unlinked is a no-op."""
    try:
        result = services.roster_sync(resource_link_id=resource_link_id)
    except (services.LaunchRefused, ResourceLink.DoesNotExist):
        return None
    return {"students": result.students, "teachers": result.teachers, "skipped": result.skipped}
