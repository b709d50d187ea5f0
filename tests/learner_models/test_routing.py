"""Queues: long training on `metatrain`, per-student refreshes on `adapt`, the rest on `default`."""

from __future__ import annotations

import pytest

from tutor.celery import app


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("learner_models.tasks.metatrain_run", "metatrain"),
        ("learner_models.tasks.student_state_refresh_task", "adapt"),
        ("learner_models.tasks.students_readapt", "adapt"),
        ("learner_models.tasks.metatrain_if_due", "default"),
        ("learner_models.tasks.metatrain_scheduled", "default"),
        ("learner_models.tasks.training_runs_recover", "default"),
    ],
)
def test_each_task_lands_in_exactly_one_queue(task, queue):
    route = app.amqp.router.route({}, task, (), {})["queue"]
    assert route.name == queue
    bindings = {(q.exchange.name, q.routing_key) for q in app.amqp.queues.values() if q.name != queue}
    assert (route.exchange.name, route.routing_key) not in bindings, "another queue would get a copy"
