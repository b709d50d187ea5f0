"""The student simulator reproduces the effects it documents (fixed seeds, small populations)."""

from __future__ import annotations

import random
import statistics

import pytest

from tutor.simulator import SETTINGS, SimSkill, SimulatedStudent, bench, population, traits_sample
from tutor.simulator.model import MINUTE


def one_student(skills, *, setting="maths", seed=0, **trait_changes) -> SimulatedStudent:
    traits = traits_sample(random.Random(seed), len(skills))
    if trait_changes:
        from dataclasses import replace

        traits = replace(traits, **trait_changes)
    return SimulatedStudent(traits=traits, skills=skills, setting=SETTINGS[setting], rng=random.Random(seed))


def test_the_simulator_and_policies_import_no_django():
    """They are libraries for other benchmarks: only the standard library and other pure Metis modules."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "tutor"
    pure = {"tutor.policies", "tutor.scheduling_api", "tutor.generators", "tutor.simulator"}
    files = [
        root / "policies.py",
        root / "scheduling_api.py",
        root / "generators.py",
        *sorted((root / "simulator").glob("*.py")),
    ]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom):  # relative: stays inside the package
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in {"django", "celery", "rest_framework"}, f"{path.name} imports {name}"
                if top == "tutor":
                    assert any(name == p or name.startswith(p + ".") for p in pure), f"{path.name} imports {name}"


def test_same_seed_same_students_and_answers():
    skills = [SimSkill(0), SimSkill(1)]

    def run(seed):
        s = population(n=1, skills=skills, seed=seed)[0]
        return [(s.present(i % 2, 0.5).correct, round(s.traits.ability, 6)) for i in range(30)]

    assert run(4) == run(4) and run(4) != run(5)


def test_practice_teaches_and_time_makes_it_fade():
    s = one_student([SimSkill(0)])
    before = s.p_correct(0)
    for _ in range(8):
        s.present(0, 0.5)
        s.advance(MINUTE)
    after = s.p_correct(0)
    s.advance(20.0)
    later = s.p_correct(0)
    assert after > before + 0.2
    assert before < later < after - 0.1


def test_spacing_beats_massing_and_interleaving_beats_blocking_for_confusable_skills():
    g = bench.effect_sizes(setting="maths", n=150, seed=1)
    # Documented targets: spacing g ~ 0.74 (Latimier et al. 2021), interleaving maths g ~ 0.34 (Brunmair & Richter 2019).
    assert 0.4 < g["spacing_g"] < 1.1
    assert 0.15 < g["interleaving_g"] < 0.9


def test_interleaving_hurts_vocabulary_like_material():
    g = bench.effect_sizes(setting="vocabulary", n=150, seed=1)
    assert g["interleaving_g"] < 0


def test_blocked_practice_feels_better_than_it_tests():
    """Kornell & Bjork 2008: blocked practice gives higher accuracy and confidence during practice, less at test."""
    pair = [SimSkill(0, (), (1,)), SimSkill(1, (), (0,))]
    blocked_acc, mixed_acc, blocked_conf, mixed_conf, blocked_test, mixed_test = [], [], [], [], [], []
    for i in range(120):
        for order, acc, conf, test in (
            ((0,) * 8 + (1,) * 8, blocked_acc, blocked_conf, blocked_test),
            ((0, 1) * 8, mixed_acc, mixed_conf, mixed_test),
        ):
            s = one_student(pair, seed=i)
            rs = []
            for k in order:
                rs.append(s.present(k, 0.5))
                s.advance(MINUTE)
            acc.append(statistics.fmean(r.correct for r in rs[4:]))
            conf.append(statistics.fmean(r.confidence for r in rs[4:]))
            s.advance(7.0)
            test.append(statistics.fmean(s.p_correct(k) for k in (0, 1)))
    assert statistics.fmean(blocked_acc) > statistics.fmean(mixed_acc)
    assert statistics.fmean(blocked_conf) > statistics.fmean(mixed_conf)
    assert statistics.fmean(blocked_test) < statistics.fmean(mixed_test)


def test_weak_prerequisites_slow_learning():
    skills = [SimSkill(0), SimSkill(1, prerequisites=(0,))]
    gains = {}
    for label, warmup in (("without", 0), ("with", 12)):
        deltas = []
        for i in range(60):
            s = one_student(skills, seed=i)
            for _ in range(warmup):
                s.present(0, 0.5)
                s.advance(MINUTE)
            start = s.p_correct(1, cued=True)
            for _ in range(5):
                s.present(1, 0.5)
                s.advance(MINUTE)
            deltas.append(s.p_correct(1, cued=True) - start)
        gains[label] = statistics.fmean(deltas)
    assert gains["with"] > 1.5 * gains["without"]


def test_confidence_bias_is_a_per_student_trait():
    skills = [SimSkill(0)]
    over = one_student(skills, seed=2, confidence_bias=1.5, confidence_noise=0.3)
    under = one_student(skills, seed=2, confidence_bias=-1.5, confidence_noise=0.3)
    for s in (over, under):
        for _ in range(40):
            s.present(0, 0.5, learn=False)
    o = [over.present(0, 0.5, learn=False) for _ in range(200)]
    u = [under.present(0, 0.5, learn=False) for _ in range(200)]
    acc = statistics.fmean(r.correct for r in o + u)
    assert statistics.fmean(r.confidence for r in o) > acc > statistics.fmean(r.confidence for r in u)


def test_response_times_shrink_with_fluency_and_errors_are_slower():
    s = one_student([SimSkill(0)], seed=5)
    early = [s.present(0, 0.5).response_time_s for _ in range(3)]
    for _ in range(20):
        s.present(0, 0.5)
        s.advance(1.0)
    late = [s.present(0, 0.5, learn=False).response_time_s for _ in range(30)]
    assert statistics.fmean(late) < statistics.fmean(early)
    assert all(r > 0 for r in early + late)


def test_test_items_do_not_teach_and_time_only_moves_forward():
    s = one_student([SimSkill(0)])
    p = s.p_correct(0)
    for _ in range(10):
        s.present(0, 0.5, learn=False)
    assert s.p_correct(0) == p
    with pytest.raises(ValueError):
        s.advance(-1)
    with pytest.raises(KeyError):
        s.present(9, 0.5)


def test_small_benchmark_orders_the_policies():
    """Not the benchmark (that is ``manage.py simulate``): a 60-student smoke check of the ordering."""
    res = bench.benchmark(policies_to_run=["adaptive", "blocked", "random"], students=60, budget=120, seed=7)
    assert res["adaptive"].post_test > res["blocked"].post_test + 0.05
    assert res["adaptive"].post_test > res["random"].post_test
    diff, (lo, _hi) = bench.paired_difference(res["adaptive"], res["blocked"])
    assert lo > 0 and diff > 5


def test_simulate_compares_adaptive_with_every_baseline_and_names_the_strongest():
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("simulate", "--compare", "--students", "6", "--budget", "30", "--json", stdout=out, stderr=StringIO())
    report = json.loads(out.getvalue())
    assert set(report["policies"]) == {*bench.ADAPTIVE, *bench.BASELINES} >= {"round_robin+target", "random+target"}
    assert "expected_gain" in bench.ADAPTIVE and not set(bench.ADAPTIVE) & set(bench.BASELINES)
    assert "spread" in bench.ADAPTIVE
    best = max(bench.BASELINES, key=lambda name: report["policies"][name]["post_test"])
    assert set(report["differences"]) == (
        {f"adaptive-{name}" for name in ("expected_gain", "spread", *bench.BASELINES)}
        | {f"expected_gain-{name}" for name in ("spread", *bench.BASELINES)}
        | {f"spread-{name}" for name in bench.BASELINES}
        | {f"{best}-{name}" for name in bench.BASELINES if name != best}
    )
    assert report["strongest_baseline"] == best
    text = StringIO()
    call_command("simulate", "--compare", "--students", "6", "--budget", "30", stdout=text, stderr=StringIO())
    assert f"strongest baseline: {best}; adaptive " in text.getvalue()
    assert f"strongest baseline: {best}; expected_gain " in text.getvalue()
    assert f"strongest baseline: {best}; spread " in text.getvalue()


def test_simulate_runs_only_the_policies_asked_for():
    import json
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command(
        "simulate", "--compare", "--policies", "expected_gain,round_robin+target", "--students", "4", "--budget", "20",
        "--json", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    report = json.loads(out.getvalue())
    assert set(report["policies"]) == {"expected_gain", "round_robin+target"}
    assert set(report["differences"]) == {"expected_gain-round_robin+target"}
    assert report["strongest_baseline"] == "round_robin+target"
    with pytest.raises(CommandError, match="--policies: unknown nope"):
        call_command("simulate", "--compare", "--policies", "adaptive,nope", "--students", "2", "--budget", "2")
    with pytest.raises(CommandError, match="--policies goes with --compare"):
        call_command("simulate", "--policies", "adaptive", "--students", "2", "--budget", "2")
