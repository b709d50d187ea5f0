"""Choosing the next item: the one function the adaptive scheduler will replace.

This first policy interleaves skills round-robin, giving priority to skills the
student has practised least recently and answered worst, and never serves the
skill or item just seen when there is an alternative. It reads only the
database; the learner-model-driven policy keeps the same signature.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db.models import Count, Max, Q

from . import generators
from .content import item_from_generator
from .models import Attempt, Item, PracticeSession, SessionItem, Skill


@dataclass(frozen=True)
class ItemChoice:
    item: Item
    reason: str


def _skill_priority(*, student_id: int, skills: list[Skill]) -> list[tuple[float, Skill, str]]:
    stats = {
        row["skill_id"]: row
        for row in Attempt.objects.filter(student_id=student_id, skill__in=skills)
        .values("skill_id")
        .annotate(n=Count("id"), n_correct=Count("id", filter=Q(correct=True)), last=Max("created_at"))
    }
    ranked: list[tuple[float, Skill, str]] = []
    for skill in skills:
        row = stats.get(skill.pk)
        if row is None:
            ranked.append((-1.0, skill, f"new skill: {skill.name}"))
            continue
        # Laplace-smoothed accuracy; lower accuracy = higher priority. Recency breaks ties.
        accuracy = (row["n_correct"] + 1) / (row["n"] + 2)
        ranked.append((accuracy, skill, f"practise {skill.name}: {row['n_correct']} of {row['n']} right so far"))

    def last_seen(skill: Skill) -> float:
        return stats[skill.pk]["last"].timestamp() if skill.pk in stats else 0.0

    ranked.sort(key=lambda r: (r[0], last_seen(r[1]), r[1].position))
    # A skill waits until each of its prerequisites has been practised at least once.
    ready = [r for r in ranked if all(p.pk in stats for p in r[1].prerequisites.all())]
    return ready or ranked


def item_next_for_student(*, session: PracticeSession, rng: random.Random | None = None) -> ItemChoice:
    """Pick the next item for ``session``'s student. Never returns the item just shown."""
    rng = rng or random.Random()
    course = session.section.course
    skills = list(Skill.objects.filter(course=course).prefetch_related("prerequisites"))
    if not skills:
        raise LookupError(f"course {course.slug!r} has no skills")
    recent = list(
        SessionItem.objects.filter(session__student_id=session.student_id)
        .order_by("-served_at", "-id")
        .values_list("item_id", "item__skill_id")[:3]
    )
    last_item_id = recent[0][0] if recent else None
    last_skill_id = recent[0][1] if recent else None

    ranked = _skill_priority(student_id=session.student_id, skills=skills)
    candidates = [r for r in ranked if r[1].pk != last_skill_id] or ranked
    _, skill, reason = candidates[0]

    item = _fresh_item(skill=skill, student_id=session.student_id, avoid_item_id=last_item_id, rng=rng)
    return ItemChoice(item=item, reason=reason)


def _fresh_item(*, skill: Skill, student_id: int, avoid_item_id: int | None, rng: random.Random) -> Item:
    seen = set(Attempt.objects.filter(student_id=student_id, skill=skill).values_list("item_id", flat=True))
    unseen_authored = (
        Item.objects.filter(skill=skill, source=Item.Source.AUTHORED).exclude(pk__in=seen).order_by("difficulty", "pk")
    )
    item = unseen_authored.first()
    if item is not None:
        return item
    if skill.slug in generators.GENERATORS:
        for _ in range(20):
            item = item_from_generator(skill=skill, rng=rng)
            if item.pk not in seen and item.pk != avoid_item_id:
                return item
        return item
    # Authored-only skill, all seen: the least recently practised item that is not the last one.
    reuse = (
        Item.objects.filter(skill=skill)
        .exclude(pk=avoid_item_id)
        .annotate(last=Max("attempts__created_at", filter=Q(attempts__student_id=student_id)))
        .order_by("last", "pk")
        .first()
    )
    if reuse is None:
        reuse = Item.objects.filter(skill=skill).first()
    if reuse is None:
        raise LookupError(f"skill {skill.slug!r} has no items and no generator")
    return reuse
