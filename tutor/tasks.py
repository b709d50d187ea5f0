"""Celery tasks of the practice domain: ids in, one service call. Scheduled in settings (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from . import services
from .models import Course


@shared_task(
    soft_time_limit=1800,
    time_limit=1900,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, ConnectionError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def contrasts_learn_all() -> dict[str, int]:
    """Relearn every course's confusable pairs (``services.contrasts_learn``); {course slug: students read}.

    Idempotent: a second delivery learns the same weights again.
    """
    return {course.slug: services.contrasts_learn(course=course).students for course in Course.objects.order_by("slug")}
