"""Reads of the practice domain, shaped for pages, commands and the API."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince

from learner_models.core.beliefs import StudentBeliefs
from learner_models.models import ModelVersion
from learner_models.selectors import active_model_version, beliefs_for_student, skill_predictions_for_student
from metacog.models import Reflection, StrategySuggestion
from metacog.selectors import (
    CalibrationSummary,
    calibration_summary_for_student,
    reflections_in_organisation,
    reviews_for_student,
    suggestions_in_organisation,
)

from . import access, policies, scheduler
from .answers import correct_answer_display
from .content_format import ContentSpec, CourseSpec, ItemSpec, SkillSpec
from .models import (
    ApiClient,
    Attempt,
    Course,
    Enrollment,
    Item,
    LearnedContrasts,
    Organisation,
    PracticeSession,
    Section,
    Skill,
    User,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkillSummary:
    name: str
    attempts: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class SessionSummary:
    attempts: int
    correct: int
    mean_confidence: float | None
    hints_used: int
    skills: list[SkillSummary]

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.attempts if self.attempts else None


def session_summary(*, session: PracticeSession) -> SessionSummary:
    attempts = Attempt.objects.filter(session=session)
    totals = attempts.aggregate(
        n=Count("id"),
        n_correct=Count("id", filter=Q(correct=True)),
        conf=Avg("confidence"),
        hints=Count("id", filter=Q(hints_used__gt=0)),
    )
    per_skill = (
        attempts.values("skill__name", "skill__position")
        .annotate(n=Count("id"), n_correct=Count("id", filter=Q(correct=True)))
        .order_by("skill__position", "skill__name")
    )
    return SessionSummary(
        attempts=totals["n"],
        correct=totals["n_correct"],
        mean_confidence=totals["conf"],
        hints_used=totals["hints"],
        skills=[SkillSummary(r["skill__name"], r["n"], r["n_correct"]) for r in per_skill],
    )


def sessions_for_student(*, student: User, limit: int = 10) -> list[PracticeSession]:
    return list(
        PracticeSession.objects.filter(student=student)
        .select_related("section")
        .annotate(n=Count("attempts"), n_correct=Count("attempts", filter=Q(attempts__correct=True)))
        .order_by("-started_at")[:limit]
    )


def sections_for_student(*, student: User) -> list[Section]:
    return list(Section.objects.filter(enrollments__student=student).select_related("course").order_by("name"))


def content_export(*, course: Course) -> ContentSpec:
    """The course as authored content (generated items are left out: generators recreate them)."""
    skills = list(course.skills.prefetch_related("prerequisites", "confusable_with").order_by("position", "slug"))
    items = course.items.filter(source="authored").select_related("skill").order_by("skill__position", "slug")
    return ContentSpec(
        course=CourseSpec(slug=course.slug, title=course.title, description=course.description),
        skills=tuple(
            SkillSpec(
                slug=s.slug,
                name=s.name,
                description=s.description,
                prerequisites=tuple(sorted(p.slug for p in s.prerequisites.all())),
                confusable_with=tuple(sorted(c.slug for c in s.confusable_with.all())),
            )
            for s in skills
        ),
        items=tuple(
            ItemSpec(
                slug=i.slug,
                skill=i.skill.slug,
                type=i.item_type,
                prompt=i.prompt,
                answer=i.answer,
                hints=tuple(i.hints),
                solution=i.solution,
                difficulty=i.difficulty,
            )
            for i in items
        ),
    )


def attempts_for_student(*, student: User, viewer: User, limit: int = 50) -> list[Attempt]:
    """The student's latest attempts that ``viewer`` may see (a teacher: those made in their classes), with
    the scheduler's reason for each item (teacher drill-down)."""
    return list(
        access.attempts_visible_to(viewer)
        .filter(student=student)
        .select_related("item", "skill", "session_item")
        .order_by("-created_at", "-id")[:limit]
    )


# --- a student's own progress ------------------------------------------------------------------

ANSWERS_PER_PAGE = 50
_POLICY = policies.PolicySettings()  # the scheduler's thresholds: mastery, when a practised skill is due
# P(correct) in words; "solid" is the scheduler's mastery, the other cut points are for the words only.
_LEVELS = [(_POLICY.mastery, "solid"), (0.7, "good"), (0.5, "getting there"), (-math.inf, "needs practice")]
# How much an estimate from n answers is worth, in words (its uncertainty shrinks like 1/sqrt(1 + n)).
_CERTAINTY = [(3, "a first guess"), (8, "a rough guess"), (20, "a fair picture"), (math.inf, "a clear picture")]


@dataclass(frozen=True)
class SkillProgress:
    """One skill as its student sees it: the scheduler's estimate in plain words, and their own record."""

    skill_id: int
    name: str
    answers: int
    correct: int
    last_practised: datetime | None
    p_correct: float  # P(correct) now on a middling item, as the scheduler sees it
    from_model: bool  # the learner model's prediction (else the estimate from the answers alone)
    recall: float  # the estimated share of what was learned still remembered
    review_reason: str  # why the skill is due for review, in plain words; "" when it is not
    now: datetime

    @property
    def started(self) -> bool:
        return self.answers > 0

    @property
    def review_due(self) -> bool:
        return bool(self.review_reason)

    @property
    def percent(self) -> int:
        return round(100 * self.p_correct)

    @property
    def accuracy_percent(self) -> int | None:
        return round(100 * self.correct / self.answers) if self.answers else None

    @property
    def level(self) -> str:
        if not self.answers:
            return "not started"
        return next(words for at_least, words in _LEVELS if self.p_correct >= at_least)

    @property
    def certainty(self) -> str:
        """How much the estimate rests on: the uncertainty of the estimate shrinks with the answers."""
        n = self.answers
        if n == 0:
            return "No answers yet: nothing to go on."
        words = next(w for below, w in _CERTAINTY if n < below)
        return f"Based on {n} answer{'s' if n != 1 else ''}: {words}."

    @property
    def last_practised_words(self) -> str:
        if self.last_practised is None:
            return "never"
        if (self.now - self.last_practised).total_seconds() < 60:
            return "just now"
        return f"{timesince(self.last_practised, self.now, depth=1)} ago"


@dataclass(frozen=True)
class CourseProgress:
    title: str
    skills: list[SkillProgress]
    course_id: int


@dataclass(frozen=True)
class AnswerRow:
    """One past answer with what the student saw afterwards."""

    at: datetime
    skill: str
    prompt: str
    answer: str
    correct_answer: str
    correct: bool
    confidence_percent: int
    hints_used: int
    feedback: str


@dataclass(frozen=True)
class StudentProgress:
    courses: list[CourseProgress]
    due: list[SkillProgress]
    answers: list[AnswerRow]
    page: Page

    @property
    def from_model(self) -> bool:
        return any(s.from_model for c in self.courses for s in c.skills)


def _review_reasons(
    *, student: User, views: dict[int, policies.SkillView], last: dict[int, datetime], now: datetime
) -> dict[int, str]:
    """Skills due for review, as the scheduler decides: reviews the student agreed to that are due and not
    yet practised since, then practised skills whose predicted recall fell under the policy's threshold."""
    reasons: dict[int, str] = {}
    for review in reviews_for_student(student=student):
        if review.due_at > now:
            continue
        for skill in review.skills.all():
            seen = last.get(skill.pk)
            if skill.pk in views and (seen is None or seen < review.due_at):
                reasons.setdefault(
                    skill.pk, f"You planned to review it on {date_format(timezone.localtime(review.due_at), 'j M')}."
                )
    for skill_id, view in views.items():
        if skill_id not in reasons and view.n_attempts and view.recall < _POLICY.review_below:
            reasons[skill_id] = "It is a while since you practised it: you may have forgotten some."
    return reasons


def _answer_row(attempt: Attempt) -> AnswerRow:
    item = attempt.item
    try:
        correct_answer = correct_answer_display(item.item_type, item.answer)
    except ValueError:  # an item whose answer spec no longer validates: show the rest of the row
        correct_answer = ""
    return AnswerRow(
        at=attempt.created_at,
        skill=attempt.skill.name,
        prompt=item.prompt,
        answer=attempt.answer,
        correct_answer=correct_answer,
        correct=attempt.correct,
        confidence_percent=round(100 * attempt.confidence),
        hints_used=attempt.hints_used,
        feedback=attempt.feedback,
    )


def progress_for_student(*, student: User, page: int | str | None = 1) -> StudentProgress:
    """The student's progress on every skill of the courses they are enrolled in, and one page of their answers.

    The estimate is the one the scheduler acts on (``tutor.scheduler``): the learner model's P(correct) when a
    model is active, else the estimate from the student's own answers with forgetting; recall and "due for
    review" come from the same estimate. A fixed number of queries, whatever the number of skills or answers.
    """
    now = timezone.now()
    skills = list(
        Skill.objects.filter(course_id__in=access.sections_visible_to(student).values("course_id"))
        .select_related("course")
        .order_by("course__title", "course_id", "position", "slug")
    )
    skill_ids = [s.pk for s in skills]
    record = {
        row["skill_id"]: row
        for row in Attempt.objects.filter(student=student, skill_id__in=skill_ids)
        .values("skill_id")
        .annotate(n=Count("id"), n_correct=Count("id", filter=Q(correct=True)), last=Max("created_at"))
    }
    estimator = scheduler.skill_estimator_for_student(student_id=student.pk, skill_ids=skill_ids)
    predictions: dict[int, float] | None = None
    if skill_ids:
        try:
            predictions = skill_predictions_for_student(student=student, skill_ids=skill_ids)
        except Exception:  # as in the scheduler: a broken model must not hide the page
            logger.exception("learner-model predictions failed for student %s; using the fallback", student.pk)
    structure = [policies.SkillView(skill_id=s.pk, name=s.name, position=s.position) for s in skills]
    views = {
        v.skill_id: v
        for v in policies.views_from_estimator(
            estimator, structure, now=now.timestamp() / scheduler.DAY_S, predictions=predictions
        )
    }
    last = {sid: row["last"] for sid, row in record.items()}
    reasons = _review_reasons(student=student, views=views, last=last, now=now)

    courses: dict[int, CourseProgress] = {}
    for skill in skills:
        view, row = views[skill.pk], record.get(skill.pk, {})
        progress = SkillProgress(
            skill_id=skill.pk,
            name=skill.name,
            answers=row.get("n", 0),
            correct=row.get("n_correct", 0),
            last_practised=row.get("last"),
            p_correct=view.p_correct,
            from_model=predictions is not None and skill.pk in predictions,
            recall=view.recall,
            review_reason=reasons.get(skill.pk, ""),
            now=now,
        )
        courses.setdefault(
            skill.course_id, CourseProgress(title=skill.course.title, skills=[], course_id=skill.course_id)
        ).skills.append(progress)
    all_skills = [s for c in courses.values() for s in c.skills]

    attempts = Attempt.objects.filter(student=student).select_related("item", "skill").order_by("-created_at", "-id")
    answers_page = Paginator(attempts, ANSWERS_PER_PAGE).get_page(page)
    return StudentProgress(
        courses=list(courses.values()),
        due=[s for s in all_skills if s.review_due],
        answers=[_answer_row(a) for a in answers_page],
        page=answers_page,
    )


# --- the API: everything inside the client's organisation (tutor.access), in a stable order for paging ---


def organisations_for_client(*, client: ApiClient) -> QuerySet[Organisation]:
    return access.organisations_visible_to_client(client).order_by("pk")


def sections_for_client(*, client: ApiClient, course: str | None = None) -> QuerySet[Section]:
    qs = access.sections_visible_to_client(client).select_related("course")
    if course:
        qs = qs.filter(course__slug=course)
    return qs.order_by("pk")


def students_for_client(
    *, client: ApiClient, external_id: str | None = None, section_id: int | None = None
) -> QuerySet[User]:
    qs = access.students_visible_to_client(client)
    if external_id is not None:
        qs = qs.filter(external_id=external_id)
    if section_id is not None:
        qs = qs.filter(enrollments__section_id=section_id)
    return qs.order_by("pk")


def enrollments_for_client(
    *, client: ApiClient, section_id: int | None = None, student_external_id: str | None = None
) -> QuerySet[Enrollment]:
    qs = access.enrollments_visible_to_client(client).select_related("student")
    if section_id is not None:
        qs = qs.filter(section_id=section_id)
    if student_external_id is not None:
        qs = qs.filter(student__external_id=student_external_id)
    return qs.order_by("pk")


def courses_for_client(*, client: ApiClient) -> QuerySet[Course]:
    return access.courses_visible_to_client(client).order_by("pk")


def skills_for_client(*, client: ApiClient, course: str | None = None) -> QuerySet[Skill]:
    qs = access.skills_visible_to_client(client).prefetch_related("prerequisites")
    if course:
        qs = qs.filter(course__slug=course)
    return qs.order_by("pk")


def items_for_client(*, client: ApiClient, course: str | None = None, skill_id: int | None = None) -> QuerySet[Item]:
    qs = access.items_visible_to_client(client)
    if course:
        qs = qs.filter(course__slug=course)
    if skill_id is not None:
        qs = qs.filter(skill_id=skill_id)
    return qs.order_by("pk")


def attempts_for_client(
    *,
    client: ApiClient,
    student_external_id: str | None = None,
    since: datetime | None = None,
    section_id: int | None = None,
) -> QuerySet[Attempt]:
    """Attempts of the organisation's students, oldest first; ``since`` is inclusive (answered at or after)."""
    qs = access.attempts_visible_to_client(client).select_related("student", "session")
    if student_external_id is not None:
        qs = qs.filter(student__external_id=student_external_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if section_id is not None:
        qs = qs.filter(session__section_id=section_id)
    return qs.order_by("created_at", "pk")


@dataclass(frozen=True)
class SkillMastery:
    skill: SkillProgress
    course_id: int
    mastered: bool  # at or above the scheduler's mastery threshold
    # what the active model believes (None on the fallback, or where the model cannot say)
    uncertainty: float | None = None  # sd of the ensemble members' p_correct
    learning_speed: float | None = None  # expected rise in p_correct from one more answer
    forgetting: float | None = None  # fall in p_correct after a week without practice


@dataclass(frozen=True)
class StudentMastery:
    """Per skill, the estimate the scheduler acts on, and where it came from: ``learner_model`` (the active
    model version's prediction) or ``fallback`` (the estimate from the student's own answers)."""

    student: User
    source: str
    model_version: ModelVersion | None
    mastery_threshold: float
    skills: list[SkillMastery]
    ability: float | None = None  # the model's log-odds above a new student on these skills


def model_beliefs_for_student(*, student: User, skill_ids: list[int]) -> StudentBeliefs | None:
    """What the active learner model believes about the student on these skills; None when no model is active
    or it fails (logged): a broken checkpoint must not take a page or a read down with it."""
    try:
        return beliefs_for_student(student=student, skill_ids=skill_ids)
    except Exception:
        logger.exception("learner model beliefs failed for student %s", student.pk)
        return None


def _with_beliefs(student: User, rows: list[SkillMastery]) -> tuple[list[SkillMastery], float | None]:
    """``rows`` with the active model's beliefs about the student; unchanged (and None) if it cannot say."""
    got = model_beliefs_for_student(student=student, skill_ids=[r.skill.skill_id for r in rows])
    if got is None:
        return rows, None
    out = []
    for k, r in enumerate(rows):
        _, uncertainty, speed, forgetting = got.figures(k)
        out.append(
            SkillMastery(
                skill=r.skill,
                course_id=r.course_id,
                mastered=r.mastered,
                uncertainty=uncertainty,
                learning_speed=speed,
                forgetting=forgetting,
            )
        )
    return out, got.ability


def mastery_for_student(*, student: User) -> StudentMastery:
    """The student's skills in the courses of their classes, as ``progress_for_student`` (and the scheduler)
    estimate them. A model that fails to predict leaves every skill on the fallback, and says so."""
    version = active_model_version()
    progress = progress_for_student(student=student)
    rows = [
        SkillMastery(skill=s, course_id=c.course_id, mastered=s.p_correct >= _POLICY.mastery)
        for c in progress.courses
        for s in c.skills
    ]
    from_model = bool(rows) and all(r.skill.from_model for r in rows)
    ability = None
    if from_model:
        rows, ability = _with_beliefs(student, rows)
    return StudentMastery(
        student=student,
        source="learner_model" if from_model else "fallback",
        model_version=version if from_model else None,
        mastery_threshold=_POLICY.mastery,
        skills=rows,
        ability=ability,
    )


def suggestions_for_client(*, client: ApiClient, student: User) -> QuerySet[StrategySuggestion]:
    return suggestions_in_organisation(student=student, organisation_id=client.organisation_id)


def reflections_for_client(*, client: ApiClient, student: User) -> QuerySet[Reflection]:
    return reflections_in_organisation(student=student, organisation_id=client.organisation_id)


def calibration_for_client(*, client: ApiClient, student: User) -> CalibrationSummary:
    """All the student's answers: a student of the client's organisation gives every answer there."""
    if student.organisation_id != client.organisation_id:
        raise LookupError("not this client's student")
    return calibration_summary_for_student(student=student)


@dataclass(frozen=True)
class ConfusedPairs:
    """What the spread rule has learned about a course: the pairs that stand out, strongest first."""

    pairs: list[tuple[str, str, float]]  # (skill name, skill name, weight); weight >= SPREAD_OFTEN_CONFUSED
    compared: int  # pairs compared in all
    students: int
    answers: int
    learned_at: datetime


def confused_pairs_for_course(*, course: Course) -> ConfusedPairs | None:
    """The course's learned confusable pairs for the class settings page; None before any were learned."""
    row = LearnedContrasts.objects.filter(course=course).first()
    if row is None:
        return None
    names = dict(course.skills.values_list("pk", "name"))
    pairs = sorted(
        (
            (names[a], names[b], float(w))
            for a, b, w in row.weights
            if w >= policies.SPREAD_OFTEN_CONFUSED and a in names and b in names
        ),
        key=lambda p: -p[2],
    )
    return ConfusedPairs(pairs, len(row.weights), row.students, row.answers, row.learned_at)
