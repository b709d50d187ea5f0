"""Content writes: importing authored courses and storing generated items."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction

from . import generators
from .content_format import ContentSpec, ItemSpec
from .models import Course, Item, Skill


@dataclass(frozen=True)
class ImportReport:
    course: Course
    skills_created: int
    skills_updated: int
    items_created: int
    items_updated: int


def _item_defaults(spec: ItemSpec, skill: Skill, source: str) -> dict:
    return {
        "skill": skill,
        "item_type": spec.type,
        "prompt": spec.prompt,
        "answer": dict(spec.answer),
        "hints": list(spec.hints),
        "solution": spec.solution,
        "difficulty": spec.difficulty,
        "source": source,
    }


@transaction.atomic
def content_import(*, spec: ContentSpec) -> ImportReport:
    """Create or update a course from validated content; all or nothing."""
    course, _ = Course.objects.update_or_create(
        slug=spec.course.slug, defaults={"title": spec.course.title, "description": spec.course.description}
    )
    existing = {s.slug: s for s in course.skills.all()}
    created = updated = 0
    skills: dict[str, Skill] = dict(existing)
    for position, sk in enumerate(spec.skills):
        skill, was_created = Skill.objects.update_or_create(
            course=course, slug=sk.slug, defaults={"name": sk.name, "description": sk.description, "position": position}
        )
        skills[sk.slug] = skill
        created += was_created
        updated += not was_created
    for sk in spec.skills:
        skill = skills[sk.slug]
        skill.prerequisites.set([skills[p] for p in sk.prerequisites])
        skill.confusable_with.set([skills[c] for c in sk.confusable_with])
    items_created = items_updated = 0
    for it in spec.items:
        _, was_created = Item.objects.update_or_create(
            course=course, slug=it.slug, defaults=_item_defaults(it, skills[it.skill], Item.Source.AUTHORED)
        )
        items_created += was_created
        items_updated += not was_created
    return ImportReport(course, created, updated, items_created, items_updated)


@transaction.atomic
def items_import(*, skill: Skill, specs: list[ItemSpec]) -> tuple[int, int]:
    """Create or update authored items of ``skill`` (matched by slug within its course); all or nothing.
    Returns (created, updated)."""
    created = updated = 0
    for spec in specs:
        _, was_created = Item.objects.update_or_create(
            course_id=skill.course_id, slug=spec.slug, defaults=_item_defaults(spec, skill, Item.Source.AUTHORED)
        )
        created += was_created
        updated += not was_created
    return created, updated


def item_from_generator(*, skill: Skill, rng: random.Random) -> Item:
    """A generated item for ``skill``, stored once (same parameters, same row)."""
    raw = generators.generate_item(skill.slug, rng)
    spec = ItemSpec(
        slug=raw["slug"],
        skill=skill.slug,
        type=raw["type"],
        prompt=raw["prompt"],
        answer=raw["answer"],
        hints=tuple(raw.get("hints", ())),
        solution=raw.get("solution", ""),
        difficulty=float(raw.get("difficulty", 0.5)),
    )
    item, _ = Item.objects.get_or_create(
        course_id=skill.course_id, slug=spec.slug, defaults=_item_defaults(spec, skill, Item.Source.GENERATED)
    )
    return item
