"""Reads for metacognition pages and for the practice-flow hooks. Access checks happen in views via tutor.access."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db.models import Max, Model, Q, QuerySet

from learner_models.selectors import skill_predictions_for_student
from tutor import access
from tutor.models import Attempt, Item, PracticeSession, Section, SessionItem, User

from . import catalog
from .calibration import (
    VERDICT_LABELS,
    YOU,
    CalibrationJudgment,
    CalibrationReport,
    Voice,
    calibration_by,
    calibration_details,
    calibration_headline,
    calibration_judgment,
    calibration_report,
    calibration_sentence,
    gap_text,
)
from .context import WINDOW, AnswerRecord
from .models import PromptKind, PromptRule, Reflection, ScheduledReview, StrategySetting, StrategySuggestion

logger = logging.getLogger(__name__)

DEFAULT_EVERY_N = 4
JUDGMENT_CHOICES = [("0.25", "Unlikely"), ("0.5", "50–50"), ("0.75", "Likely"), ("1.0", "Very likely")]
# Asked in the feedback, once the item is answered: a judgment of learning is about remembering what was
# just practised, so it must not ask about tomorrow before the student has seen the item's answer.
JUDGMENT_PROMPT = "Now that you have answered it: how likely are you to get a {skill} item right tomorrow?"
CONFIDENT = 0.75


# --- answers and calibration --------------------------------------------------------------------------------


def answers_for_student(
    *,
    student: User,
    section: Section | None = None,
    limit: int | None = None,
    until: Attempt | None = None,
    viewer: User | None = None,
) -> list[Attempt]:
    """Oldest first; with ``limit``, the latest ``limit``; with ``until``, none after that answer. With a
    ``viewer``, only the answers they may see (a teacher: those given in their own classes)."""
    qs = (access.attempts_visible_to(viewer) if viewer is not None else Attempt.objects).filter(student=student)
    qs = qs.select_related("skill")
    if section is not None:
        qs = qs.filter(skill__course_id=section.course_id)
    if until is not None:
        qs = qs.filter(Q(created_at__lt=until.created_at) | Q(created_at=until.created_at, pk__lte=until.pk))
    if limit is not None:
        return list(reversed(qs.order_by("-created_at", "-id")[:limit]))
    return list(qs.order_by("created_at", "id"))


def answer_records(attempts: list[Attempt]) -> list[AnswerRecord]:
    return [
        AnswerRecord(
            correct=a.correct,
            confidence=a.confidence,
            skill=a.skill.name,
            session=a.session_id,
            response_time_ms=a.response_time_ms,
            hints_used=a.hints_used,
        )
        for a in attempts
    ]


def predicted_accuracy_for(*, student: User, skill_ids: list[int]) -> float | None:
    """Mean learner-model P(correct) over the skills, or None when no learner model is active/available."""
    if not skill_ids:
        return None
    try:
        preds = skill_predictions_for_student(student=student, skill_ids=skill_ids)
    except Exception:  # a model failing to load must not break practice; fall back to observed accuracy
        logger.warning(
            "learner-model predictions failed for student %s; using observed accuracy", student.pk, exc_info=True
        )
        return None
    if not preds:
        return None
    return sum(preds.values()) / len(preds)


@dataclass(frozen=True)
class ChartPoint:
    label: str
    n: int
    right: int
    x: float  # SVG coordinates in a 0..100 box, y grows downwards
    y: float
    y_low: float
    y_high: float
    confidence: float
    accuracy: float


@dataclass(frozen=True)
class JudgmentView:
    """One calibration verdict and the words every part of a page uses for it."""

    judgment: CalibrationJudgment
    sentence: str
    headline: str
    label: str
    gap: str

    @classmethod
    def of(cls, judgment: CalibrationJudgment, *, voice: Voice = YOU, answers: str | None = None) -> JudgmentView:
        return cls(
            judgment,
            calibration_sentence(judgment, voice=voice, answers=answers),
            calibration_headline(judgment, voice=voice),
            VERDICT_LABELS[judgment.verdict],
            gap_text(judgment),
        )


@dataclass(frozen=True)
class CalibrationView:
    report: CalibrationReport
    points: list[ChartPoint]
    verdict: JudgmentView
    voice: Voice
    details: list[tuple[str, str]]


BIN_LABELS = ["Guessing", "Unsure", "Fairly sure", "Certain"]


def calibration_view(
    confidences: list[float], outcomes: list[bool], *, voice: Voice = YOU, answers: str | None = None
) -> CalibrationView:
    report = calibration_report(confidences, outcomes, bootstrap=200)
    points = []
    for label, b in zip(BIN_LABELS, report.bins, strict=True):
        if not b.n:
            continue
        points.append(
            ChartPoint(
                label=label,
                n=b.n,
                right=b.right,
                x=round(100 * b.mean_confidence, 1),  # type: ignore[operator]
                y=round(100 - 100 * b.accuracy, 1),  # type: ignore[operator]
                y_low=round(100 - 100 * b.accuracy_low, 1),  # type: ignore[operator]
                y_high=round(100 - 100 * b.accuracy_high, 1),  # type: ignore[operator]
                confidence=b.mean_confidence,  # type: ignore[arg-type]
                accuracy=b.accuracy,  # type: ignore[arg-type]
            )
        )
    return CalibrationView(
        report,
        points,
        JudgmentView.of(report.judgment, voice=voice, answers=answers),
        voice,
        calibration_details(report, voice=voice),
    )


def voice_for(*, student: User, viewer: User) -> Voice:
    """Second person for the student themselves; their name for a teacher looking at their pages."""
    return YOU if viewer.pk == student.pk else Voice(student.get_full_name() or student.username)


def _recent(*, student: User, section: Section, until: Attempt | None) -> list[Attempt]:
    """The answers a strategy suggestion looks at (the last ``context.WINDOW`` in the class, up to ``until``).

    The summary's verdict, the running calibration check and the suggestion's reason all judge these same
    answers, so what one of them says about calibration the others cannot contradict.
    """
    if until is None:
        return []
    return answers_for_student(student=student, section=section, limit=WINDOW, until=until)


def _last_answers(voice: Voice, n: int) -> str:
    return f"{voice.possessive} last {n} answer{'s' if n != 1 else ''}"


def calibration_recent(
    *, student: User, section: Section, until: Attempt | None, voice: Voice = YOU
) -> CalibrationView:
    attempts = _recent(student=student, section=section, until=until)
    return calibration_view(
        [a.confidence for a in attempts],
        [a.correct for a in attempts],
        voice=voice,
        answers=_last_answers(voice, len(attempts)),
    )


def calibration_for_session(*, session: PracticeSession, voice: Voice = YOU) -> CalibrationView:
    """The summary's chart and verdict: the recent answers up to the session's last one (see ``_recent``)."""
    last = Attempt.objects.filter(session=session).order_by("-created_at", "-id").first()
    return calibration_recent(student=session.student, section=session.section, until=last, voice=voice)


@dataclass(frozen=True)
class GroupCalibration:
    """A row of the history tables: a skill or a session, with its own verdict."""

    label: str
    report: CalibrationReport
    verdict: JudgmentView
    session: PracticeSession | None = None


@dataclass(frozen=True)
class StudentCalibration:
    overall: CalibrationView
    by_skill: list[GroupCalibration]
    by_session: list[GroupCalibration]


def calibration_for_student(*, student: User, viewer: User, voice: Voice = YOU) -> StudentCalibration:
    """Overall, per skill and over time (per session, oldest first), over the answers ``viewer`` may see."""
    attempts = answers_for_student(student=student, viewer=viewer)
    overall = calibration_view([a.confidence for a in attempts], [a.correct for a in attempts], voice=voice)
    by_skill = calibration_by((a.skill.name, a.confidence, a.correct) for a in attempts)
    by_session_id = calibration_by((a.session_id, a.confidence, a.correct) for a in attempts if a.session_id)
    sessions = PracticeSession.objects.in_bulk(list(by_session_id))
    return StudentCalibration(
        overall,
        [GroupCalibration(str(name), r, JudgmentView.of(r.judgment, voice=voice)) for name, r in by_skill.items()],
        [
            GroupCalibration("", r, JudgmentView.of(r.judgment, voice=voice), sessions[sid])
            for sid, r in by_session_id.items()
            if sid in sessions
        ],
    )


@dataclass(frozen=True)
class CalibrationSummary:
    """All of a student's answers judged together and per skill (skill id keys), for the REST API."""

    overall: CalibrationReport
    by_skill: dict[int, CalibrationReport]


def calibration_summary_for_student(*, student: User) -> CalibrationSummary:
    """Every answer of the student, wherever given (practice in any class, or ingested through the API)."""
    attempts = answers_for_student(student=student)
    return CalibrationSummary(
        overall=calibration_report([a.confidence for a in attempts], [a.correct for a in attempts]),
        by_skill={
            k: r
            for k, r in calibration_by((a.skill_id, a.confidence, a.correct) for a in attempts).items()
            if isinstance(k, int)
        },
    )


# --- prompts and class settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    kind: str
    label: str
    enabled: bool
    every_n_items: int


def prompt_rules_for_section(*, section: Section) -> dict[str, RuleView]:
    stored = {r.kind: r for r in PromptRule.objects.filter(section=section)}
    out = {}
    for kind, label in PromptKind.choices:
        r = stored.get(kind)
        out[kind] = RuleView(kind, label, r.enabled if r else True, r.every_n_items if r else DEFAULT_EVERY_N)
    return out


def strategies_for_section(*, section: Section) -> list[tuple[catalog.Strategy, bool]]:
    off = set(StrategySetting.objects.filter(section=section, enabled=False).values_list("strategy", flat=True))
    return [(s, s.slug not in off) for s in catalog.CATALOG]


def enabled_strategy_slugs(*, section: Section) -> list[str]:
    return [s.slug for s, on in strategies_for_section(section=section) if on]


def planning_wanted(
    *, session: PracticeSession, session_item: SessionItem, rules: dict[str, RuleView] | None = None
) -> bool:
    """The planning card sits above the first item, once per session, if the class has it switched on.

    It is inline and optional, so it never adds a screen before practice.
    """
    if session_item.position != 1 or not session.is_open:
        return False
    if Reflection.objects.filter(session=session, kind=Reflection.Kind.PLANNING).exists():
        return False
    rules = rules or prompt_rules_for_section(section=session.section)
    return rules[PromptKind.PLANNING].enabled


# --- suggestions ------------------------------------------------------------------------------------------


def active_suggestion(*, student: User, section: Section) -> StrategySuggestion | None:
    """The accepted suggestion whose action shapes the student's practice now (the latest one)."""
    return (
        StrategySuggestion.objects.filter(
            student=student, section=section, status=StrategySuggestion.Status.ACCEPTED, ended_at__isnull=True
        )
        .order_by("-responded_at", "-id")
        .first()
    )


def suggestion_for_session(*, session: PracticeSession) -> StrategySuggestion | None:
    return StrategySuggestion.objects.filter(session=session).first()


_M = TypeVar("_M", bound=Model)


def _in_viewers_classes(qs: QuerySet[_M], *, student: User, viewer: User | None) -> QuerySet[_M]:
    """The student sees all of theirs; anyone else only what belongs to classes they may see."""
    if viewer is None or viewer.pk == student.pk:
        return qs
    return qs.filter(section__in=access.sections_visible_to(viewer))


def suggestions_for_student(*, student: User, viewer: User | None = None, limit: int = 50) -> list[StrategySuggestion]:
    qs = _in_viewers_classes(StrategySuggestion.objects.filter(student=student), student=student, viewer=viewer)
    return list(qs.select_related("section")[:limit])


def reflections_for_student(*, student: User, viewer: User | None = None, limit: int = 100) -> list[Reflection]:
    qs = _in_viewers_classes(Reflection.objects.filter(student=student), student=student, viewer=viewer)
    return list(qs.select_related("section", "skill", "session")[:limit])


def suggestions_in_organisation(*, student: User, organisation_id: int) -> QuerySet[StrategySuggestion]:
    """The student's suggestions in the organisation's classes, newest first (an API client's view)."""
    return (
        StrategySuggestion.objects.filter(student=student, section__organisation_id=organisation_id)
        .select_related("section")
        .order_by("-created_at", "-id")
    )


def reflections_in_organisation(*, student: User, organisation_id: int) -> QuerySet[Reflection]:
    """The student's reflections in the organisation's classes, newest first (an API client's view)."""
    return (
        Reflection.objects.filter(student=student, section__organisation_id=organisation_id)
        .select_related("skill")
        .order_by("-created_at", "-id")
    )


def reviews_for_student(*, student: User, viewer: User | None = None) -> list[ScheduledReview]:
    qs = ScheduledReview.objects.filter(student=student, done_at__isnull=True)
    qs = _in_viewers_classes(qs, student=student, viewer=viewer)
    return list(qs.prefetch_related("skills")[:10])


def reviews_due(*, student_id: int, section_id: int, now: datetime) -> list[tuple[ScheduledReview, set[int]]]:
    """The student's due, unfinished reviews in the class, each with the skills not yet practised since it
    came due. One query when none is due (the usual case), two otherwise."""
    due = list(
        ScheduledReview.objects.filter(
            student_id=student_id, section_id=section_id, done_at__isnull=True, due_at__lte=now
        ).prefetch_related("skills")
    )
    if not due:
        return []
    skill_ids = {skill.pk for review in due for skill in review.skills.all()}
    last_seen = dict(
        Attempt.objects.filter(
            student_id=student_id, skill_id__in=skill_ids, created_at__gte=min(r.due_at for r in due)
        )
        .values("skill_id")
        .annotate(last=Max("created_at"))
        .values_list("skill_id", "last")
    )
    return [
        (review, {s.pk for s in review.skills.all() if s.pk not in last_seen or last_seen[s.pk] < review.due_at})
        for review in due
    ]


def review_skills_due_at(*, student_id: int, section_id: int, now: datetime) -> list[tuple[int, datetime]]:
    """(skill, time the review came due) for the skills the scheduler should serve for reviews the student
    agreed to (see ``reviews_due``)."""
    return [
        (skill, review.due_at)
        for review, left in reviews_due(student_id=student_id, section_id=section_id, now=now)
        for skill in sorted(left)
    ]


# --- what the practice pages show -------------------------------------------------------------------------


def item_extras(*, session: PracticeSession, session_item: SessionItem) -> dict:
    """Inline prompt and strategy actions for the item page. Nothing here blocks answering."""
    rules = prompt_rules_for_section(section=session.section)
    suggestion = active_suggestion(student=session.student, section=session.section)
    strategy = catalog.BY_SLUG.get(suggestion.strategy) if suggestion else None
    action = strategy.action if strategy else ""
    worked = None
    if action == catalog.ACTION_WORKED_EXAMPLE:
        worked = (
            Item.objects.filter(skill_id=session_item.item.skill_id)
            .exclude(pk=session_item.item_id)
            .exclude(solution="")
            .order_by("difficulty", "pk")
            .first()
        )
    return {
        "mc_ask_plan": planning_wanted(session=session, session_item=session_item, rules=rules),
        "mc_catalog": catalog.CATALOG,
        "mc_strategy": strategy,
        "mc_explain_prompt": strategy.explain_prompt if strategy and action == catalog.ACTION_EXPLAIN_BOX else "",
        "mc_check_step": action == catalog.ACTION_CHECK_STEP,
        "mc_recall_first": action == catalog.ACTION_RECALL_FIRST,
        "mc_worked_example": worked,
    }


def check_step_required(*, session: PracticeSession) -> bool:
    suggestion = active_suggestion(student=session.student, section=session.section)
    return suggestion is not None and catalog.BY_SLUG[suggestion.strategy].action == catalog.ACTION_CHECK_STEP


def judgment_form(*, session_item: SessionItem) -> dict:
    """What the judgment-of-learning form needs, on the feedback and when it comes back with an error."""
    return {
        "mc_judgment_prompt": JUDGMENT_PROMPT.format(skill=session_item.item.skill.name),
        "mc_judgment_choices": JUDGMENT_CHOICES,
    }


def feedback_extras(*, session: PracticeSession, attempt: Attempt) -> dict:
    rules = prompt_rules_for_section(section=session.section)
    judgment = rules[PromptKind.JUDGMENT]
    si = attempt.session_item
    ask_judgment = (
        judgment.enabled
        and si is not None
        and si.position % max(1, judgment.every_n_items) == 0
        and not Reflection.objects.filter(session_item=si, kind=Reflection.Kind.JUDGMENT).exists()
    )
    suggestion = active_suggestion(student=session.student, section=session.section)
    action = catalog.BY_SLUG[suggestion.strategy].action if suggestion else ""
    ask_error = (
        rules[PromptKind.CONFIDENT_ERROR].enabled
        and not attempt.correct
        and attempt.confidence >= CONFIDENT
        and attempt.session_item_id is not None
        and not Reflection.objects.filter(
            session_item_id=attempt.session_item_id, kind=Reflection.Kind.CONFIDENT_ERROR
        ).exists()
    )
    running = None
    if action == catalog.ACTION_CALIBRATION_FEEDBACK:
        # The same judgment, on the same answers, as the summary will state after this answer.
        recent = _recent(student=session.student, section=session.section, until=attempt)
        j = calibration_judgment([a.confidence for a in recent], [a.correct for a in recent])
        running = JudgmentView.of(j, answers=_last_answers(YOU, j.n))
    nudge = False
    if action == catalog.ACTION_HINT_NUDGE and not attempt.correct:
        last_two = list(Attempt.objects.filter(session=session).order_by("-created_at", "-id")[:2])
        nudge = len(last_two) == 2 and not any(a.correct for a in last_two)
    return {
        **(judgment_form(session_item=si) if ask_judgment and si is not None else {}),
        "mc_ask_judgment": ask_judgment,
        "mc_ask_confident_error": ask_error,
        "mc_running": running,
        "mc_hint_nudge": nudge,
        "mc_open_solution": action == catalog.ACTION_OPEN_SOLUTION,
    }


def summary_extras(*, session: PracticeSession, viewer: User) -> dict:
    rules = prompt_rules_for_section(section=session.section)
    own = viewer.pk == session.student_id
    voice = voice_for(student=session.student, viewer=viewer)
    evaluation = Reflection.objects.filter(session=session, kind=Reflection.Kind.EVALUATION).first()
    summary_note = Reflection.objects.filter(session=session, kind=Reflection.Kind.SUMMARY).first()
    # The suggestion in force during this session: accepted before it started, not ended before it started.
    used = (
        StrategySuggestion.objects.filter(
            student_id=session.student_id,
            section_id=session.section_id,
            status=StrategySuggestion.Status.ACCEPTED,
            responded_at__lte=session.started_at,
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=session.started_at))
        .order_by("-responded_at", "-id")
        .first()
    )
    used_strategy = catalog.BY_SLUG.get(used.strategy) if used else None
    suggestion = suggestion_for_session(session=session)
    offered = suggestion is not None and suggestion.status == StrategySuggestion.Status.OFFERED
    return {
        "mc_calibration": calibration_for_session(session=session, voice=voice),
        "mc_suggestion": suggestion,
        # Accepting a new strategy ends the one in use: say so before the student chooses.
        "mc_in_use": active_suggestion(student=session.student, section=session.section) if own and offered else None,
        "mc_ask_evaluation": own and rules[PromptKind.EVALUATION].enabled and evaluation is None,
        "mc_evaluation": evaluation,
        "mc_summary_box": own
        and used_strategy is not None
        and used_strategy.action == catalog.ACTION_SUMMARY_BOX
        and summary_note is None,
        "mc_own": own,
        "mc_voice": voice,
    }
