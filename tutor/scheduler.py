"""Choosing the next item: the class's rule of ``tutor.policies`` fed from the database.

The decision itself lives in the pure ``tutor.policies`` (the same code the simulator
benchmark judges): ``adaptive`` unless the class chose another rule (``Section.scheduling_rule``,
fixed per session); this module only gathers what it needs in a bounded number of queries,
whatever the length of the student's history:

* the course structure (skills, prerequisites, confusable pairs) and the class settings;
* per-skill P(correct) from the student's meta-learned learner model when one is
  active, else a transparent estimate from the student's own answers
  (``policies.SkillEstimator``: Elo updates with forgetting), replayed over the most
  recent ``RECENT_WINDOW`` answers on top of per-skill totals of the older ones;
* the skills of reviews the student agreed to (a strategy suggestion) that are due
  and not yet practised, which the policy serves first (``metacog.selectors``);
* then an item of the chosen skill near the chosen difficulty, never the item just seen.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import Abs
from django.utils import timezone

from learner_models.selectors import item_predictions_for_student, skill_predictions_for_student
from metacog.selectors import review_skills_due_at

from . import generators, policies
from .content import item_from_generator
from .models import Attempt, Item, LearnedContrasts, PracticeSession, SchedulingRule, Section, Skill

logger = logging.getLogger(__name__)

RECENT_WINDOW = 150  # answers replayed one by one; older ones enter as per-skill totals
GENERATED_CANDIDATES = 12  # generated items considered when aiming at a difficulty
MODEL_CANDIDATES = 50  # authored items the learner model scores for one choice (learner_bench measures it)
DAY_S = 86400.0
RULES = frozenset(SchedulingRule.values)
# Rules whose order within a round depends on which pairs of skills were set side by side before.
ROUND_RULES = frozenset({SchedulingRule.SPREAD, SchedulingRule.SHUFFLED})


@dataclass(frozen=True)
class ItemChoice:
    item: Item
    reason: str


def _days(moment: datetime) -> float:
    return moment.timestamp() / DAY_S


def skill_estimator_for_student(
    *, student_id: int, skill_ids: list[int], use_cache: bool = True
) -> policies.SkillEstimator:
    """The fallback estimate from the student's own answers (see ``_estimate``)."""
    if not use_cache:
        return _estimate_from_scratch(student_id=student_id, skill_ids=skill_ids)[0]
    return _estimate(student_id=student_id, skill_ids=skill_ids)[0]


ESTIMATE_CACHE_S = 3600
_FIELDS = ("id", "skill_id", "correct", "created_at", "item__difficulty", "item_id")


def _estimate_key(student_id: int) -> str:
    return f"tutor:scheduler:estimate:v1:{student_id}"


def _estimate(*, student_id: int, skill_ids: list[int]) -> tuple[policies.SkillEstimator, tuple[int, int] | None]:
    """The estimator and the (item, skill) of the student's last answer.

    Attempts are append-only, so the estimate is kept in the cache and only the answers
    since the last call are folded in (one small query). A cold start (or a cache that no
    longer matches the history: an erased or back-dated attempt) rebuilds it from the
    database: per-skill totals of older answers plus the recent window, replayed.
    """
    key = _estimate_key(student_id)
    cached = cache.get(key)
    if cached is not None:
        estimator, last_id, last_at, last = cached
        rows = list(
            Attempt.objects.filter(student_id=student_id, id__gte=last_id)
            .order_by("created_at", "id")
            .values_list(*_FIELDS)[: RECENT_WINDOW + 1]
        )
        newest_t = max((e.last_t for e in estimator.skills.values() if e.last_t is not None), default=-math.inf)
        if (
            rows
            and rows[0][0] == last_id
            and _days(rows[0][3]) == last_at  # the same attempt, not a reused id
            and len(rows) <= RECENT_WINDOW
            and all(_days(r[3]) >= newest_t for r in rows[1:])
        ):
            for _id, skill_id, correct, created_at, difficulty, item_id in rows[1:]:
                estimator.observe(skill_id, correct=correct, now=_days(created_at), difficulty=difficulty)
                last = (item_id, skill_id)
            for sid in skill_ids:
                estimator.get(sid)
            if len(rows) > 1:
                cache.set(key, (estimator, rows[-1][0], _days(rows[-1][3]), last), ESTIMATE_CACHE_S)
            return estimator, last
    estimator, last_id, last_at, last = _estimate_from_scratch(student_id=student_id, skill_ids=skill_ids)
    if last_id is not None:
        cache.set(key, (estimator, last_id, last_at, last), ESTIMATE_CACHE_S)
    return estimator, last


def _estimate_from_scratch(
    *, student_id: int, skill_ids: list[int]
) -> tuple[policies.SkillEstimator, int | None, float | None, tuple[int, int] | None]:
    estimator = policies.SkillEstimator(skill_ids)
    recent = list(
        Attempt.objects.filter(student_id=student_id)
        .order_by("-created_at", "-id")
        .values_list(*_FIELDS)[:RECENT_WINDOW]
    )
    if not recent:
        return estimator, None, None, None
    last_id, last_at, last = recent[0][0], _days(recent[0][3]), (recent[0][5], recent[0][1])
    recent.reverse()
    if len(recent) == RECENT_WINDOW:
        cut = recent[0][3]
        older = (
            Attempt.objects.filter(student_id=student_id, created_at__lt=cut)
            .values("skill_id")
            .annotate(
                n=Count("id"),
                n_correct=Count("id", filter=Q(correct=True)),
                first=Min("created_at"),
                last=Max("created_at"),
            )
        )
        total = total_correct = 0
        for row in older:
            est = estimator.get(row["skill_id"])
            accuracy = (row["n_correct"] + 1) / (row["n"] + 2)
            est.theta = math.log(accuracy / (1 - accuracy))
            est.n, est.n_correct = row["n"], row["n_correct"]
            est.last_t = _days(row["last"])
            # Practice spread over many days leaves a durable memory: a third of the span, at least 12 h.
            est.half_life = max(0.5, (_days(row["last"]) - _days(row["first"])) / 3)
            total += row["n"]
            total_correct += row["n_correct"]
        if total:
            acc = (total_correct + 1) / (total + 2)
            estimator.global_theta = math.log(acc / (1 - acc))
            estimator.n_global = total
    for _id, skill_id, correct, created_at, difficulty, _item_id in recent:
        estimator.observe(skill_id, correct=correct, now=_days(created_at), difficulty=difficulty)
    return estimator, last_id, last_at, last


STRUCTURE_CACHE_S = 60


def _structure(*, course_id: int, section: Section) -> tuple[list[policies.SkillView], dict[int, tuple[str, int, str]]]:
    """Skills with prerequisites and confusable pairs: three queries, cached a minute per class.

    A minute of staleness after a content edit is harmless to a schedule; the class's own
    settings (skills in play, targets) are read fresh on every choice. The key carries the
    class's creation time so that a reused id (test databases roll back) never hits.
    """
    key = f"tutor:scheduler:structure:v1:{course_id}:{section.pk}:{section.created_at.timestamp()}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    # Plain tuples, not model instances: this runs on every item served.
    rows = list(Skill.objects.filter(course_id=course_id).values_list("id", "name", "position", "slug"))
    prereq: dict[int, list[int]] = {}
    for from_id, to_id in Skill.prerequisites.through.objects.filter(from_skill__course_id=course_id).values_list(
        "from_skill_id", "to_skill_id"
    ):
        prereq.setdefault(from_id, []).append(to_id)
    confusable: dict[int, list[int]] = {}
    for from_id, to_id in Skill.confusable_with.through.objects.filter(from_skill__course_id=course_id).values_list(
        "from_skill_id", "to_skill_id"
    ):
        confusable.setdefault(from_id, []).append(to_id)
    views = [
        policies.SkillView(
            skill_id=pk,
            name=name,
            position=position,
            prerequisites=tuple(prereq.get(pk, ())),
            confusable_with=tuple(confusable.get(pk, ())),
        )
        for pk, name, position, _slug in rows
    ]
    result = (views, {pk: (name, position, slug) for pk, name, position, slug in rows})
    if rows:
        cache.set(key, result, STRUCTURE_CACHE_S)
    return result


def item_next_for_student(*, session: PracticeSession, rng: random.Random | None = None) -> ItemChoice:
    """Pick the next item for ``session``'s student, with the reason shown to their teacher.

    Never returns the item just shown (when the skill has another). Raises ``LookupError``
    when the course has no skills, or the chosen skill has no items and no generator.
    """
    rng = rng or random.Random()
    section = session.section
    structure, skills = _structure(course_id=section.course_id, section=section)
    if not structure:
        raise LookupError(f"course {section.course_id} has no skills")
    skill_ids = [v.skill_id for v in structure]
    in_play = frozenset(section.skills_in_play.filter(course_id=section.course_id).values_list("id", flat=True))
    settings = policies.PolicySettings(
        target_success=section.target_success,
        review_weight=section.review_weight,
        skills_in_play=frozenset(in_play) or None,
    )
    now = timezone.now()
    # An item served is answered before the next is chosen (or dropped when its session ends),
    # so the last answer is the item just seen.
    estimator, last = _estimate(student_id=session.student_id, skill_ids=skill_ids)
    last_item_id, last_skill_id = last if last else (None, None)

    try:
        predictions = skill_predictions_for_student(student=session.student, skill_ids=skill_ids, now=now)
    except Exception:  # a broken model must not stop practice: fall back, loudly in the logs
        logger.exception("learner-model predictions failed for student %s; using the fallback", session.student_id)
        predictions = None

    items_since = _items_since(estimator, now=_days(now))
    views = policies.views_from_estimator(
        estimator, structure, now=_days(now), items_since=items_since, predictions=predictions
    )
    agreed = _agreed_reviews(session=session, estimator=estimator, now=now)
    rule = session.scheduling_rule or SchedulingRule.ADAPTIVE
    if rule not in RULES:  # a session row edited by hand: never fail a student over it
        logger.warning("session %s has unknown scheduling rule %r; using adaptive", session.pk, rule)
        rule = SchedulingRule.ADAPTIVE
    ctx = policies.Context(last_skill_id=last_skill_id, agreed_reviews=agreed)
    if rule in ROUND_RULES:  # the rules that turn on which pairs were set side by side
        ctx = replace(
            ctx,
            contrasts=_contrasts(student_id=session.student_id, course_id=section.course_id, skill_ids=skill_ids),
            pair_weights=pair_weights_for_course(course_id=section.course_id) if rule == SchedulingRule.SPREAD else {},
        )
    choice = policies.choose(rule, views, ctx=ctx, settings=settings, rng=rng)
    name, position, slug = skills[choice.skill_id]
    skill = Skill(id=choice.skill_id, course_id=section.course_id, name=name, position=position, slug=slug)
    target = 0.5 if choice.target_difficulty is None else choice.target_difficulty

    def per_item(items: list[Item]) -> dict[int, float] | None:
        if predictions is None:  # no model version, or a broken one: the difficulty rule
            return None
        try:
            return item_predictions_for_student(
                student=session.student, items=[(i.pk, i.skill_id) for i in items], now=now
            )
        except Exception:
            logger.exception("per-item predictions failed for student %s; aiming by difficulty", session.student_id)
            return None

    item, p_item = _item_near(
        skill=skill,
        student_id=session.student_id,
        target=target,
        avoid_item_id=last_item_id,
        rng=rng,
        predict=per_item,
        target_success=settings.target_success,
    )
    reason = choice.reason
    if p_item is not None:
        reason = f"{reason}; this item: {round(100 * p_item)} % predicted success"
    return ItemChoice(item=item, reason=reason)


def _contrasts_key(student_id: int, course_id: int) -> str:
    return f"tutor:scheduler:contrasts-seen:v1:{student_id}:{course_id}"


def _contrasts(*, student_id: int, course_id: int, skill_ids: list[int]) -> dict[tuple[int, int], int]:
    """How often each pair of the course's skills was answered one straight after the other by the student.

    Read only under the rules that need it. Kept in the cache like the estimate: only the answers since
    the last call are read (one small query on the student's index); a cold start, or a history that no
    longer extends what was counted (an erased or back-dated answer), counts the whole history again.
    Answers on other courses' skills are skipped, not breaks: the pair is the course's two answers in a row.
    """
    key = _contrasts_key(student_id, course_id)
    course = set(skill_ids)
    answers = Attempt.objects.filter(student_id=student_id).order_by("created_at", "id")
    cached = cache.get(key)
    if cached is not None:
        counts, last_id, last_at, last_skill = cached
        rows = list(answers.filter(id__gte=last_id).values_list("id", "created_at", "skill_id")[: RECENT_WINDOW + 1])
        if (
            rows
            and rows[0][0] == last_id
            and rows[0][1] == last_at
            and len(rows) <= RECENT_WINDOW
            and all(at >= last_at for _, at, _ in rows[1:])
        ):
            if len(rows) > 1:
                last_skill = _count(counts, [s for _, _, s in rows[1:] if s in course], last=last_skill)
                cache.set(key, (counts, rows[-1][0], rows[-1][1], last_skill), ESTIMATE_CACHE_S)
            return counts
    counts = {}
    rows = list(answers.values_list("id", "created_at", "skill_id"))
    last_skill = _count(counts, [s for _, _, s in rows if s in course], last=None)
    if rows:
        cache.set(key, (counts, rows[-1][0], rows[-1][1], last_skill), ESTIMATE_CACHE_S)
    return counts


def _count(counts: dict[tuple[int, int], int], sequence: list[int], *, last: int | None) -> int | None:
    """Add to ``counts`` the pairs of different skills answered one straight after the other in ``sequence``
    (after ``last``); returns the last skill of the sequence."""
    for skill_id in sequence:
        if last is not None and last != skill_id:
            pair = policies.skill_pair(last, skill_id)
            counts[pair] = counts.get(pair, 0) + 1
        last = skill_id
    return last


def _pair_weights_key(course_id: int) -> str:
    return f"tutor:scheduler:contrasts:v1:{course_id}"


def pair_weights_for_course(*, course_id: int) -> dict[tuple[int, int], float]:
    """The course's learned pair weights (``LearnedContrasts``), {} before any were learned; cached 60 s."""
    key = _pair_weights_key(course_id)
    cached = cache.get(key)
    if cached is not None:
        return cached
    row = LearnedContrasts.objects.filter(course_id=course_id).values_list("weights", flat=True).first()
    weights = {policies.skill_pair(int(a), int(b)): float(w) for a, b, w in (row or [])}
    cache.set(key, weights, STRUCTURE_CACHE_S)
    return weights


def pair_weights_forget(*, course_id: int) -> None:
    """Drop the cached pair weights of a course (after they were relearned)."""
    cache.delete(_pair_weights_key(course_id))


REVIEWS_CACHE_S = 6 * 3600


def _reviews_key(session_id: int, started_at: datetime) -> str:
    return f"tutor:scheduler:reviews:v1:{session_id}:{started_at.timestamp()}"


def student_cache_forget(*, student_id: int) -> None:
    """Drop what the scheduler keeps in the cache about a student (erasure): estimates, contrasts, due reviews."""
    sessions = list(
        PracticeSession.objects.filter(student_id=student_id).values_list("pk", "started_at", "section__course_id")
    )
    cache.delete_many(
        [
            _estimate_key(student_id),
            *(_reviews_key(pk, at) for pk, at, _ in sessions),
            *(_contrasts_key(student_id, course_id) for course_id in {c for _, _, c in sessions}),
        ]
    )


def _agreed_reviews(*, session: PracticeSession, estimator: policies.SkillEstimator, now: datetime) -> frozenset[int]:
    """Skills of the reviews the student agreed to that are due and not yet practised since they came due.

    Read from the database once per session and kept in the cache (about half a millisecond saved on
    every other choice; a review that comes due mid-session waits for the next session). A skill leaves
    the set as soon as the estimate shows an answer on it after its review came due.
    """
    key = _reviews_key(session.pk, session.started_at)
    due = cache.get(key)
    if due is None:
        due = [
            (skill_id, _days(at))
            for skill_id, at in review_skills_due_at(
                student_id=session.student_id, section_id=session.section_id, now=now
            )
        ]
        cache.set(key, due, REVIEWS_CACHE_S)
    out = set()
    for skill_id, due_t in due:
        est = estimator.skills.get(skill_id)
        if est is None or est.last_t is None or est.last_t < due_t:
            out.add(skill_id)
    return frozenset(out)


def _items_since(estimator: policies.SkillEstimator, *, now: float, sitting_days: float = 1 / 48) -> dict[int, int]:
    """Recency rank (0 = the last one) of the skills practised in this sitting (the last 30 minutes).

    Enough for the policy's massing discount; a skill last seen yesterday is not "just seen".
    """
    practised = sorted(
        ((est.last_t, sid) for sid, est in estimator.skills.items() if est.last_t is not None),
        reverse=True,
    )
    return {sid: rank for rank, (t, sid) in enumerate(practised) if now - t <= sitting_days}


def _item_near(
    *,
    skill: Skill,
    student_id: int,
    target: float,
    avoid_item_id: int | None,
    rng: random.Random,
    predict: Callable[[list[Item]], dict[int, float] | None] | None = None,
    target_success: float = 0.7,
) -> tuple[Item, float | None]:
    """An item of ``skill`` and the model's P(correct) on it (None when the difficulty rule chose it).

    With the learner model (``predict``), authored items are scored one by one and the unseen one whose
    predicted success is nearest ``target_success`` is chosen (the least recently practised when all are
    seen). Otherwise, or for generated items (new to the model), the item nearest ``target`` difficulty:
    unseen authored, else generated, else least recent.
    """
    if skill.slug not in generators.GENERATORS:
        # Authored only: unseen items first (nearest the target), then the least recently practised.
        # Two queries bounded by this student's own answers and the skill's authored items.
        last_seen = dict(
            Attempt.objects.filter(student_id=student_id, skill_id=skill.pk)
            .values("item_id")
            .annotate(last=Max("created_at"))
            .values_list("item_id", "last")
        )
        items = [i for i in Item.objects.filter(skill_id=skill.pk) if i.pk != avoid_item_id] or list(
            Item.objects.filter(skill_id=skill.pk)
        )
        if not items:
            raise LookupError(f"skill {skill.slug!r} has no items and no generator")
        # the model scores at most MODEL_CANDIDATES items: those whose authored difficulty is nearest the target
        unseen = sorted((i for i in items if i.pk not in last_seen), key=lambda i: (abs(i.difficulty - target), i.pk))
        pool = unseen or sorted(items, key=lambda i: (abs(i.difficulty - target), i.pk))
        scored = predict(pool[:MODEL_CANDIDATES]) if predict else None
        if scored:
            best = min(scored, key=lambda pk: (abs(scored[pk] - target_success), pk))
            if not unseen:  # all seen: the least recent among those as well aimed as the best (within 5 points)
                near = [
                    pk
                    for pk, p in scored.items()
                    if abs(p - target_success) <= abs(scored[best] - target_success) + 0.05
                ]
                best = min(near, key=lambda pk: (last_seen[pk].timestamp(), pk))
            return next(i for i in items if i.pk == best), scored[best]
        return min(
            items,
            key=lambda i: (
                i.pk in last_seen,
                last_seen[i.pk].timestamp() if i.pk in last_seen else 0.0,
                abs(i.difficulty - target),
                i.pk,
            ),
        ), None
    seen = Attempt.objects.filter(student_id=student_id, skill_id=skill.pk).values("item_id")
    authored = (
        Item.objects.filter(skill_id=skill.pk, source=Item.Source.AUTHORED)
        .exclude(pk__in=seen)
        .annotate(gap=Abs(F("difficulty") - target))
        .order_by("gap", "pk")
        .first()
    )
    if authored is not None:
        return authored, None
    # Draw candidate parameters, keep the unseen one nearest the target, store only that one.
    seeds = [rng.getrandbits(32) for _ in range(GENERATED_CANDIDATES)]
    raws = [(s, generators.generate_item(skill.slug, random.Random(s))) for s in seeds]
    seen_slugs = set(
        Attempt.objects.filter(
            student_id=student_id, item__course_id=skill.course_id, item__slug__in=[r["slug"] for _, r in raws]
        ).values_list("item__slug", flat=True)
    )
    fresh = [(s, r) for s, r in raws if r["slug"] not in seen_slugs] or raws
    fresh.sort(key=lambda sr: abs(float(sr[1].get("difficulty", 0.5)) - target))
    item = None
    for s, _raw in fresh:
        item = item_from_generator(skill=skill, rng=random.Random(s))
        if item.pk != avoid_item_id:
            return item, None
    assert item is not None
    return item, None  # twelve draws of the very item just seen: a generator with one item
