"""Reads behind a teacher's page about one student in one class: learning curves, calibration over time,
answers with the scheduler's reason, reflections and strategies, and the estimate per skill in words.

Only answers given in this class count (``tutor.access``: a teacher sees what a student did in their own
classes). A fixed number of queries, whatever the number of answers, skills or classmates.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from metacog import selectors as metacog_selectors
from metacog.calibration import VERDICT_LABELS, CalibrationJudgment, calibration_judgment_from_totals, wilson_interval
from metacog.models import Reflection, StrategySuggestion

from . import dashboard_selectors
from .answers import correct_answer_display
from .dashboard_selectors import Cell, Flag
from .models import Attempt, PracticeSession, Section, Skill, User
from .selectors import model_beliefs_for_student

CURVE_BINS = 8  # at most this many points per learning curve
MIN_BIN = 3  # answers per point, at least (one answer is right or wrong, not a rate)
LATEST = 50  # answers listed one by one
# chart geometry, in SVG units: the plot area is x 44..286, y 10..110 (0 % at the bottom)
_X0, _X1, _Y0, _Y1 = 44.0, 286.0, 110.0, 10.0


def _x(i: int, n: int) -> float:
    return round(_X0 + (_X1 - _X0) * (i / (n - 1) if n > 1 else 0.5), 1)


def _y(share: float) -> float:
    return round(_Y0 - (_Y0 - _Y1) * share, 1)


@dataclass(frozen=True)
class CurvePoint:
    label: str  # "answers 1–3" on this skill
    first: int
    last: int
    n: int
    right: int
    x: float
    y: float
    y_low: float  # the 95 % interval of the share right, as SVG y
    y_high: float

    @property
    def accuracy(self) -> float:
        return self.right / self.n


@dataclass(frozen=True)
class SkillCurve:
    skill: Skill
    n: int
    right: int
    points: list[CurvePoint]
    cell: Cell  # the estimate now, as the class overview shows it

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def estimate_words(self) -> str:
        """The estimate with what it is and what it rests on, in one sentence."""
        c = self.cell
        if c.p is None:
            return "No estimate yet: no answers on this skill in this class."
        source = (
            "the learner model's prediction from everything it has seen of this student"
            if c.from_model
            else f"the scheduler's estimate from the {c.n} answer{'s' if c.n != 1 else ''} in this class, "
            "allowing for forgetting since the last practice"
        )
        return f"Chance of a right answer on the next question: {round(100 * c.p)} % ({source})."


@dataclass(frozen=True)
class SessionCalibration:
    session: PracticeSession
    judgment: CalibrationJudgment
    x: float
    y_confidence: float
    y_accuracy: float

    @property
    def verdict(self) -> str:
        return VERDICT_LABELS[self.judgment.verdict]

    @property
    def square(self) -> tuple[float, float]:
        """Top-left corner of the confidence marker, a 6-unit square centred on the point."""
        return round(self.x - 3, 1), round(self.y_confidence - 3, 1)


@dataclass(frozen=True)
class AnswerRow:
    attempt: Attempt
    correct_answer: str

    @property
    def seconds(self) -> float | None:
        ms = self.attempt.response_time_ms
        return None if ms is None else round(ms / 1000, 1)


def _points(x: float) -> str:
    """A change in probability as signed percentage points, in words."""
    v = round(100 * x)
    return "no change" if v == 0 else f"{v:+d} points"


@dataclass(frozen=True)
class SkillBelief:
    skill: Skill
    p: float  # chance of a right answer now
    spread: float | None  # sd of the ensemble members' p
    speed: float | None  # expected rise from one more answer
    forgetting: float | None  # fall after a week away

    @property
    def speed_words(self) -> str:
        return "not estimated" if self.speed is None else _points(self.speed)

    @property
    def forgetting_words(self) -> str:
        return "not estimated" if self.forgetting is None else _points(-self.forgetting)


@dataclass(frozen=True)
class ModelBeliefs:
    """What the active learner model believes about the student, on the skills they practised in this class."""

    ability: float  # log-odds above a new student
    skills: list[SkillBelief]

    @property
    def ability_words(self) -> str:
        a = self.ability
        if a > 1.0:
            return "well above"
        if a > 0.3:
            return "above"
        if a >= -0.3:
            return "about level with"
        return "below" if a >= -1.0 else "well below"


def _model_beliefs(student: User, skills: list[Skill]) -> ModelBeliefs | None:
    if not skills:
        return None
    got = model_beliefs_for_student(student=student, skill_ids=[s.pk for s in skills])
    if got is None:  # no active model, or it failed (logged): the estimates above remain
        return None
    return ModelBeliefs(ability=got.ability, skills=[SkillBelief(s, *got.figures(k)) for k, s in enumerate(skills)])


@dataclass(frozen=True)
class StudentPage:
    section: Section
    student: User
    name: str
    n_answers: int
    n_right: int
    calibration: CalibrationJudgment
    flags: list[Flag]
    curves: list[SkillCurve]  # practised skills, in course order
    unpractised: list[SkillCurve]
    sessions: list[SessionCalibration]  # oldest first
    answers: list[AnswerRow]  # newest first, at most LATEST
    reflections: list[Reflection]
    suggestions: list[StrategySuggestion]
    model_version: int | None
    beliefs: ModelBeliefs | None = None
    latest: int = LATEST

    @property
    def calibration_verdict(self) -> str:
        return VERDICT_LABELS[self.calibration.verdict]

    @property
    def sessions_confidence_line(self) -> str:
        return " ".join(f"{s.x},{s.y_confidence}" for s in self.sessions)

    @property
    def sessions_accuracy_line(self) -> str:
        return " ".join(f"{s.x},{s.y_accuracy}" for s in self.sessions)


def _curve_points(outcomes: list[bool]) -> list[CurvePoint]:
    """Share right by answer number on the skill, in consecutive groups of answers (the last group takes
    the remainder), so a point is a rate rather than a single right or wrong."""
    n = len(outcomes)
    size = max(MIN_BIN, math.ceil(n / CURVE_BINS))
    groups = [(i, min(i + size, n)) for i in range(0, n, size)]
    if len(groups) > 1 and groups[-1][1] - groups[-1][0] < MIN_BIN:  # fold a short tail into the group before
        groups[-2:] = [(groups[-2][0], n)]
    points = []
    for j, (a, b) in enumerate(groups):
        right = sum(outcomes[a:b])
        low, high = wilson_interval(right, b - a)
        points.append(
            CurvePoint(
                label=f"answers {a + 1}–{b}" if b - a > 1 else f"answer {a + 1}",
                first=a + 1,
                last=b,
                n=b - a,
                right=right,
                x=_x(j, len(groups)),
                y=_y(right / (b - a)),
                y_low=_y(low or 0.0),
                y_high=_y(high or 0.0),
            )
        )
    return points


def student_page_for_section(
    *,
    section: Section,
    student: User,
    viewer: User,
    students: QuerySet[User],
    now: datetime | None = None,
    classmates: QuerySet[User] | None = None,
) -> StudentPage:
    """Everything the student page shows. ``students`` is the one-student queryset the viewer may see (the
    class overview's reads are reused for the estimate and the flags, so both pages say the same), and
    ``classmates`` the class's students the viewer may see, whom the flags compare the student with."""
    overview = dashboard_selectors.class_overview_for_section(
        section=section, students=students, now=now, classmates=classmates
    )
    row = overview.rows[0]
    cells = {s.pk: c for s, c in zip(overview.skills, row.cells, strict=True)}

    mine = Attempt.objects.filter(student=student, session__section_id=section.pk)
    outcomes: dict[int, list[bool]] = defaultdict(list)
    per_session: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for skill_id, correct, confidence, session_id in mine.order_by("created_at", "id").values_list(
        "skill_id", "correct", "confidence", "session_id"
    ):
        outcomes[skill_id].append(correct)
        per_session[session_id].append((confidence, correct))

    curves: list[SkillCurve] = []
    unpractised: list[SkillCurve] = []
    for skill in overview.skills:
        got = outcomes.get(skill.pk, [])
        curve = SkillCurve(skill, len(got), sum(got), _curve_points(got) if got else [], cells[skill.pk])
        (curves if got else unpractised).append(curve)

    session_objs = sorted(PracticeSession.objects.filter(pk__in=list(per_session)), key=lambda s: (s.started_at, s.pk))
    sessions = []
    for i, s in enumerate(session_objs):
        pairs = per_session[s.pk]
        j = calibration_judgment_from_totals(
            n=len(pairs), k=sum(1 for _, c in pairs if c), confidence_sum=sum(c for c, _ in pairs)
        )
        assert j.mean_confidence is not None and j.accuracy is not None  # every session here has answers
        sessions.append(SessionCalibration(s, j, _x(i, len(session_objs)), _y(j.mean_confidence), _y(j.accuracy)))

    answers = [
        AnswerRow(a, _correct_answer(a))
        for a in mine.select_related("item", "skill", "session_item").order_by("-created_at", "-id")[:LATEST]
    ]
    # The metacognition app's own reads (already confined to the viewer's classes), narrowed to this class.
    reflections = [
        r
        for r in metacog_selectors.reflections_for_student(student=student, viewer=viewer)
        if r.section_id == section.pk
    ]
    suggestions = [
        s
        for s in metacog_selectors.suggestions_for_student(student=student, viewer=viewer)
        if s.section_id == section.pk
    ]
    return StudentPage(
        section=section,
        student=student,
        name=row.name,
        n_answers=row.n_answers,
        n_right=row.n_correct,
        calibration=row.calibration or calibration_judgment_from_totals(n=0, k=0, confidence_sum=0.0),
        flags=row.flags,
        curves=curves,
        unpractised=unpractised,
        sessions=sessions,
        answers=answers,
        reflections=reflections,
        suggestions=suggestions,
        model_version=overview.model_version,
        beliefs=_model_beliefs(student, [c.skill for c in curves]),
    )


def _correct_answer(attempt: Attempt) -> str:
    try:
        return correct_answer_display(attempt.item.item_type, attempt.item.answer)
    except ValueError:  # an item whose answer spec no longer validates: the rest of the row still shows
        return ""
