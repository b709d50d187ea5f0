"""Reads behind "Can I trust the model?": the active learner model's predictions set against what the
class's students then did, per band of prediction and per skill, and how much it has seen of each student.

Predictions are not stored with the answers, so they are rebuilt here as the model made them: each answer
predicted from the same student's earlier answers only (``LearnerModel.predict_online``). Only answers given
after the model's training data was cut off are scored (answers the model trained on would flatter it), and
only answers given in this class are shown. A fixed number of queries, whatever the size of the class.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet

from learner_models import loader
from learner_models.core import Response, StudentSequence
from learner_models.mappers import ATTEMPT_FIELDS, response_from_row
from learner_models.models import ModelVersion
from learner_models.selectors import active_model_version
from metacog.calibration import wilson_interval

from .models import Attempt, Section, Skill, User

logger = logging.getLogger(__name__)

BANDS = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0)]
MIN_FOR_VERDICT = 10  # scored answers before a skill or student gets a verdict
# How much the model has seen of a student, in words (as the student's own progress page words it).
_SEEN = [(3, "a first guess"), (8, "a rough picture"), (20, "a fair picture"), (float("inf"), "a clear picture")]


@dataclass
class Tally:
    """Predictions and outcomes of a group of scored answers."""

    n: int = 0
    right: int = 0
    p_sum: float = 0.0
    sq_sum: float = 0.0  # summed (prediction - outcome)^2, for the Brier score

    def add(self, p: float, correct: bool) -> None:
        self.n += 1
        self.right += int(correct)
        self.p_sum += p
        self.sq_sum += (p - float(correct)) ** 2

    @property
    def predicted(self) -> float | None:
        return self.p_sum / self.n if self.n else None

    @property
    def accuracy(self) -> float | None:
        return self.right / self.n if self.n else None

    @property
    def interval(self) -> tuple[float | None, float | None]:
        return wilson_interval(self.right, self.n)

    @property
    def brier(self) -> float | None:
        return self.sq_sum / self.n if self.n else None

    @property
    def verdict(self) -> str:
        """Whether the model's average prediction falls inside the 95 % interval of what happened."""
        if self.n < MIN_FOR_VERDICT:
            return "too few answers to tell"
        low, high = self.interval
        assert low is not None and high is not None and self.predicted is not None
        if self.predicted > high:
            return "too optimistic"
        if self.predicted < low:
            return "too pessimistic"
        return "matches what happened"


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    tally: Tally

    @property
    def label(self) -> str:
        return f"{round(100 * self.low)}–{round(100 * self.high)} %"

    # reliability diagram geometry: a 0..100 box, y grows downwards
    @property
    def x(self) -> float:
        return round(100 * (self.tally.predicted or 0.0), 1)

    @property
    def y(self) -> float:
        return round(100 - 100 * (self.tally.accuracy or 0.0), 1)

    @property
    def y_low(self) -> float:
        return round(100 - 100 * (self.tally.interval[0] or 0.0), 1)

    @property
    def y_high(self) -> float:
        return round(100 - 100 * (self.tally.interval[1] or 0.0), 1)


@dataclass(frozen=True)
class SkillTrust:
    skill: Skill
    tally: Tally


@dataclass
class StudentTrust:
    student: User
    name: str
    n_class: int = 0  # answers in this class the model has read
    has_state: bool = False
    tally: Tally = field(default_factory=Tally)

    @property
    def seen_words(self) -> str:
        if self.n_class == 0:
            return "nothing yet: it predicts from the whole population"
        return next(w for below, w in _SEEN if self.n_class < below)


@dataclass(frozen=True)
class ModelTrust:
    section: Section
    version: ModelVersion | None
    problem: str  # why there is nothing to show, in plain words; "" when there is
    overall: Tally
    bands: list[Band]
    skills: list[SkillTrust]
    students: list[StudentTrust]
    n_before_cutoff: int  # answers in this class the model trained on (not scored)
    min_for_verdict: int = MIN_FOR_VERDICT

    @property
    def baseline_brier(self) -> float | None:
        """The Brier score of predicting the class's overall share right for every answer."""
        acc = self.overall.accuracy
        return None if acc is None else acc * (1 - acc)


def model_trust_for_section(*, section: Section, students: QuerySet[User]) -> ModelTrust:
    people = list(students)
    rows = {s.pk: StudentTrust(student=s, name=s.get_full_name() or s.username) for s in people}
    skills = list(Skill.objects.filter(course_id=section.course_id).order_by("position", "slug"))

    def empty(version: ModelVersion | None, problem: str) -> ModelTrust:
        return ModelTrust(section, version, problem, Tally(), [], [], list(rows.values()), 0)

    version = active_model_version()
    if version is None:
        return empty(None, "No learner model is active, so there are no model predictions to check.")
    cutoff = version.training_run.cutoff_attempt_id

    # Every answer of these students in answer order: the model reads all of them (as it does when serving),
    # and only this class's answers are scored and shown.
    by_student: dict[int, list[Response]] = defaultdict(list)
    scored: dict[int, list[tuple[int, int, bool]]] = defaultdict(list)  # student -> (position, skill, correct)
    n_before = 0
    answers = (
        Attempt.objects.filter(student_id__in=list(rows))
        .order_by("student_id", "created_at", "id")
        .values_list(*ATTEMPT_FIELDS, "session__section_id")
    )
    for row in answers:
        attempt_id, sid, section_id = row[0], row[1], row[-1]
        seq = by_student[sid]
        if section_id == section.pk:
            rows[sid].n_class += 1
            if attempt_id > cutoff:
                scored[sid].append((len(seq), row[2], row[4]))
            else:
                n_before += 1
        seq.append(response_from_row(row[:-1]))  # as the model reads attempts when serving (times included)
    for sid in version.student_states.filter(student_id__in=list(rows)).values_list("student_id", flat=True):
        rows[sid].has_state = True

    ids = [sid for sid in scored if scored[sid]]
    try:
        model = loader.load_model(version)
        preds = model.predict_online([StudentSequence.from_responses(by_student[sid]) for sid in ids]) if ids else []
    except Exception:  # a broken checkpoint must not take the page down
        logger.exception("learner-model predictions failed for the trust panel of class %s", section.pk)
        return empty(version, f"The model (version {version.pk}) could not be loaded, so nothing can be checked.")

    overall = Tally()
    bands = [Band(lo, hi, Tally()) for lo, hi in BANDS]
    per_skill: dict[int, Tally] = defaultdict(Tally)
    for sid, p_all in zip(ids, preds, strict=True):
        for position, skill_id, correct in scored[sid]:
            p = float(p_all[position])
            overall.add(p, correct)
            bands[min(len(BANDS) - 1, int(p * len(BANDS)))].tally.add(p, correct)
            per_skill[skill_id].add(p, correct)
            rows[sid].tally.add(p, correct)

    return ModelTrust(
        section=section,
        version=version,
        problem=""
        if overall.n
        else "No answer in this class came after the model was trained, so none can check it yet.",
        overall=overall,
        bands=[b for b in bands if b.tally.n],
        skills=[SkillTrust(s, per_skill[s.pk]) for s in skills if per_skill[s.pk].n],
        students=sorted(rows.values(), key=lambda r: (r.n_class, r.name)),
        n_before_cutoff=n_before,
    )
