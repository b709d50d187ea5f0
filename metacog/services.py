"""Writes of metacognition: reflections, class switches, suggestions and their outcomes, the population prior.

Callers check access (tutor.access) first; these functions check that the objects belong together.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from learner_models.selectors import attempt_predictions_for_student
from tutor.models import Attempt, PracticeSession, Section, SessionItem, Skill, User

from . import catalog, selectors
from .calibration import calibration_bias
from .context import FEATURES, context_from_answers, reason_for
from .models import (
    PolicyPrior,
    PromptKind,
    PromptRule,
    Reflection,
    ScheduledReview,
    StrategySetting,
    StrategySuggestion,
)
from .policy import (
    GUARD_Z,
    PopulationPrior,
    history_stats,
    policy_choose,
    prior_expert,
    prior_fit,
    suggestion_reward,
)

MAX_TEXT = 1000
MIN_OUTCOME_ANSWERS = 5
# Exploration temperature for priors fitted from real outcomes: the strategy benchmark's meta-learned value
# (0–0.1 in every setting, docs/metacognition.md). The expert prior is less certain, so it explores more.
FITTED_TEMPERATURE = 0.1
EXPERT_TEMPERATURE = 0.5
REVIEW_AFTER = timedelta(days=2)

logger = logging.getLogger(__name__)


class MetacogError(Exception):
    """Input to fix; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _text(value: object, *, field: str, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise MetacogError("Write a few words, or skip.", field=field)
    if len(text) > MAX_TEXT:
        raise MetacogError(f"At most {MAX_TEXT} characters.", field=field)
    return text


def _probability(value: object, *, field: str) -> float:
    message = "Choose how likely it is: " + ", ".join(label for _, label in selectors.JUDGMENT_CHOICES) + "."
    try:
        p = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MetacogError(message, field=field) from None
    if not 0 <= p <= 1:  # also rejects NaN
        raise MetacogError(message, field=field)
    return p


# --- reflections ---------------------------------------------------------------------------------------------

PLANNING_PROMPT = "What is your goal for this session, and which strategy will you try?"
CONFIDENT_ERROR_PROMPT = "You were sure, but it was wrong. What could make an answer like this wrong?"
EVALUATION_PROMPT = "What worked in this session, and what will you change next time?"
SUMMARY_PROMPT = "Summarise the main idea of what you practised in one sentence."


def reflection_plan_record(
    *, student: User, session: PracticeSession, goal: str = "", strategy: str = "", skipped: bool = False
) -> Reflection:
    """The planning answer (or a skip) for a session; once per session, later calls return the first."""
    if session.student_id != student.pk:
        raise MetacogError("This session belongs to another student.", field="session")
    existing = Reflection.objects.filter(session=session, kind=Reflection.Kind.PLANNING).first()
    if existing is not None:
        return existing
    strategy = (strategy or "").strip()
    if strategy and strategy not in catalog.BY_SLUG:
        raise MetacogError("Choose a strategy from the list.", field="strategy")
    goal = _text(goal, field="goal", required=not skipped and not strategy)
    return Reflection.objects.create(
        student=student,
        section_id=session.section_id,
        session=session,
        kind=Reflection.Kind.PLANNING,
        prompt=PLANNING_PROMPT,
        answer="" if skipped else goal,
        strategy="" if skipped else strategy,
        skipped=skipped,
        created_at=timezone.now(),
    )


def reflection_item_record(
    *, student: User, session_item: SessionItem, kind: str, answer: str = "", judgment: object = None
) -> Reflection:
    """A judgment of learning, a confident-error answer or a strategy note about one item (latest wins)."""
    session = session_item.session
    if session.student_id != student.pk:
        raise MetacogError("This item belongs to another student.", field="session")
    skill = session_item.item.skill
    if kind == Reflection.Kind.JUDGMENT:
        value, text, prompt = (
            _probability(judgment, field="judgment"),
            "",
            selectors.JUDGMENT_PROMPT.format(skill=skill.name),
        )
    elif kind == Reflection.Kind.CONFIDENT_ERROR:
        value, text, prompt = None, _text(answer, field="answer", required=True), CONFIDENT_ERROR_PROMPT
    elif kind == Reflection.Kind.STRATEGY_NOTE:
        suggestion = selectors.active_suggestion(student=student, section=session.section)
        strategy = catalog.BY_SLUG.get(suggestion.strategy) if suggestion else None
        prompt = strategy.explain_prompt if strategy and strategy.explain_prompt else "Your note"
        value, text = None, _text(answer, field="answer", required=True)
    else:
        raise MetacogError("Unknown kind of reflection.", field="kind")
    with transaction.atomic():
        Reflection.objects.filter(session_item=session_item, kind=kind).delete()
        return Reflection.objects.create(
            student=student,
            section_id=session.section_id,
            session=session,
            session_item=session_item,
            skill=skill,
            kind=kind,
            prompt=prompt[:300],
            answer=text,
            judgment=value,
            created_at=timezone.now(),
        )


def reflection_session_record(
    *, student: User, session: PracticeSession, kind: str, answer: str = "", second_answer: str = ""
) -> Reflection:
    """End-of-session evaluation (what worked / what to change) or summary sentence; once per session."""
    if session.student_id != student.pk:
        raise MetacogError("This session belongs to another student.", field="session")
    if kind == Reflection.Kind.EVALUATION:
        worked = _text(answer, field="worked")
        change = _text(second_answer, field="change")
        if not worked and not change:
            raise MetacogError("Write what worked or what you will change.", field="worked")
        prompt = EVALUATION_PROMPT
    elif kind == Reflection.Kind.SUMMARY:
        worked, change, prompt = _text(answer, field="summary", required=True), "", SUMMARY_PROMPT
    else:
        raise MetacogError("Unknown kind of reflection.", field="kind")
    existing = Reflection.objects.filter(session=session, kind=kind).first()
    if existing is not None:
        return existing
    return Reflection.objects.create(
        student=student,
        section_id=session.section_id,
        session=session,
        kind=kind,
        prompt=prompt,
        answer=worked,
        second_answer=change,
        created_at=timezone.now(),
    )


# --- class settings (teachers) -------------------------------------------------------------------------------


EVERY_N_LABEL = "Ask a judgment of learning every n items"
EVERY_N_MIN, EVERY_N_MAX = 1, 50


def _every_n(value: object) -> int | None:
    """The judgment interval as typed on the settings page; None keeps the stored one. The message names the
    field by its label, as the teacher sees it."""
    if value in (None, ""):
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if not EVERY_N_MIN <= n <= EVERY_N_MAX:
        raise MetacogError(
            f"{EVERY_N_LABEL}: enter a whole number from {EVERY_N_MIN} to {EVERY_N_MAX}.", field="every_n_items"
        )
    return n


def prompt_rule_set(*, section: Section, kind: str, enabled: bool, every_n_items: object = None) -> PromptRule:
    if kind not in PromptKind.values:
        raise MetacogError(f"Unknown prompt kind {kind!r}.", field="kind")
    defaults: dict[str, object] = {"enabled": bool(enabled)}
    n = _every_n(every_n_items)
    if n is not None:
        defaults["every_n_items"] = n
    rule, _ = PromptRule.objects.update_or_create(section=section, kind=kind, defaults=defaults)
    return rule


def prompt_rules_update(*, section: Section, enabled_kinds: Collection[str], every_n_items: object) -> None:
    """The settings form for prompts, all or nothing: every value is checked before anything is written."""
    unknown = set(enabled_kinds) - set(PromptKind.values)
    if unknown:
        raise MetacogError(f"Unknown prompt kind {sorted(unknown)[0]!r}.", field="kind")
    _every_n(every_n_items)
    with transaction.atomic():
        for kind in PromptKind.values:
            prompt_rule_set(
                section=section,
                kind=kind,
                enabled=kind in enabled_kinds,
                every_n_items=every_n_items if kind == PromptKind.JUDGMENT else None,
            )


def strategy_setting_set(*, section: Section, strategy: str, enabled: bool) -> StrategySetting:
    if strategy not in catalog.BY_SLUG:
        raise MetacogError(f"Unknown strategy {strategy!r}.", field="strategy")
    setting, _ = StrategySetting.objects.update_or_create(
        section=section, strategy=strategy, defaults={"enabled": bool(enabled)}
    )
    return setting


def strategy_settings_update(*, section: Section, enabled_slugs: Collection[str]) -> None:
    """The settings form for strategies, all or nothing."""
    unknown = set(enabled_slugs) - set(catalog.BY_SLUG)
    if unknown:
        raise MetacogError(f"Unknown strategy {sorted(unknown)[0]!r}.", field="strategy")
    with transaction.atomic():
        for s in catalog.CATALOG:
            strategy_setting_set(section=section, strategy=s.slug, enabled=s.slug in enabled_slugs)


# --- the population prior ------------------------------------------------------------------------------------


def policy_prior_active() -> tuple[PopulationPrior, PolicyPrior | None]:
    """The active meta-learned prior, or the catalog's expert prior until one has been fitted."""
    row = PolicyPrior.objects.filter(active=True).first()
    if row is not None:
        prior = PopulationPrior.from_dict(row.params)
        if tuple(prior.features) == FEATURES:
            return prior, row
    prior = prior_expert(catalog=catalog.CATALOG, features=FEATURES)
    prior.temperature = EXPERT_TEMPERATURE
    return prior, None


def policy_prior_fit(*, min_students: int = 20, activate: bool = True) -> PolicyPrior:
    """Meta-learn the population prior from every measured suggestion outcome (the outer loop).

    Raises MetacogError when fewer than ``min_students`` students have measured outcomes.
    """
    rows = list(
        StrategySuggestion.objects.filter(reward__isnull=False).values_list(
            "student_id", "strategy", "context", "reward"
        )
    )
    rows = [r for r in rows if r[1] in catalog.BY_SLUG and len(r[2].get("vector", [])) == len(FEATURES)]
    students = {r[0] for r in rows}
    if len(students) < min_students:
        raise MetacogError(
            f"Only {len(students)} students have measured outcomes; at least {min_students} are needed.",
            field="min_students",
        )
    prior = prior_fit(
        contexts=np.array([r[2]["vector"] for r in rows]),
        arms=np.array([catalog.SLUGS.index(r[1]) for r in rows]),
        rewards=np.array([r[3] for r in rows]),
        students=np.array([r[0] for r in rows]),
        arm_names=catalog.SLUGS,
        features=FEATURES,
    )
    prior.temperature = FITTED_TEMPERATURE
    # The guarded rule (metacog.policy.policy_choose): the strategy with the best mean measured outcome
    # unless another's advantage for this student is GUARD_Z standard errors above 0.
    prior.guard_z = GUARD_Z
    with transaction.atomic():
        if activate:
            PolicyPrior.objects.filter(active=True).update(active=False)
        return PolicyPrior.objects.create(
            kind="meta_learned",
            params=prior.to_dict(),
            n_students=prior.n_students,
            n_observations=prior.n_observations,
            active=activate,
            note=f"fitted on {len(rows)} outcomes",
            created_at=timezone.now(),
        )


# --- suggestions ---------------------------------------------------------------------------------------------


def _own_history(*, student: User) -> list[tuple[str, np.ndarray, float]]:
    """Only this student's own measured outcomes: other students reach the policy through the prior alone."""
    return [
        (s, np.asarray(ctx.get("vector", []), dtype=float), r)
        for s, ctx, r in StrategySuggestion.objects.filter(student=student, reward__isnull=False).values_list(
            "strategy", "context", "reward"
        )
        if r is not None and len(ctx.get("vector", [])) == len(FEATURES)  # reward__isnull=False, for mypy
    ]


def suggestion_make(*, session: PracticeSession, seed: int = 0) -> StrategySuggestion | None:
    """The suggestion shown after ``session`` (once per session). Deterministic in (seed, student, history).

    None when the class has every strategy switched off.
    """
    existing = StrategySuggestion.objects.filter(session=session).first()
    if existing is not None:
        return existing
    student, section = session.student, session.section
    # The strategy in use is not offered again: the student already agreed to it (measuring its outcome
    # after a few answers does not end it).
    in_use = selectors.active_suggestion(student=student, section=section)
    allowed = [s for s in selectors.enabled_strategy_slugs(section=section) if in_use is None or s != in_use.strategy]
    if not allowed:
        return None
    recent = list(
        StrategySuggestion.objects.filter(student=student, section=section)
        .order_by("-created_at", "-id")
        .values_list("strategy", "status", "rating")[:2]
    )
    # Respect the student's "no": a strategy dismissed or marked unhelpful is not offered again right away.
    declined = {
        s
        for s, st, rating in recent
        if st in (StrategySuggestion.Status.DISMISSED, StrategySuggestion.Status.NOT_HELPFUL) or rating == -1
    }
    allowed = [s for s in allowed if s not in declined] or allowed
    if not allowed:
        return None
    # The answers up to this session's last one: the window the summary's calibration verdict judges too.
    last = Attempt.objects.filter(session=session).order_by("-created_at", "-id").first()
    attempts = selectors.answers_for_student(student=student, section=section, limit=60, until=last)
    skill_ids = list(Skill.objects.filter(course_id=section.course_id).values_list("pk", flat=True))
    predicted = selectors.predicted_accuracy_for(student=student, skill_ids=skill_ids)
    ctx = context_from_answers(selectors.answer_records(attempts), predicted_accuracy=predicted)
    x = ctx.vector()
    prior, prior_row = policy_prior_active()
    prior = prior.restricted(allowed)
    history = _own_history(student=student)
    counts, resid = history_stats(prior=prior, history=history)
    n_before = StrategySuggestion.objects.filter(student=student).count()
    rng = np.random.default_rng([seed, student.pk, n_before])
    choice, means = policy_choose(prior=prior, x=x[None, :], counts=counts, resid_sums=resid, rng=rng)
    slug = prior.arms[int(choice[0])]
    gains = [
        g
        for g in StrategySuggestion.objects.filter(
            student=student, strategy=slug, performance_gain__isnull=False
        ).values_list("performance_gain", flat=True)
        if g is not None  # performance_gain__isnull=False, for mypy
    ]
    reason = reason_for(catalog.BY_SLUG[slug], ctx, own_gain=sum(gains) / len(gains) if gains else None)
    bias = calibration_bias([a.confidence for a in attempts[-30:]], [a.correct for a in attempts[-30:]])
    try:
        with transaction.atomic():
            return StrategySuggestion.objects.create(
                student=student,
                section=section,
                session=session,
                strategy=slug,
                reason=reason[:400],
                context={
                    "features": dict(ctx.values),
                    "vector": x.tolist(),
                    "n": ctx.n,
                    "predicted_accuracy": ctx.predicted_accuracy,
                    "prediction_source": ctx.prediction_source,
                    "bias": bias.value,
                    "prior_kind": prior.kind,
                    "posterior_means": {a: float(m) for a, m in zip(prior.arms, means[0], strict=True)},
                },
                prior=prior_row,
                predicted_reward=float(means[0, int(choice[0])]),
                created_at=timezone.now(),
            )
    except IntegrityError:  # two tabs ended the session at once
        return StrategySuggestion.objects.get(session=session)


RESPONSES = {"accept", "dismiss", "not_helpful", "helpful"}


def suggestion_respond(*, suggestion: StrategySuggestion, student: User, response: str) -> StrategySuggestion:
    """Accept (its action starts with the next items), dismiss, or rate it helpful / not helpful."""
    if suggestion.student_id != student.pk:
        raise MetacogError("This suggestion belongs to another student.", field="suggestion")
    if response not in RESPONSES:
        raise MetacogError("Choose accept, dismiss, helpful or not helpful.", field="response")
    now = timezone.now()
    Status = StrategySuggestion.Status
    with transaction.atomic():
        s = StrategySuggestion.objects.select_for_update().get(pk=suggestion.pk)
        if response == "helpful":
            s.rating = 1
        elif response == "not_helpful":
            s.rating = -1
            if s.status == Status.OFFERED:
                s.status = Status.NOT_HELPFUL
                s.responded_at = now
            elif s.is_active:
                s.ended_at = now  # tried and judged unhelpful: stop shaping their practice with it
        elif s.status == Status.OFFERED:
            s.status = Status.ACCEPTED if response == "accept" else Status.DISMISSED
            s.responded_at = now
            if response == "accept":
                # One strategy at a time: a newer acceptance ends the one in use (it stays accepted in the history).
                StrategySuggestion.objects.filter(
                    student=student, section_id=s.section_id, status=Status.ACCEPTED, ended_at__isnull=True
                ).exclude(pk=s.pk).update(ended_at=now)
                _action_start(suggestion=s, now=now)
        if s.status == Status.NOT_HELPFUL and s.reward is None:
            # Not tried, judged unhelpful: the rating is the whole outcome.
            s.reward = suggestion_reward(performance_gain=None, calibration_gain=None, rating=-1)
            s.measured_at = now
        elif s.reward is not None and s.measured_at is not None and response in ("helpful", "not_helpful"):
            s.reward = suggestion_reward(
                performance_gain=s.performance_gain, calibration_gain=s.calibration_gain, rating=s.rating
            )
        s.save()
    return s


def _action_start(*, suggestion: StrategySuggestion, now) -> None:
    strategy = catalog.BY_SLUG[suggestion.strategy]
    if strategy.action not in (catalog.ACTION_SCHEDULE_REVIEW, catalog.ACTION_MIX_CONFUSABLES):
        return  # the other actions are read by the practice pages while the suggestion is active
    stats = (
        Attempt.objects.filter(student_id=suggestion.student_id, skill__course_id=suggestion.section.course_id)
        .values("skill_id")
        .annotate(n=Count("id"), right=Count("id", filter=Q(correct=True)))
    )
    ranked = sorted(stats, key=lambda r: ((r["right"] + 1) / (r["n"] + 2), r["skill_id"]))
    skills = Skill.objects.filter(course_id=suggestion.section.course_id)
    weakest = skills.filter(pk=ranked[0]["skill_id"]).first() if ranked else skills.first()
    if weakest is None:
        return
    chosen = [weakest]
    if strategy.action == catalog.ACTION_MIX_CONFUSABLES:
        chosen += list(weakest.confusable_with.all()[:2])
    review = ScheduledReview.objects.create(
        student_id=suggestion.student_id,
        section_id=suggestion.section_id,
        suggestion=suggestion,
        due_at=now + REVIEW_AFTER,
    )
    review.skills.set(chosen)


def suggestion_outcomes_measure(*, student: User, section: Section) -> list[StrategySuggestion]:
    """Measure accepted suggestions on the session *after* the one the strategy was used in.

    The strategy is used in the first practice session the student starts after accepting it; what it
    taught shows in the next one (the answers of sessions started after that, up to 20, at least
    ``MIN_OUTCOME_ANSWERS``), whether or not another strategy was accepted in between. The strategy
    benchmark found this delayed signal the better one to learn from (``OUTCOME_DELAY``,
    docs/metacognition.md): answers in the strategy's own session also carry the effort it asks for.

    performance gain = accuracy then − the learner model's P on those same items (else the accuracy
    predicted when suggesting); calibration gain = |bias before| − |bias then|; the reward adds the
    helpfulness rating (metacog.policy).
    """
    measured = []
    pending = StrategySuggestion.objects.filter(
        student=student,
        section=section,
        status=StrategySuggestion.Status.ACCEPTED,
        measured_at__isnull=True,
        responded_at__isnull=False,
    )
    for s in pending:
        used_in = (
            PracticeSession.objects.filter(student=student, section=section, started_at__gt=s.responded_at)
            .order_by("started_at", "id")
            .first()
        )
        if used_in is None:
            continue
        answers = Attempt.objects.filter(
            student=student,
            session__section=section,
            session__started_at__gte=used_in.started_at,
        ).exclude(session=used_in)
        after = list(answers.order_by("created_at", "id").values_list("id", "confidence", "correct")[:20])
        if len(after) < MIN_OUTCOME_ANSWERS:
            continue
        acc = sum(y for _, _, y in after) / len(after)
        bias_after = calibration_bias([c for _, c, _ in after], [y for _, _, y in after]).value or 0.0
        bias_before = s.context.get("bias")
        s.outcome_n = len(after)
        ids = [a for a, _, _ in after]
        s.performance_gain = acc - _expected_accuracy(student=student, attempt_ids=ids, s=s, otherwise=acc)
        s.calibration_gain = abs(bias_before) - abs(bias_after) if bias_before is not None else None
        s.reward = suggestion_reward(
            performance_gain=s.performance_gain, calibration_gain=s.calibration_gain, rating=s.rating
        )
        s.context = {**s.context, "outcome_window": f"the session after session {used_in.pk}, where it was used"}
        s.measured_at = timezone.now()
        s.save(update_fields=["outcome_n", "performance_gain", "calibration_gain", "reward", "measured_at", "context"])
        measured.append(s)
    return measured


def _expected_accuracy(*, student: User, attempt_ids: list[int], s: StrategySuggestion, otherwise: float) -> float:
    """What the student would have scored on the items actually served without the strategy: the learner
    model's mean P(correct) on exactly those answers, from the answers before each one. The scheduler aims
    items at a target success, so accuracy alone says more about its aiming than about the strategy.
    Without a model version, the accuracy predicted when suggesting (noted in the context as such)."""
    try:
        preds = attempt_predictions_for_student(student_id=student.pk, attempt_ids=attempt_ids)
    except Exception:  # a broken model must not stop measuring: the older baseline, said so
        logger.exception("learner-model baseline failed for suggestion %s", s.pk)
        preds = None
    if preds and len(preds) == len(attempt_ids):
        s.context = {**s.context, "outcome_baseline": "model, per served item"}
        return float(np.mean(list(preds.values())))
    s.context = {**s.context, "outcome_baseline": "accuracy predicted when suggesting"}
    return float(s.context.get("predicted_accuracy", otherwise))


def reviews_settle(*, student_id: int, section_id: int, now: datetime | None = None) -> int:
    """Mark done the due reviews whose skills the student has all practised since they came due (the
    scheduler serves them first); returns how many. Called after each answer: one query when none is due."""
    now = now or timezone.now()
    done = [
        review.pk
        for review, left in selectors.reviews_due(student_id=student_id, section_id=section_id, now=now)
        if not left
    ]
    if done:
        ScheduledReview.objects.filter(pk__in=done, done_at__isnull=True).update(done_at=now)
    return len(done)


def session_ended(*, session: PracticeSession) -> StrategySuggestion | None:
    """Hook for the end of a practice session: measure outcomes, then make the next suggestion."""
    suggestion_outcomes_measure(student=session.student, section=session.section)
    if not Attempt.objects.filter(session=session).exists():
        return None
    return suggestion_make(session=session)


def check_step_validate(*, session: PracticeSession, checked: object) -> None:
    """With "slow down and check" accepted, an answer needs its check step ticked."""
    if selectors.check_step_required(session=session) and str(checked or "") not in ("1", "on", "true", "yes"):
        raise MetacogError("Re-read the question and tick the check box before you submit.", field="checked")
