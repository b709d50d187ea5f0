"""Enqueueing the learner-model Celery tasks by name.

The tasks (``learner_models.tasks``) are entry points that call the services; the services must not
import them back, or the import graph has a cycle (docs/decisions/0004-layers.md). Celery routes and
retries by task name, so naming the task here loses nothing.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def task_enqueue(*, name: str, args: tuple = (), on_commit: bool = True) -> None:
    """Send ``learner_models.tasks.<name>(*args)``; by default only once the current transaction commits."""

    def send() -> None:
        current_app.send_task(f"learner_models.tasks.{name}", args=list(args))

    if on_commit:
        transaction.on_commit(send)
    else:
        send()
