"""Synthetic content the bench commands share (``dashboard_bench``, ``scheduler_bench``)."""

from __future__ import annotations

import random
from collections.abc import Callable

from django.db import transaction

from tutor.models import Course, Item, Skill


class _Rollback(Exception):
    pass


def run_rolled_back(run: Callable[[], None]) -> None:
    """Run ``run`` inside a transaction that is then rolled back, so a bench leaves the database as it was."""
    try:
        with transaction.atomic():
            run()
            raise _Rollback
    except _Rollback:
        pass


def bench_items_create(*, course: Course, skills: list[Skill], per_skill: int, rng: random.Random) -> list[Item]:
    """``per_skill`` numeric items for each skill, of random difficulty between 0.1 and 0.9."""
    return Item.objects.bulk_create(
        Item(
            course=course,
            skill=skill,
            slug=f"bench-item-{skill.position}-{j}",
            item_type="numeric",
            prompt="1 + 1",
            answer={"value": 2, "tolerance": 0},
            difficulty=rng.uniform(0.1, 0.9),
        )
        for skill in skills
        for j in range(per_skill)
    )
