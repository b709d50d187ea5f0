"""The strategy simulator: a suggested strategy changes how the simulated student learns, and the hidden
effect structures differ as declared. Small populations, common random numbers: fast."""

from __future__ import annotations

import random

import numpy as np
import pytest

from metacog import strategy_sim as sim
from metacog.catalog import SLUGS
from tutor.simulator import population


def _cohort(n=40, seed=11):
    return population(n=n, skills=sim.skills_default(), seed=seed)


def _practise(strategy, effect, *, n=40, sessions=3, seed=11):
    """Each student: one warm-up session, then ``sessions`` with the strategy; returns students and answers."""
    students = _cohort(n, seed)
    answers = []
    for i, s in enumerate(students):
        rng = random.Random(f"test-{i}")
        sim.session_run(s, session=0, rng=rng)
        s.advance(1.0)
        for j in range(sessions):
            answers += sim.session_run(s, session=1 + j, rng=rng, strategy=strategy, effect=effect)
            s.advance(1.0)
    return students, answers


def test_retrieval_practice_leaves_more_at_the_delayed_test():
    with_it, _ = _practise("practice_testing", 0.5)
    without, _ = _practise(None, 0.0)
    gain = np.array([sim.post_test(a) - sim.post_test(b) for a, b in zip(with_it, without, strict=True)])
    assert gain.mean() > 2.0  # points, a week later
    harmful, _ = _practise("practice_testing", -0.6)  # a negative effect for this student slows learning
    assert np.mean([sim.post_test(a) for a in harmful]) < np.mean([sim.post_test(b) for b in without])


def test_spacing_changes_when_the_student_returns():
    s = _cohort(1)[0]
    answers = sim.session_run(s, session=0, rng=random.Random(1), strategy="spacing", effect=0.4)
    assert s.now >= 1.0  # the second half came a day later
    half = len(answers) // 2
    assert [a.skill for a in answers[:half]] == [a.skill for a in answers[half:]]
    plain = _cohort(1)[0]
    sim.session_run(plain, session=0, rng=random.Random(1))
    assert plain.now < 0.1


def test_calibration_check_brings_confidence_closer_to_accuracy():
    def over_confidence(strategy, effect):
        students, answers = _practise(strategy, effect, n=60, sessions=1)
        per_student = [answers[8 * i : 8 * i + 8] for i, s in enumerate(students) if s.traits.confidence_bias > 0.8]
        assert len(per_student) >= 8
        return np.mean([np.mean([a.confidence - a.correct for a in ans]) for ans in per_student])

    plain = over_confidence(None, 0.0)
    assert plain > 0.1  # these students are sure of more than they get right
    assert over_confidence("calibration_check", 0.5) < plain - 0.08


def test_self_explanation_cuts_errors_on_confusable_items():
    _, explained = _practise("self_explanation", 0.5, n=60)
    _, plain = _practise(None, 0.0, n=60)
    assert np.mean([not a.correct for a in explained]) < np.mean([not a.correct for a in plain]) - 0.02


def test_interleaving_alternates_confusable_skills_and_the_parameters_are_restored():
    s = _cohort(1)[0]
    setting, traits = s.setting, s.traits
    answers = sim.session_run(s, session=0, rng=random.Random(2), strategy="interleaving", effect=0.3)
    pairs = {("skill-0", "skill-1"), ("skill-1", "skill-0"), ("skill-2", "skill-3"), ("skill-3", "skill-2")}
    assert all((a.skill, b.skill) in pairs for a, b in zip(answers[::2], answers[1::2], strict=True))
    assert s.setting is setting and s.traits is traits  # the strategy's change lasts one session
    with pytest.raises(KeyError, match="mars"):
        sim.session_run(s, session=1, rng=random.Random(2), strategy="mars")


def test_structures_differ_as_declared():
    student = _cohort(1, seed=5)[0]
    idio = sim.idiosyncratic(seed=5, student=0)
    e = {name: sim.effects_now(student, st, idio) for name, st in sim.STRUCTURES.items()}
    g = np.array([sim.EFFECTS[s].g for s in SLUGS])
    assert np.allclose(e["none"], g + idio)  # no moderation
    assert np.allclose(e["halved"] - e["none"], 0.5 * (e["linear"] - e["none"]))
    assert not np.allclose(e["linear"], e["none"]) and not np.allclose(e["hidden"], e["linear"])
    for slug in SLUGS:
        assert set(sim.STRUCTURES["hidden"].moderators(slug)) <= set(sim.BARELY_VISIBLE)
        assert sum(map(abs, sim.STRUCTURES["hidden"].moderators(slug).values())) == pytest.approx(
            sum(map(abs, sim.EFFECTS[slug].moderators.values()))
        )  # same size, other traits


def test_episodes_are_reproducible_and_the_policy_sees_only_contexts():
    st = sim.STRUCTURES["linear"]
    pick = lambda _t, x: np.full(len(x), 1)  # noqa: E731
    a = sim.episodes_run(n=4, seed=3, structure=st, steps=3, choose=pick)
    b = sim.episodes_run(n=4, seed=3, structure=st, steps=3, choose=pick)
    assert np.array_equal(a.post_test, b.post_test) and np.array_equal(a.contexts, b.contexts)
    assert np.all(a.contexts[:, :, 0] == 1) and a.effects.shape == (4, 3, len(SLUGS))
    control = sim.episodes_run(n=4, seed=3, structure=st, steps=3, choose=None, need_contexts=False)
    assert np.all(control.chosen == -1) and not np.array_equal(control.post_test, a.post_test)
