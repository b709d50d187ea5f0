"""The strategy benchmark: every policy teaches the same simulated students at equal budget.

A run gives each student ``budget`` practice items in sessions of ``session_length``
items, ``session_gap_days`` apart (one minute between items), then a delayed post-test
``test_delay_days`` after the last session. The post-test is mixed (nothing cues which
skill an item needs), covers every skill in play at three difficulties, teaches nothing,
and is scored as the expected proportion correct (the students' hidden P(correct),
which removes the binomial noise of sampling a finite test without changing the mean).

Policies see only what a tutor would: the course structure, observed answers and their
timestamps. The benchmark drives them only through ``tutor.scheduling_api`` (the black-box
interface any other simulator can use): each step it hands over the history and the time and
presents the item it gets back. The same students (same traits, same random stream) meet
every policy, so differences are paired.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import tutor.scheduling_api as scheduling_api
from tutor.scheduling_api import CourseSpec, ItemSpec, Observation, PolicySettings, Scheduler, SkillSpec

from . import actr
from .model import MINUTE, SETTINGS, Response, SimSetting, SimSkill, SimulatedStudent, population

__all__ = [
    "ADAPTIVE",
    "BASELINES",
    "DEMO_COURSE",
    "SIMULATORS",
    "Episode",
    "PolicyResult",
    "benchmark",
    "calibration_histories",
    "effect_sizes",
    "mixed_test",
    "paired_difference",
    "run_episode",
    "students_of",
    "quiz_observed",
    "strongest_baseline",
    "trial_choice",
]

TEST_DIFFICULTIES = (0.3, 0.5, 0.7)
MASTERY = 0.8  # post-test P(correct) on a middling item at which a skill counts as mastered


# Every skill's item pool: one item per hundredth of difficulty over [0.1, 0.9], as generated items
# span the range. A policy that aims gets the unseen item nearest its target; one that does not
# gets a random unseen item (uniform difficulty), as a homework set hands them out.
POOL_DIFFICULTIES = tuple(round(0.1 + k / 100, 2) for k in range(81))


def _demo_course() -> tuple[list[SimSkill], CourseSpec]:
    """The demo course's ten skills (prerequisites and confusable pairs) for the simulator and the scheduler."""
    import tutor.generators as generators  # pure Python, no Django

    slugs = [s["slug"] for s in generators.DEMO_COURSE["skills"]]
    idx = {slug: i for i, slug in enumerate(slugs)}
    sim, skills = [], []
    pairs: set[tuple[int, int]] = set()
    for i, s in enumerate(generators.DEMO_COURSE["skills"]):
        pre = tuple(idx[p] for p in s.get("prerequisites", ()))
        conf = tuple(idx[c] for c in s.get("confusable_with", ()))
        sim.append(SimSkill(i, pre, conf))
        skills.append(SkillSpec(skill_id=i, name=s["name"], prerequisites=pre))
        pairs.update((min(i, c), max(i, c)) for c in conf)
    items = tuple(ItemSpec(f"{slugs[i]}-{d:.2f}", i, d) for i in range(len(slugs)) for d in POOL_DIFFICULTIES)
    return sim, CourseSpec(skills=tuple(skills), items=items, confusable_pairs=tuple(sorted(pairs)))


DEMO_COURSE = _demo_course()
# The adaptive policies (hand-tuned scores; expected gain; spread) and the simple rules they are compared with;
# the claims are made against the strongest simple rule.
ADAPTIVE = ("adaptive", "expected_gain", "spread")
BASELINES = tuple(name for name in scheduling_api.POLICY_NAMES if name not in ADAPTIVE)
# The student simulators a benchmark can run in: each name's settings, the first one its default.
# "metis" (model.py) is the world the policy was designed in; "actr" (actr.py) is from the literature.
SIMULATORS: dict[str, tuple[str, ...]] = {"metis": tuple(SETTINGS), "actr": tuple(actr.SETTINGS)}


class Student(Protocol):
    """What an episode needs of a simulated student, whichever simulator made it."""

    now: float

    def advance(self, days: float) -> None: ...

    def p_correct(self, skill_id: int, difficulty: float = 0.5) -> float: ...

    def present(self, skill_id: int, difficulty: float) -> actr.ActrResponse | Response: ...


@dataclass(frozen=True)
class Episode:
    """One student's outcome under one policy."""

    pre_test: float
    post_test: float
    mastered: int
    practice_accuracy: float


def mixed_test(student: Student, skill_ids: Sequence[int]) -> tuple[float, int]:
    """The mixed test, now: mean P(correct) over ``skill_ids`` at ``TEST_DIFFICULTIES``, and skills mastered."""
    scores = [statistics.fmean(student.p_correct(k, d) for d in TEST_DIFFICULTIES) for k in skill_ids]
    mastered = sum(1 for k in skill_ids if student.p_correct(k, 0.5) >= MASTERY)
    return statistics.fmean(scores), mastered


def skills_in_play(course: CourseSpec, settings: PolicySettings | None) -> list[int]:
    """The skills a run teaches and tests: the class's skills in play, or the whole course."""
    chosen = None if settings is None else settings.skills_in_play
    return [s.skill_id for s in course.skills if chosen is None or s.skill_id in chosen]


def run_episode(
    student: Student,
    policy: str,
    *,
    course: CourseSpec,
    budget: int,
    session_length: int = 20,
    session_gap_days: float = 2.0,
    test_delay_days: float = 7.0,
    settings: PolicySettings | None = None,
    rng: random.Random | None = None,
    record: list[Observation] | None = None,
) -> Episode:
    """Teach ``student`` with ``policy`` for ``budget`` items, then post-test after the delay.

    With ``record`` the student's answers are appended to it (what a tutor would have logged).
    """
    settings = settings or PolicySettings()
    in_play = skills_in_play(course, settings)
    pre, _ = mixed_test(student, in_play)
    scheduler = Scheduler(
        course,
        policy=policy,
        settings=settings,
        block_length=max(1, math.ceil(budget / len(in_play))),
        rng=rng or random.Random(0),
    )
    history: list[Observation] = []
    correct = 0
    for i in range(budget):
        if i and i % session_length == 0:
            student.advance(session_gap_days)
        elif i:
            student.advance(MINUTE)
        now = student.now
        decision = scheduler.next_item(history, now=now)
        response = student.present(decision.skill_id, decision.difficulty)
        history.append(
            Observation(decision.item_id, decision.skill_id, response.correct, now, confidence=response.confidence)
        )
        correct += response.correct
    if record is not None:
        record.extend(history)
    student.advance(test_delay_days)
    post, mastered = mixed_test(student, in_play)
    return Episode(pre_test=pre, post_test=post, mastered=mastered, practice_accuracy=correct / max(1, budget))


@dataclass
class PolicyResult:
    """Summary of one policy over a population, with 95 % confidence intervals (normal approximation)."""

    policy: str
    n: int
    post_test: float
    post_test_ci: tuple[float, float]
    mastered: float
    mastered_ci: tuple[float, float]
    efficiency: float  # post-test points gained over the pre-test, per 100 practice items
    efficiency_ci: tuple[float, float]
    practice_accuracy: float
    episodes: list[Episode] = field(repr=False, default_factory=list)
    detail: dict = field(default_factory=dict)  # the trial: which rule it chose and on what evidence

    def as_dict(self) -> dict:
        return {
            **self.detail,
            "n": self.n,
            "post_test": round(self.post_test, 4),
            "post_test_ci": [round(x, 4) for x in self.post_test_ci],
            "skills_mastered": round(self.mastered, 3),
            "skills_mastered_ci": [round(x, 3) for x in self.mastered_ci],
            "efficiency": round(self.efficiency, 3),
            "efficiency_ci": [round(x, 3) for x in self.efficiency_ci],
            "practice_accuracy": round(self.practice_accuracy, 4),
        }


def _mean_ci(xs: Sequence[float]) -> tuple[float, tuple[float, float]]:
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return m, (m, m)
    half = 1.96 * statistics.stdev(xs) / math.sqrt(len(xs))
    return m, (m - half, m + half)


def summarise(policy: str, episodes: list[Episode], budget: int) -> PolicyResult:
    post, post_ci = _mean_ci([e.post_test for e in episodes])
    mastered, mastered_ci = _mean_ci([float(e.mastered) for e in episodes])
    eff, eff_ci = _mean_ci([100.0 * (e.post_test - e.pre_test) * 100.0 / budget for e in episodes])
    return PolicyResult(
        policy=policy,
        n=len(episodes),
        post_test=post,
        post_test_ci=post_ci,
        mastered=mastered,
        mastered_ci=mastered_ci,
        efficiency=eff,
        efficiency_ci=eff_ci,
        practice_accuracy=statistics.fmean(e.practice_accuracy for e in episodes),
        episodes=episodes,
    )


def paired_difference(a: PolicyResult, b: PolicyResult) -> tuple[float, tuple[float, float]]:
    """Post-test difference a - b in points over the same students, with a paired 95 % CI."""
    diffs = [100.0 * (x.post_test - y.post_test) for x, y in zip(a.episodes, b.episodes, strict=True)]
    return _mean_ci(diffs)


def strongest_baseline(results: dict[str, PolicyResult]) -> str | None:
    """The simple rule with the best mean delayed post-test among ``results`` (None when none ran)."""
    ran = [name for name in results if name in BASELINES]
    return max(ran, key=lambda name: results[name].post_test) if ran else None


def students_of(
    simulator: str,
    setting: str | SimSetting | actr.ActrSetting,
    *,
    n: int,
    seed: int,
    start: int = 0,
    course: tuple[list[SimSkill], CourseSpec] | None = None,
) -> Sequence[Student]:
    """Students ``start .. start+n-1`` of one world of ``simulator``, on ``course`` (the demo course when None).

    The actr students see only the course's skill ids, never its confusable pairs.
    """
    sim_skills, course_spec = course or DEMO_COURSE
    if simulator == "actr":
        assert not isinstance(setting, SimSetting)
        skill_ids = [s.skill_id for s in course_spec.skills]
        return actr.population(n=n, skill_ids=skill_ids, setting=setting, seed=seed, start=start)
    assert not isinstance(setting, actr.ActrSetting)
    return population(n=n, skills=sim_skills, setting=setting, seed=seed, start=start)


def benchmark(
    *,
    policies_to_run: Sequence[str],
    students: int,
    budget: int,
    seed: int = 0,
    setting: str | SimSetting | actr.ActrSetting | None = None,
    simulator: str = "metis",
    session_length: int = 20,
    session_gap_days: float = 2.0,
    test_delay_days: float = 7.0,
    policy_settings: PolicySettings | None = None,
    course: tuple[list[SimSkill], CourseSpec] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    learn_contrasts: int = 0,
    trial: int = 0,
) -> dict[str, PolicyResult]:
    """Run each policy on the same ``students`` simulated students (fresh copies per policy).

    ``simulator`` picks the student model ("metis" or "actr"); ``setting`` one of its worlds (its
    first when None). The actr students see only the course's skill ids, never its confusable pairs.

    With ``learn_contrasts`` > 0, that many *other* students of the same world (indices from
    ``CALIBRATION_START``, never the ones tested) first practise under shuffled_round_robin+target,
    as a tutor would collect answers before it has learned anything; ``learn_contrast_weights`` reads
    their answers, and the course every policy then meets carries the learned weights (only spread
    reads them).

    With ``trial`` > 0 (and ``learn_contrasts``), a pilot picks the rule, as a tutor could before it
    teaches a course's students: ``trial`` more students (from ``TRIAL_START``) are split between the
    ``TRIAL_RULES`` other than the calibration's own, each practises under its rule, and every pilot
    student (the calibration cohort included) takes a quiz before practice and another after the
    test delay, answered, not read off the simulator (``quiz_observed``). The rule with the best quiz
    after, adjusted for the quiz before (``trial_choice``), is the one the tested students meet,
    reported as policy ``"trial"`` with its choice and the quiz means in ``detail``.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; choose from {', '.join(SIMULATORS)}")
    setting = SIMULATORS[simulator][0] if setting is None else setting
    if isinstance(setting, str) and setting not in SIMULATORS[simulator]:
        raise ValueError(f"simulator {simulator!r} has no setting {setting!r}; choose from {SIMULATORS[simulator]}")
    sim_skills, course_spec = course or DEMO_COURSE

    def group_of(n: int, start: int) -> Sequence[Student]:
        return students_of(simulator, setting, n=n, seed=seed, start=start, course=(sim_skills, course_spec))

    if trial > 0 and learn_contrasts <= 0:
        raise ValueError("a trial needs a calibration cohort (learn_contrasts > 0): it is the trial's shuffled arm")
    in_play = skills_in_play(course_spec, policy_settings)

    def teach(student: Student, rule: str, rng: random.Random) -> Episode:
        """One student taught under ``rule`` on the run's course (with the learned weights, once learned) and
        settings, then tested after the delay."""
        return run_episode(
            student,
            rule,
            course=course_spec,
            budget=budget,
            session_length=session_length,
            session_gap_days=session_gap_days,
            test_delay_days=test_delay_days,
            settings=policy_settings,
            rng=rng,
        )

    quizzes: dict[str, list[tuple[float, float]]] = {}  # rule -> (quiz before, quiz after) per pilot student
    if learn_contrasts > 0:
        calibration = group_of(learn_contrasts, CALIBRATION_START)
        before = [
            quiz_observed(student, in_play, random.Random(f"pre-quiz-{seed}-{j}"))
            for j, student in enumerate(calibration)
        ]
        course_spec = replace(
            course_spec,
            contrast_weights=scheduling_api.learn_contrast_weights(
                course_spec,
                calibration_histories(
                    calibration,
                    course=course_spec,
                    budget=budget,
                    seed=seed,
                    session_length=session_length,
                    session_gap_days=session_gap_days,
                    test_delay_days=test_delay_days,
                    settings=policy_settings,
                    progress=progress,
                ),
            ),
        )
        if trial > 0:
            quizzes[CALIBRATION_POLICY] = [
                (before[j], quiz_observed(student, in_play, random.Random(f"quiz-{seed}-{j}")))
                for j, student in enumerate(calibration)
            ]
    if trial > 0:
        arms = [rule for rule in TRIAL_RULES if rule != CALIBRATION_POLICY]
        for j, student in enumerate(group_of(trial, TRIAL_START)):
            rule = arms[j % len(arms)]
            pre = quiz_observed(student, in_play, random.Random(f"pre-quiz-trial-{seed}-{j}"))
            teach(student, rule, random.Random(f"trial-{seed}-{j}"))
            quizzes.setdefault(rule, []).append(
                (pre, quiz_observed(student, in_play, random.Random(f"quiz-trial-{seed}-{j}")))
            )
            if progress is not None and ((j + 1) % 50 == 0 or j + 1 == trial):
                progress("trial", j + 1, trial)
    adjusted = trial_choice(quizzes) if quizzes else {}
    chosen = max(TRIAL_RULES, key=lambda rule: adjusted[rule]) if adjusted else None
    results: dict[str, PolicyResult] = {}
    to_run = list(policies_to_run)
    if chosen is not None and chosen not in to_run:
        to_run.append(chosen)
    for name in to_run:
        if name not in scheduling_api.POLICY_NAMES:
            raise ValueError(f"unknown policy {name!r}; choose from {', '.join(scheduling_api.POLICY_NAMES)}")
        episodes = []
        # Chunks keep memory flat; student i is identical for every policy (same seed, same index).
        chunk = 200
        for start in range(0, students, chunk):
            group = group_of(min(chunk, students - start), start)
            for j, student in enumerate(group):
                episodes.append(teach(student, name, random.Random(f"policy-{seed}-{start + j}")))
                if progress is not None and (len(episodes) % 50 == 0 or len(episodes) == students):
                    progress(name, len(episodes), students)
        results[name] = summarise(name, episodes, budget)
    if chosen is not None:
        picked = results[chosen] if chosen in policies_to_run else results.pop(chosen)
        results["trial"] = replace(
            picked,
            policy="trial",
            detail={
                "chose": chosen,
                "quiz": {
                    rule: {
                        "n": len(quizzes[rule]),
                        "before": round(statistics.fmean(b for b, _ in quizzes[rule]), 4),
                        "mean": round(statistics.fmean(a for _, a in quizzes[rule]), 4),
                        "adjusted": round(adjusted[rule], 4),
                    }
                    for rule in TRIAL_RULES
                },
            },
        )
    return results


# The trial's pilot students are numbered from here: neither the tested students nor the calibration cohort.
TRIAL_START = 2_000_000
# The rules a trial chooses between: the strongest simple rules of each simulator (round robin, one item or two at a
# time, in model.py; shuffled round robin under ACT-R) and spread with learned pairs.
TRIAL_RULES = ("round_robin+target", "round_robin_pairs+target", "shuffled_round_robin+target", "spread")


def trial_choice(quizzes: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    """Each arm's mean quiz after practice, adjusted for the quiz before it (analysis of covariance).

    The arms are different students, so a lucky arm can look better than its rule is; the quiz before
    practice measures how strong each arm's students were to begin with. The adjustment uses one slope
    pooled within arms: adjusted = mean after - slope * (arm's mean before - everyone's mean before).
    """
    pooled_before = statistics.fmean(b for pairs in quizzes.values() for b, _ in pairs)
    sxy = sxx = 0.0
    means = {}
    for rule, pairs in quizzes.items():
        mb, ma = statistics.fmean(b for b, _ in pairs), statistics.fmean(a for _, a in pairs)
        means[rule] = (mb, ma)
        sxy += sum((b - mb) * (a - ma) for b, a in pairs)
        sxx += sum((b - mb) ** 2 for b, _ in pairs)
    slope = sxy / sxx if sxx > 0 else 0.0
    return {rule: ma - slope * (mb - pooled_before) for rule, (mb, ma) in means.items()}


def quiz_observed(student: Student, skill_ids: Sequence[int], rng: random.Random) -> float:
    """A quiz as a tutor would see it: one answer per skill at each ``TEST_DIFFICULTIES``, right or wrong.

    Each answer is drawn from the student's P(correct) now and teaches nothing (a measurement); the
    fraction right is what the tutor observes, never the probability itself.
    """
    answers = [rng.random() < student.p_correct(k, d) for k in skill_ids for d in TEST_DIFFICULTIES]
    return sum(answers) / len(answers)


# The calibration cohort's students are numbered from here: never the students a benchmark tests.
CALIBRATION_START = 1_000_000
CALIBRATION_POLICY = "shuffled_round_robin+target"


def calibration_histories(
    group: Sequence[Student],
    *,
    course: CourseSpec,
    budget: int,
    seed: int,
    session_length: int = 20,
    session_gap_days: float = 2.0,
    test_delay_days: float = 7.0,
    settings: PolicySettings | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[list[Observation]]:
    """Each student of ``group`` practises ``budget`` items under ``CALIBRATION_POLICY``; their answers, as logged."""
    out: list[list[Observation]] = []
    for j, student in enumerate(group):
        history: list[Observation] = []
        run_episode(
            student,
            CALIBRATION_POLICY,
            course=course,
            budget=budget,
            session_length=session_length,
            session_gap_days=session_gap_days,
            test_delay_days=test_delay_days,
            settings=settings,
            rng=random.Random(f"calibration-{seed}-{j}"),
            record=history,
        )
        out.append(history)
        if progress is not None and ((j + 1) % 50 == 0 or j + 1 == len(group)):
            progress("calibration", j + 1, len(group))
    return out


# --- the simulator's documented effects -------------------------------------------------------


def hedges_g(treatment: Sequence[float], control: Sequence[float]) -> float:
    """Standardised mean difference with the small-sample correction (Hedges 1981)."""
    n1, n2 = len(treatment), len(control)
    s1, s2 = statistics.variance(treatment), statistics.variance(control)
    pooled = math.sqrt(((n1 - 1) * s1 + (n2 - 1) * s2) / (n1 + n2 - 2))
    d = (statistics.fmean(treatment) - statistics.fmean(control)) / pooled if pooled > 0 else 0.0
    return d * (1 - 3 / (4 * (n1 + n2) - 9))


def _scores(
    students: list[SimulatedStudent], plan: Callable[[SimulatedStudent], list[int]], delay: float
) -> list[float]:
    """Each student follows ``plan`` (it presents items itself), then takes a delayed mixed test."""
    out = []
    for s in students:
        tested = plan(s)
        s.advance(delay)
        out.append(statistics.fmean(s.p_correct(k, d) for k in tested for d in TEST_DIFFICULTIES))
    return out


def effect_sizes(*, setting: str | SimSetting = "maths", n: int = 400, seed: int = 0) -> dict[str, float]:
    """Re-create two classic experiments inside the simulator and report Hedges' g.

    * spacing: 6 retrieval-practice items on one skill, massed in one session vs one a day,
      tested 7 days after the last one (Latimier et al. 2021 report g = 0.74);
    * interleaving: two confusable skills, 8 items each, in blocks (AAAA...BBBB) vs
      alternating, in one session, tested a day later (Brunmair & Richter 2019: g = 0.34 for
      maths; negative for vocabulary-like material, where the pairs are not confusable).
    """
    world = SETTINGS[setting] if isinstance(setting, str) else setting
    one = [SimSkill(0)]
    pair = [SimSkill(0, (), (1,)), SimSkill(1, (), (0,))]

    def massed(s: SimulatedStudent) -> list[int]:
        for _ in range(6):
            s.present(0, 0.5)
            s.advance(MINUTE)
        return [0]

    def spaced(s: SimulatedStudent) -> list[int]:
        for i in range(6):
            s.present(0, 0.5)
            if i < 5:
                s.advance(1.0)
        return [0]

    def blocks(s: SimulatedStudent) -> list[int]:
        for k in (0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1):
            s.present(k, 0.5)
            s.advance(MINUTE)
        return [0, 1]

    def mixed(s: SimulatedStudent) -> list[int]:
        for k in (0, 1) * 8:
            s.present(k, 0.5)
            s.advance(MINUTE)
        return [0, 1]

    def pop(skills: list[SimSkill], offset: int) -> list[SimulatedStudent]:
        return population(n=n, skills=skills, setting=world, seed=seed + offset)

    return {
        "spacing_g": hedges_g(_scores(pop(one, 1), spaced, 7.0), _scores(pop(one, 1), massed, 7.0)),
        "interleaving_g": hedges_g(_scores(pop(pair, 2), mixed, 1.0), _scores(pop(pair, 2), blocks, 1.0)),
    }
