"""Reads behind the item and skill analytics of a class: how hard each item is, whether it separates
stronger from weaker students, the wrong answers students give most, hint use and time on task.

Every figure is aggregated in SQL over the class's answers (``Attempt.session.section``) by the students
the viewer may see, so the number of queries does not grow with the items, the skills or the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Count, F, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber

from .models import Attempt, Item, Section, Skill, SkillTally, User

GROUP_SHARE = 0.27  # Kelley's upper and lower 27 % of the class by overall share right
MIN_GROUP_ANSWERS = 3  # an item's discrimination needs this many answers from each group
TOP_WRONG = 3  # most common wrong answers listed per item
MIN_WRONG_COUNT = 2  # a wrong answer given once is a slip, not yet a pattern
SHOWN_ITEMS = 8  # items per skill listed before the rest are folded away
MIN_RANKED = 5  # answers before an item's share right ranks it among the hardest (1 of 1 wrong says little)


@dataclass(frozen=True)
class WrongAnswer:
    answer: str
    count: int


@dataclass
class ItemRow:
    item: Item
    n: int = 0
    n_right: int = 0
    n_students: int = 0
    n_with_hints: int = 0
    hints: int = 0
    median_seconds: float | None = None
    upper_n: int = 0
    upper_right: int = 0
    lower_n: int = 0
    lower_right: int = 0
    wrong: list[WrongAnswer] = field(default_factory=list)

    @property
    def difficulty(self) -> float | None:
        """The share of answers that were right (classical item "difficulty": higher is easier)."""
        return self.n_right / self.n if self.n else None

    @property
    def discrimination(self) -> float | None:
        """Share right in the upper group minus share right in the lower group (−1 to 1); None on too few."""
        if self.upper_n < MIN_GROUP_ANSWERS or self.lower_n < MIN_GROUP_ANSWERS:
            return None
        return self.upper_right / self.upper_n - self.lower_right / self.lower_n

    @property
    def discrimination_words(self) -> str:
        d = self.discrimination
        if d is None:
            return "too few answers"
        if d < 0:
            return "weaker students do better: check the item"
        if d < 0.2:
            return "barely separates"
        if d < 0.4:
            return "separates"
        return "separates well"

    @property
    def hint_share(self) -> float | None:
        return self.n_with_hints / self.n if self.n else None


@dataclass
class SkillRow:
    skill: Skill
    items: list[ItemRow] = field(default_factory=list)

    @property
    def n(self) -> int:
        return sum(r.n for r in self.items)

    @property
    def n_right(self) -> int:
        return sum(r.n_right for r in self.items)

    @property
    def accuracy(self) -> float | None:
        return self.n_right / self.n if self.n else None

    @property
    def n_items_answered(self) -> int:
        return sum(1 for r in self.items if r.n)

    @property
    def hint_share(self) -> float | None:
        return sum(r.n_with_hints for r in self.items) / self.n if self.n else None

    @cached_property
    def answered(self) -> list[ItemRow]:
        """Items with answers in this class: those with at least ``MIN_RANKED`` answers hardest (lowest share
        right) first, then the others, most answered first."""
        return sorted(
            (r for r in self.items if r.n),
            key=lambda r: (r.n < MIN_RANKED, r.n_right / r.n if r.n >= MIN_RANKED else -r.n, -r.n, r.item.slug),
        )

    @property
    def shown(self) -> list[ItemRow]:
        return self.answered[:SHOWN_ITEMS]

    @property
    def folded(self) -> list[ItemRow]:
        return self.answered[SHOWN_ITEMS:]

    @property
    def hardest(self) -> ItemRow | None:
        """The item with the lowest share right among those with at least ``MIN_RANKED`` answers."""
        answered = self.answered
        return answered[0] if answered and answered[0].n >= MIN_RANKED else None


@dataclass(frozen=True)
class ItemAnalytics:
    section: Section
    skills: list[SkillRow]
    n_students: int
    n_upper: int
    n_lower: int
    n_answers: int
    group_share: float = GROUP_SHARE
    min_group_answers: int = MIN_GROUP_ANSWERS
    min_wrong_count: int = MIN_WRONG_COUNT
    min_ranked: int = MIN_RANKED


def _groups(*, section: Section, ids: list[int]) -> tuple[list[int], list[int]]:
    """The upper and lower 27 % of the students who answered, by their share right in this class."""
    totals = list(
        SkillTally.objects.filter(section_id=section.pk, student_id__in=ids)
        .values("student_id")
        .annotate(n=Sum("n"), k=Sum("n_correct"))
        .values_list("student_id", "n", "k")
    )
    ranked = sorted((k / n, sid) for sid, n, k in totals if n)
    size = int(len(ranked) * GROUP_SHARE) or (1 if len(ranked) >= 2 else 0)
    return [sid for _, sid in ranked[-size:]] if size else [], [sid for _, sid in ranked[:size]]


def _medians(base: QuerySet[Attempt]) -> dict[int, float]:
    """The median response time per item in seconds, in SQL: each item's times are numbered in order and
    the one or two middle rows kept (no per-item query, no list of every answer in Python)."""
    numbered = (
        base.filter(response_time_ms__isnull=False)
        .annotate(
            pos=Window(RowNumber(), partition_by=[F("item_id")], order_by=[F("response_time_ms").asc(), F("id").asc()]),
            cnt=Window(Count("id"), partition_by=[F("item_id")]),
        )
        .filter(Q(pos=(F("cnt") + 1) / 2) | Q(pos=(F("cnt") + 2) / 2))
        .values_list("item_id", "response_time_ms")
    )
    middle: dict[int, list[int]] = {}
    for item_id, ms in numbered:
        if ms is not None:  # filtered out above; for mypy
            middle.setdefault(item_id, []).append(ms)
    return {item_id: sum(v) / len(v) / 1000 for item_id, v in middle.items()}


def item_analytics_for_section(*, section: Section, students: QuerySet[User]) -> ItemAnalytics:
    """Per item and per skill of the class's course, over the answers ``students`` gave in this class."""
    ids = list(students.values_list("pk", flat=True))
    base = Attempt.objects.filter(session__section_id=section.pk, student_id__in=ids)
    upper, lower = _groups(section=section, ids=ids)

    skills = {s.pk: SkillRow(s) for s in Skill.objects.filter(course_id=section.course_id).order_by("position", "slug")}
    rows: dict[int, ItemRow] = {}
    items = Item.objects.filter(course_id=section.course_id).only("id", "skill_id", "slug", "prompt")
    for item in items.order_by("skill__position", "slug"):
        rows[item.pk] = ItemRow(item)
        if item.skill_id in skills:
            skills[item.skill_id].items.append(rows[item.pk])

    stats = (
        base.order_by()
        .values("item_id")
        .annotate(
            n=Count("id"),
            n_right=Count("id", filter=Q(correct=True)),
            n_students=Count("student_id", distinct=True),
            n_with_hints=Count("id", filter=Q(hints_used__gt=0)),
            hints=Sum("hints_used"),
            upper_n=Count("id", filter=Q(student_id__in=upper)),
            upper_right=Count("id", filter=Q(student_id__in=upper, correct=True)),
            lower_n=Count("id", filter=Q(student_id__in=lower)),
            lower_right=Count("id", filter=Q(student_id__in=lower, correct=True)),
        )
    )
    n_answers = 0
    for s in stats:
        row = rows.get(s.pop("item_id"))
        if row is None:  # an item of another course answered in this class: not this course's analytics
            continue
        for key, value in s.items():
            setattr(row, key, value or 0)
        n_answers += row.n

    for item_id, seconds in _medians(base).items():
        if item_id in rows:
            rows[item_id].median_seconds = seconds

    wrong = (
        base.filter(correct=False)
        .order_by()
        .values("item_id", "answer")
        .annotate(count=Count("id"))
        .filter(count__gte=MIN_WRONG_COUNT)
        .annotate(rank=Window(RowNumber(), partition_by=[F("item_id")], order_by=[F("count").desc(), F("answer")]))
        .filter(rank__lte=TOP_WRONG)
        .values_list("item_id", "answer", "count")
    )
    for item_id, answer, count in sorted(wrong, key=lambda t: (t[0], -t[2], t[1])):
        if item_id in rows:
            rows[item_id].wrong.append(WrongAnswer(answer, count))

    return ItemAnalytics(
        section=section,
        skills=list(skills.values()),
        n_students=len(ids),
        n_upper=len(upper),
        n_lower=len(lower),
        n_answers=n_answers,
    )
