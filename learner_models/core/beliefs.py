"""What a served learner model believes about one student, read off their state with what-if questions.

Every figure is the model's own prediction, asked in a way a teacher or the strategy engine can use:

* ``mastery[k]``: P(correct) on an average item of skill k now;
* ``uncertainty[k]``: how much the ensemble's members disagree on it (their standard deviation), when the
  model is an ensemble; None otherwise;
* ``ability``: how far this student's predictions sit above (or below) a brand-new student's on the same
  skills, in log-odds, averaged over the skills asked about;
* ``learning_speed[k]``: how much one more practice answer on skill k is expected to raise its P (the
  average over a right and a wrong answer, weighted by how likely each is), for models that continue a
  state answer by answer;
* ``forgetting[k]``: how much P on skill k falls if the student stays away ``away_s`` seconds, for models
  that read the clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import LearnerModel, State
from .data import StudentSequence

WEEK_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class StudentBeliefs:
    skill_ids: list[int]
    mastery: np.ndarray  # (K,) P(correct) now
    uncertainty: np.ndarray | None  # (K,) sd of the members' P, or None (not an ensemble)
    ability: float  # mean log-odds above a new student on these skills
    learning_speed: np.ndarray | None  # (K,) expected rise in P from one more answer, or None
    forgetting: np.ndarray | None  # (K,) fall in P after `away_s` without practice, or None
    away_s: float

    def figures(self, k: int) -> tuple[float, float | None, float | None, float | None]:
        """Skill ``k``'s (mastery, uncertainty, learning speed, forgetting) as floats, None where not estimated."""

        def at(a: np.ndarray | None) -> float | None:
            return None if a is None else float(a[k])

        return float(self.mastery[k]), at(self.uncertainty), at(self.learning_speed), at(self.forgetting)

    def as_dict(self) -> dict:
        def rnd(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        names = ("mastery", "uncertainty", "learning_speed", "forgetting")
        return {
            "ability": round(self.ability, 4),
            "away_days": round(self.away_s / 86400, 2),
            "skills": [
                {"skill_id": s, **{n: rnd(x) for n, x in zip(names, self.figures(k), strict=True)}}
                for k, s in enumerate(self.skill_ids)
            ],
        }


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def student_beliefs(
    model: LearnerModel,
    state: State,
    skill_ids: Sequence[int],
    *,
    now: float | None = None,
    away_s: float = WEEK_S,
) -> StudentBeliefs:
    """The model's beliefs about the student whose state is ``state``, on ``skill_ids``, at ``now`` (seconds)."""
    skills = [int(s) for s in skill_ids]
    mastery = model.predict(state, skills, now=now).astype(np.float64)
    members = model.member_predict(state, skills, now=now)
    uncertainty = None if members is None else members.std(0)
    new = model.predict(model.adapt([StudentSequence(np.zeros(0, np.int64), np.zeros(0, np.int64))])[0], skills)
    ability = float(np.mean(_logit(mastery) - _logit(new.astype(np.float64)))) if skills else 0.0

    speed: np.ndarray | None = np.zeros(len(skills))
    stamp = None if now is None else np.array([now], dtype=np.float64)
    for k, s in enumerate(skills):
        after = []
        for y in (1, 0):
            one = StudentSequence(np.array([s], np.int64), np.array([y], np.int64), timestamps=stamp)
            nxt = model.extend(state, one)
            if nxt is None:  # a family that re-adapts from the whole history cannot answer cheaply
                break
            after.append(float(model.predict(nxt, [s], now=now)[0]))
        if len(after) < 2:
            speed = None
            break
        p = mastery[k]
        assert speed is not None
        speed[k] = p * after[0] + (1 - p) * after[1] - p

    forgetting = None
    if model.uses_clock and now is not None and not math.isnan(now):
        forgetting = mastery - model.predict(state, skills, now=now + away_s).astype(np.float64)
    return StudentBeliefs(skills, mastery, uncertainty, ability, speed, forgetting, away_s)
