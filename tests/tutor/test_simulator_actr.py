"""The ACT-R student simulator (Pavlik & Anderson's memory model plus our discrimination component)."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

import pytest

from tutor.scheduling_api import CourseSpec
from tutor.simulator import actr, bench
from tutor.simulator.model import MINUTE

SECOND = 1.0 / 86400


def _student(setting: actr.ActrSetting, *, alpha: float, skills: int = 1) -> actr.ActrStudent:
    ids = list(range(skills))
    return actr.ActrStudent(
        traits=actr.ActrTraits(alpha=alpha, beta=0.0, beta_skill=(0.0,) * skills),
        skill_ids=ids,
        similarity=actr.similarities(ids, setting=setting, seed=0),
        setting=setting,
        rng=random.Random(0),
    )


def test_activation_and_recall_match_the_formula_by_hand():
    """Traces at 0 s and 100 s, read at 200 s, with c = 0.25, alpha = 0.2, tau = -0.704, s = 0.255.

    d1 = alpha = 0.2; m(100) = ln(100^-0.2) = -0.921034; d2 = 0.25 e^-0.921034 + 0.2 = 0.299527;
    m(200) = ln(200^-0.2 + 100^-0.299527) = ln(0.346572 + 0.251727) = -0.513648;
    p = 1 / (1 + e^((-0.704 + 0.513648) / 0.255)) = 0.678411.
    """
    s = _student(replace(actr.SETTINGS["published"], c=0.25), alpha=0.2)
    s.present(0, 0.5)
    s.advance(100 * SECOND)
    assert s.activation(0) == pytest.approx(-0.921034, abs=1e-6)
    s.present(0, 0.5)
    s.advance(100 * SECOND)
    assert s.activation(0) == pytest.approx(-0.513648, abs=1e-6)
    assert s.recall(0, 0.5) == pytest.approx(0.678411, abs=1e-6)
    # A harder item raises the threshold by 4 s (difficulty - 0.5): 0.255 at difficulty 0.75.
    assert s.recall(0, 0.75) == pytest.approx(1 / (1 + 2.718281828 ** ((-0.704 + 0.255 + 0.513648) / 0.255)))


def test_time_between_sessions_runs_at_the_psychological_rate_h():
    s = _student(actr.SETTINGS["published"], alpha=0.2)
    s.advance(30 * MINUTE)  # within a session: the clock
    assert s.psych == pytest.approx(1800.0)
    s.advance(2.0)  # a break: h = 0.025 of it
    assert s.psych == pytest.approx(1800.0 + 2 * 86400 * 0.025)


def test_same_seed_same_students_and_answers():
    def answers(seed: int) -> list[bool]:
        out = []
        for s in actr.population(n=5, skill_ids=[0, 1, 2], seed=seed):
            for k in (0, 1, 2, 0, 1, 2, 0):
                out.append(s.present(k, 0.5).correct)
                s.advance(MINUTE)
        return out

    assert answers(4) == answers(4)
    assert answers(4) != answers(5)
    a = actr.population(n=3, skill_ids=[0, 1], seed=4, start=10)[2]
    b = actr.population(n=13, skill_ids=[0, 1], seed=4)[12]
    assert a.traits == b.traits  # student i is the same whichever chunk builds them


def test_spacing_beats_massing_at_a_delayed_test():
    """Six practices one a day beat six a minute apart, tested a week after the last (no tuning: it emerges)."""

    def delayed(gap: float) -> float:
        scores = []
        for s in actr.population(n=100, skill_ids=[0], seed=2):
            for i in range(6):
                s.present(0, 0.5)
                if i < 5:
                    s.advance(gap)
            s.advance(7.0)
            scores.append(s.p_correct(0, 0.5))
        return statistics.fmean(scores)

    massed, spaced = delayed(MINUTE), delayed(1.0)
    assert spaced > massed + 0.1


def test_contrasting_similar_skills_reduces_confusion():
    setting = replace(actr.SETTINGS["published"], similarity_a=50.0, similarity_b=1.0)  # near-identical skills

    def intrusion(order: tuple[int, ...]) -> float:
        s = _student(setting, alpha=0.177, skills=2)
        for k in order:
            s.present(k, 0.5)
            s.advance(MINUTE)
        return s.p_intrusion(0)

    assert intrusion((0, 1) * 6) < intrusion((0,) * 6 + (1,) * 6)


def test_similarity_ignores_the_courses_declared_confusable_pairs():
    """Shuffled (or no) declared pairs: the same students, the same answers, the same post-test."""
    sim_skills, course = bench.DEMO_COURSE
    ids = [s.skill_id for s in course.skills]
    rng = random.Random(0)
    shuffled = tuple(sorted({tuple(sorted(rng.sample(ids, 2))) for _ in range(len(course.confusable_pairs))}))
    results = []
    for pairs in (course.confusable_pairs, shuffled, ()):
        spec = CourseSpec(skills=course.skills, items=course.items, confusable_pairs=pairs)  # type: ignore[arg-type]
        res = bench.benchmark(
            policies_to_run=["random"], students=4, budget=30, seed=3, simulator="actr", course=(sim_skills, spec)
        )
        results.append([(e.post_test, e.practice_accuracy) for e in res["random"].episodes])
    assert results[0] == results[1] == results[2]
    assert actr.similarities(ids, setting=actr.SETTINGS["published"], seed=3) == actr.similarities(
        ids, setting=actr.SETTINGS["published"], seed=3
    )


def test_simulate_runs_in_the_actr_simulator_and_rejects_the_other_worlds():
    import json
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "simulate", "--simulator", "actr", "--compare", "--students", "4", "--budget", "20", "--json", stdout=out,
        stderr=StringIO(),
    )  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["simulator"] == "actr" and data["setting"] == "published"
    assert set(data["policies"]) == set(bench.BASELINES) | set(bench.ADAPTIVE)
    assert data["strongest_baseline"] in bench.BASELINES
    with pytest.raises(CommandError):
        call_command("simulate", "--simulator", "actr", "--setting", "maths", "--students", "2", "--budget", "2")


def test_learning_contrasts_first_teaches_other_students_and_changes_only_spread():
    """A calibration cohort (other students of the same world) is taught first; the tested students still meet
    every policy afresh, so the simple rules' results are unchanged and only spread reads the learned weights."""
    import json
    from io import StringIO

    from django.core.management import CommandError, call_command

    seen: list[tuple[str, int, int]] = []
    kwargs = {"students": 6, "budget": 40, "seed": 2, "simulator": "actr", "setting": "similar"}
    policies = ["spread", "shuffled_round_robin+target", "round_robin+target"]
    plain = bench.benchmark(policies_to_run=policies, **kwargs)
    learned = bench.benchmark(
        policies_to_run=policies, learn_contrasts=30, progress=lambda *a: seen.append(a), **kwargs
    )
    for name in ("shuffled_round_robin+target", "round_robin+target"):
        assert learned[name].episodes == plain[name].episodes
    assert learned["spread"].episodes != plain["spread"].episodes
    assert ("calibration", 30, 30) in seen
    # The calibration students are never the tested ones: the cohort starts far past any test index.
    group = actr.population(n=2, skill_ids=list(range(10)), setting="similar", seed=2, start=bench.CALIBRATION_START)
    assert group[0].traits != actr.population(n=1, skill_ids=list(range(10)), setting="similar", seed=2)[0].traits

    out = StringIO()
    call_command(
        "simulate", "--simulator", "actr", "--compare", "--policies", "spread,shuffled_round_robin+target",
        "--students", "3", "--budget", "20", "--learn-contrasts", "10", "--json", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    assert json.loads(out.getvalue())["learn_contrasts"] == 10
    with pytest.raises(CommandError, match="--learn-contrasts must be 0 or more"):
        call_command("simulate", "--students", "2", "--budget", "2", "--learn-contrasts", "-1")


def test_a_pilot_trial_picks_the_rule_with_the_best_observed_quiz():
    """The trial's pilot (the calibration cohort on the shuffled rule, more students split between the other
    rules) takes an answered quiz; the best quiz picks what the tested students meet, and that is the rule's
    own result on them."""
    import json
    from io import StringIO

    from django.core.management import CommandError, call_command

    kwargs = {"students": 6, "budget": 40, "seed": 3, "simulator": "actr", "setting": "published"}
    seen: list[tuple[str, int, int]] = []
    run = bench.benchmark(
        policies_to_run=["spread", "round_robin+target"],
        learn_contrasts=20,
        trial=9,
        progress=lambda *a: seen.append(a),
        **kwargs,
    )
    detail = run["trial"].detail
    quiz = detail["quiz"]
    assert {rule: q["n"] for rule, q in quiz.items()} == {
        "round_robin+target": 3,
        "round_robin_pairs+target": 3,
        "shuffled_round_robin+target": 20,
        "spread": 3,
    }
    assert detail["chose"] == max(quiz, key=lambda rule: quiz[rule]["adjusted"])
    assert ("trial", 9, 9) in seen
    if detail["chose"] in run:  # the tested students meet the chosen rule itself
        assert run["trial"].episodes == run[detail["chose"]].episodes
    else:  # it ran for the trial only and is not reported twice
        assert set(run) == {"spread", "round_robin+target", "trial"}
    # Pilot students are neither tested nor calibration students.
    pilot = actr.population(n=1, skill_ids=list(range(10)), setting="published", seed=3, start=bench.TRIAL_START)
    assert pilot[0].traits != actr.population(n=1, skill_ids=list(range(10)), setting="published", seed=3)[0].traits
    with pytest.raises(ValueError, match="calibration cohort"):
        bench.benchmark(policies_to_run=["spread"], trial=4, **kwargs)

    out = StringIO()
    call_command(
        "simulate", "--simulator", "actr", "--compare", "--policies", "spread,round_robin+target",
        "--students", "3", "--budget", "20", "--learn-contrasts", "6", "--trial", "4", "--json",
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["trial"] == 4 and data["policies"]["trial"]["chose"] in bench.TRIAL_RULES
    assert "trial-round_robin+target" in data["differences"]
    with pytest.raises(CommandError, match="needs --learn-contrasts"):
        call_command("simulate", "--students", "2", "--budget", "2", "--trial", "5")


def test_the_quiz_is_answered_not_read_and_teaches_nothing():
    student = _student(actr.SETTINGS["published"], alpha=0.3, skills=3)
    for k in (0, 1, 2, 0):
        student.present(k, 0.5)
        student.advance(MINUTE)
    before = [student.p_correct(k, 0.5) for k in range(3)]
    scores = [bench.quiz_observed(student, [0, 1, 2], random.Random(i)) for i in range(200)]
    assert [student.p_correct(k, 0.5) for k in range(3)] == before
    assert {round(9 * s) for s in scores} <= set(range(10)), "a fraction of nine answers"
    expected = statistics.fmean(student.p_correct(k, d) for k in range(3) for d in bench.TEST_DIFFICULTIES)
    assert abs(statistics.fmean(scores) - expected) < 0.05
    assert len(set(scores)) > 1


def test_the_trial_adjusts_for_how_strong_each_arms_students_were():
    """Arm "lucky" drew stronger students and ends higher; arm "better" gains more from the same start."""
    lucky = [(0.6 + e, 0.7 + e) for e in (-0.05, 0.0, 0.05)]  # +0.1 from 0.6
    better = [(0.4 + e, 0.6 + e) for e in (-0.05, 0.0, 0.05)]  # +0.2 from 0.4
    adjusted = bench.trial_choice({"lucky": lucky, "better": better})
    assert adjusted["better"] > adjusted["lucky"]
    assert adjusted == pytest.approx({"lucky": 0.6, "better": 0.7})
    assert statistics.fmean(a for _, a in lucky) > statistics.fmean(a for _, a in better), "raw means mislead"
