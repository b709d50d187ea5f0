"""How much room is there above the strongest simple rule? Oracles that read the simulator's hidden state measure it.

Usage: .venv/bin/python scripts/scheduler_ceiling.py [--settings published,similar] [--budgets 100,200]
           [--seed 1] [--students 1000] [--search-students 20] [--iterations 2000] [--json]
       .venv/bin/python scripts/scheduler_ceiling.py --simulator metis [--settings maths,...] [--budgets 100]
           [--seed 1] [--search-students 30] [--rollouts 2] [--json]
       .venv/bin/python scripts/scheduler_ceiling.py --simulator metis --search [--settings maths,...] [--budgets 100]
           [--seed 1] [--search-students 12] [--iterations 1500] [--streams 24] [--fresh 64] [--json]
       .venv/bin/python scripts/scheduler_ceiling.py --learned-weights [--simulator actr|metis] [--seed 1]
           [--students 1000] [--budgets 100]: how well ``learn_contrast_weights`` finds the confused pairs
           from that many calibration students (correlation with the hidden similarities under ACT-R; the
           ranks of the declared pairs, which are the only confused ones, in model.py)

The oracles read what no tutor can see, so they bound what a policy could gain; none is a policy.

ACT-R (the default):

* ``spread, true similarities``: the spread policy given the simulator's hidden skill similarities as its pair
  weights (standardised as ``learn_contrast_weights`` standardises what it learns), through the same
  scheduling API and the same students as every policy. The ceiling of learning which pairs students confuse.
* ``best sequence found``: ACT-R learning does not depend on the answers, so the delayed post-test is a
  deterministic function of the sequence of skills practised. Starting from the sequence the strongest simple
  rule (shuffled_round_robin+target) gave each student, a hill climb (swap two items, move one, or give one to
  another skill) that knows the student's hidden parameters keeps every change that raises their post-test.
  Slow, so it runs on the first ``--search-students`` students only.

model.py (``--simulator metis``), where learning depends on the answers and items:

* ``look-ahead oracle``: before every item, each skill is tried on copies of the student (hidden state
  known, the copies' answers drawn afresh, ``--rollouts`` per skill with common draws), followed by
  round robin to the end of the budget and the delayed test; the skill with the best mean test is served.
  One-step policy improvement over round robin. Every item, in the oracle's choices and in the round robin
  it is compared with, is aimed at 70 % success on the student's *true* P(correct), so the difference is
  the choice of skill alone.
* ``best plan found`` (``--search``): a fixed sequence of skills for each student, found by the same hill climb
  as under ACT-R on the mean post-test over ``--streams`` fixed draws of the student's answers, starting from the
  better of round robin and round robin in pairs; then judged, with both rules, on ``--fresh`` draws it never saw.
  Items aimed as in the look-ahead. Slow: ``--search-students`` students.

Differences are paired over the same students, in points of the delayed post-test, with 95 % intervals.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tutor.policies import difficulty_for_success  # noqa: E402
from tutor.scheduling_api import (  # noqa: E402
    CONTRAST_FLOOR,
    CONTRAST_STRENGTH,
    Observation,
    learn_contrast_weights,
)
from tutor.simulator import actr, bench  # noqa: E402
from tutor.simulator.model import MINUTE, SimulatedStudent, population  # noqa: E402

RULE = "shuffled_round_robin+target"
SESSION_LENGTH, GAP_DAYS, DELAY_DAYS = 20, 2.0, 7.0


def true_weights(setting: str, seed: int) -> tuple[tuple[int, int, float], ...]:
    """The simulator's hidden similarities as spread's pair weights, standardised like learned ones."""
    ids = [s.skill_id for s in bench.DEMO_COURSE[1].skills]
    sim = actr.similarities(ids, setting=actr.SETTINGS[setting], seed=seed)
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    mean, sd = statistics.fmean(sim[p] for p in pairs), statistics.pstdev(sim[p] for p in pairs)
    return tuple((a, b, max(CONTRAST_FLOOR, 1.0 + CONTRAST_STRENGTH * (sim[(a, b)] - mean) / sd)) for a, b in pairs)


def post_test(setting: str, seed: int, index: int, skills: list[int]) -> float:
    """Student ``index`` of the world practises ``skills`` in this order on the benchmark's clock, then is tested."""
    student = bench.students_of("actr", setting, n=1, seed=seed, start=index)[0]
    for i, skill in enumerate(skills):
        if i:
            student.advance(GAP_DAYS if i % SESSION_LENGTH == 0 else MINUTE)
        student.present(skill, 0.5)  # learning in ACT-R ignores the item and the answer
    student.advance(DELAY_DAYS)
    return bench.mixed_test(student, [s.skill_id for s in bench.DEMO_COURSE[1].skills])[0]


def rule_sequence(setting: str, seed: int, index: int, budget: int) -> list[int]:
    """The skills the strongest simple rule gave this student in the benchmark (same rng as the benchmark's)."""
    student = bench.students_of("actr", setting, n=1, seed=seed, start=index)[0]
    history: list[Observation] = []
    bench.run_episode(
        student, RULE, course=bench.DEMO_COURSE[1], budget=budget, rng=random.Random(f"policy-{seed}-{index}"),
        record=history,
    )  # fmt: skip
    return [o.skill_id for o in history]


def hill_climb(
    score: Callable[[list[int]], float], start: list[int], ids: list[int], rng: random.Random, iterations: int
) -> tuple[float, float, list[int]]:
    """(score of ``start``, best score found, the best sequence): swap two items, move one, or give one to another skill."""
    best, first = list(start), score(start)
    value, n = first, len(start)
    for _ in range(iterations):
        cand = list(best)
        move = rng.random()
        if move < 0.4:
            a, b = rng.randrange(n), rng.randrange(n)
            cand[a], cand[b] = cand[b], cand[a]
        elif move < 0.8:
            cand.insert(rng.randrange(n), cand.pop(rng.randrange(n)))
        else:
            cand[rng.randrange(n)] = rng.choice(ids)
        s = score(cand)
        if s > value:
            best, value = cand, s
    return first, value, best


def actr_search(setting: str, seed: int, index: int, start: list[int], iterations: int) -> tuple[float, float]:
    """(post-test of ``start``, best post-test found) for one ACT-R student, knowing their hidden parameters."""
    ids = [s.skill_id for s in bench.DEMO_COURSE[1].skills]
    first, found, _ = hill_climb(
        lambda seq: post_test(setting, seed, index, seq),
        start,
        ids,
        random.Random(f"ceiling-{seed}-{index}"),
        iterations,
    )
    return first, found


TARGET = 0.7


def _clock(student: SimulatedStudent, i: int) -> None:
    if i:
        student.advance(GAP_DAYS if i % SESSION_LENGTH == 0 else MINUTE)


def _true_aim(student: SimulatedStudent, skill: int) -> float:
    return difficulty_for_success(student.p_correct(skill, 0.5), TARGET)


def _round_robin_next(counts: dict[int, int], skills: list[int]) -> int:
    return min(skills, key=lambda k: (counts[k], skills.index(k)))


def _finish_with_round_robin(student: SimulatedStudent, counts: dict[int, int], start: int, budget: int) -> float:
    skills = list(counts)
    for i in range(start, budget):
        _clock(student, i)
        k = _round_robin_next(counts, skills)
        student.present(k, _true_aim(student, k))
        counts[k] += 1
    student.advance(DELAY_DAYS)
    return bench.mixed_test(student, skills)[0]


def metis_look_ahead(setting: str, seed: int, index: int, budget: int, rollouts: int) -> tuple[float, float]:
    """(round robin's post-test, the look-ahead oracle's) for one student, both with true aiming."""
    skills = _metis_ids()
    fresh = population(n=1, skills=bench.DEMO_COURSE[0], setting=setting, seed=seed, start=index)[0]
    rr = _finish_with_round_robin(copy.deepcopy(fresh), dict.fromkeys(skills, 0), 0, budget)
    student, counts = fresh, dict.fromkeys(skills, 0)
    for i in range(budget):
        _clock(student, i)
        value = {}
        for k in skills:
            total = 0.0
            for r in range(rollouts):
                clone = copy.deepcopy(student)
                clone._rng = random.Random(f"look-ahead-{seed}-{index}-{i}-{r}")  # fresh draws, not the student's
                clone.present(k, _true_aim(clone, k))
                after = dict(counts)
                after[k] += 1
                total += _finish_with_round_robin(clone, after, i + 1, budget)
            value[k] = total / rollouts
        k = max(skills, key=lambda s: (value[s], -skills.index(s)))
        student.present(k, _true_aim(student, k))
        counts[k] += 1
    student.advance(DELAY_DAYS)
    return rr, bench.mixed_test(student, skills)[0]


def metis_post_test(setting: str, seed: int, index: int, skills: list[int], stream: str) -> float:
    """Student ``index`` practises ``skills`` in this order, each item aimed on the true P, answers drawn from ``stream``."""
    student = population(n=1, skills=bench.DEMO_COURSE[0], setting=setting, seed=seed, start=index)[0]
    student._rng = random.Random(stream)  # the draws of answers: the only randomness left once the sequence is fixed
    for i, k in enumerate(skills):
        _clock(student, i)
        student.present(k, _true_aim(student, k))
    student.advance(DELAY_DAYS)
    return bench.mixed_test(student, _metis_ids())[0]


def _metis_ids() -> list[int]:
    return [s.skill_id for s in bench.DEMO_COURSE[0]]


def metis_search(
    setting: str, seed: int, index: int, budget: int, iterations: int, streams: int, fresh: int
) -> dict[str, float]:
    """One student's post-tests, on ``fresh`` new draws of answers, under round robin, round robin in pairs and the plan.

    The hill climb knows the student's hidden state and maximises the mean post-test over ``streams`` fixed draws
    of answers, starting from the better of the two simple rules on those draws. The plan it finds is fixed (it
    cannot react to answers); it is then judged on draws it never saw, so overfitting to the draws does not count.
    """
    ids = _metis_ids()
    rr = [ids[i % len(ids)] for i in range(budget)]  # round robin in course order, as the benchmark runs it
    pairs = [ids[(i // 2) % len(ids)] for i in range(budget)]  # round_robin_pairs

    def mean_over(seq: list[int], names: list[str]) -> float:
        return statistics.fmean(metis_post_test(setting, seed, index, seq, n) for n in names)

    train = [f"search-{seed}-{index}-{m}" for m in range(streams)]
    start = max((rr, pairs), key=lambda seq: mean_over(seq, train))
    _, _, plan = hill_climb(
        lambda seq: mean_over(seq, train), start, ids, random.Random(f"ceiling-{seed}-{index}"), iterations
    )
    test = [f"judge-{seed}-{index}-{m}" for m in range(fresh)]
    return {"round_robin": mean_over(rr, test), "pairs": mean_over(pairs, test), "plan": mean_over(plan, test)}


def ci_text(d: list[float]) -> str:
    """A [mean, low, high] triple as "+1.23 [+0.45, +2.01]"."""
    return f"{d[0]:+.2f} [{d[1]:+.2f}, {d[2]:+.2f}]"


def mean_ci(xs: list[float]) -> tuple[float, float, float]:
    m = statistics.fmean(xs)
    half = 1.96 * statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
    return round(m, 2), round(m - half, 2), round(m + half, 2)


def grid_rows(
    args: argparse.Namespace, settings: list[str], row: Callable[[str, int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per setting and budget: its setting, budget and seed, what ``row`` measures, and its wall time."""
    rows: list[dict[str, Any]] = []
    for setting in settings:
        for budget in (int(b) for b in args.budgets.split(",")):
            started = time.monotonic()
            measured = row(setting, budget)
            wall = round(time.monotonic() - started, 1)
            rows.append({"setting": setting, "budget": budget, "seed": args.seed, **measured, "wall_s": wall})
            print(f"  done {setting} {budget} in {wall} s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--simulator", choices=["actr", "metis"], default="actr")
    parser.add_argument("--settings", default=None, help="comma-separated (default: every world of the simulator)")
    parser.add_argument("--budgets", default="100,200")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--students", type=int, default=1000, help="students for the true-similarity oracle")
    parser.add_argument("--search-students", type=int, default=20, help="students for the sequence search")
    parser.add_argument("--iterations", type=int, default=2000, help="hill-climb steps per student")
    parser.add_argument("--rollouts", type=int, default=2, help="metis: look-ahead copies per skill and item")
    parser.add_argument("--search", action="store_true", help="metis: a plan searched on the student's hidden state")
    parser.add_argument(
        "--streams", type=int, default=16, help="metis --search: draws of answers the plan is fitted on"
    )
    parser.add_argument("--fresh", type=int, default=64, help="metis --search: new draws the plan is judged on")
    parser.add_argument("--learned-weights", action="store_true", help="how well the learned pair weights are found")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = args.settings.split(",") if args.settings else list(bench.SIMULATORS[args.simulator])
    if args.learned_weights:
        learned_weights_main(args, settings)
        return
    if args.simulator == "metis" and args.search:
        metis_search_main(args, settings)
        return
    if args.simulator == "metis":
        metis_main(args, settings)
        return

    def row(setting: str, budget: int) -> dict[str, Any]:
        sim_skills, course = bench.DEMO_COURSE
        oracle_course = (sim_skills, replace(course, contrast_weights=true_weights(setting, args.seed)))
        common = {"students": args.students, "budget": budget, "seed": args.seed, "simulator": "actr"}
        rule = bench.benchmark(policies_to_run=[RULE], setting=setting, **common)[RULE]
        spread = bench.benchmark(policies_to_run=["spread"], setting=setting, course=oracle_course, **common)
        diff, ci = bench.paired_difference(spread["spread"], rule)
        gains = []
        for i in range(min(args.search_students, args.students)):
            first, found = actr_search(
                setting, args.seed, i, rule_sequence(setting, args.seed, i, budget), args.iterations
            )
            assert abs(first - rule.episodes[i].post_test) < 1e-9, "replay differs from the benchmark"
            gains.append(100.0 * (found - first))
        return {
            "rule": RULE,
            "rule_post_test": round(100.0 * rule.post_test, 2),
            "spread_true_similarities_minus_rule": [round(diff, 2), round(ci[0], 2), round(ci[1], 2)],
            "students": args.students,
            "best_sequence_minus_rule": list(mean_ci(gains)),
            "search_students": len(gains),
            "iterations": args.iterations,
        }

    rows = grid_rows(args, settings, row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"ACT-R, seed {args.seed}; points of delayed post-test over {RULE}, paired [95 % CI]")
    print(f"{'setting':<10} {'budget':>6} {'rule %':>7} {'spread, true similarities':>28} {'best sequence found':>26}")
    for r in rows:
        a, b = r["spread_true_similarities_minus_rule"], r["best_sequence_minus_rule"]
        print(f"{r['setting']:<10} {r['budget']:>6} {r['rule_post_test']:>7.1f} {ci_text(a):>28} {ci_text(b):>26}")
    print(
        f"(true similarities: {rows[0]['students']} students; sequence search: {rows[0]['search_students']} students,"
    )
    print(f" {rows[0]['iterations']} steps each)")


def learned_weights_main(args: argparse.Namespace, settings: list[str]) -> None:
    course = bench.DEMO_COURSE[1]
    ids = [s.skill_id for s in course.skills]
    rows = []
    for setting in settings:
        for budget in (int(b) for b in args.budgets.split(",")):
            group = bench.students_of(
                args.simulator, setting, n=args.students, seed=args.seed, start=bench.CALIBRATION_START
            )
            weights = learn_contrast_weights(
                course, bench.calibration_histories(group, course=course, budget=budget, seed=args.seed)
            )
            row: dict = {"simulator": args.simulator, "setting": setting, "budget": budget, "seed": args.seed}
            row["calibration_students"] = args.students
            if args.simulator == "actr":
                true = actr.similarities(ids, setting=actr.SETTINGS[setting], seed=args.seed)
                learned = [w for _, _, w in weights]
                row["correlation_with_hidden_similarity"] = round(
                    statistics.correlation(learned, [true[(a, b)] for a, b, _ in weights]), 3
                )
            else:
                ranked = [(a, b) for a, b, _ in sorted(weights, key=lambda t: -t[2])]
                row["declared_pair_ranks"] = [ranked.index(p) + 1 for p in course.confusable_pairs]
                row["of_pairs"] = len(ranked)
            rows.append(row)
            print(json.dumps(row) if args.json else "  ".join(f"{k}={v}" for k, v in row.items()))


def metis_main(args: argparse.Namespace, settings: list[str]) -> None:
    def row(setting: str, budget: int) -> dict[str, Any]:
        pairs = [metis_look_ahead(setting, args.seed, i, budget, args.rollouts) for i in range(args.search_students)]
        return {
            "round_robin_true_aim": round(100.0 * statistics.fmean(a for a, _ in pairs), 2),
            "look_ahead_minus_round_robin": list(mean_ci([100.0 * (b - a) for a, b in pairs])),
            "students": len(pairs),
            "rollouts": args.rollouts,
        }

    rows = grid_rows(args, settings, row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"model.py, seed {args.seed}; look-ahead oracle − round robin, both aimed on the true P, paired [95 % CI]")
    print(f"{'setting':<18} {'budget':>6} {'round robin %':>14} {'look-ahead − round robin':>26}")
    for r in rows:
        a = r["look_ahead_minus_round_robin"]
        print(f"{r['setting']:<18} {r['budget']:>6} {r['round_robin_true_aim']:>14.1f} {ci_text(a):>26}")
    print(f"({rows[0]['students']} students, {rows[0]['rollouts']} look-aheads per skill and item)")


def metis_search_main(args: argparse.Namespace, settings: list[str]) -> None:
    def row(setting: str, budget: int) -> dict[str, Any]:
        runs = [
            metis_search(setting, args.seed, i, budget, args.iterations, args.streams, args.fresh)
            for i in range(args.search_students)
        ]

        def diff(a: str, b: str) -> list[float]:
            return list(mean_ci([100.0 * (r[a] - r[b]) for r in runs]))

        return {
            "round_robin_true_aim": round(100.0 * statistics.fmean(r["round_robin"] for r in runs), 2),
            "pairs_minus_round_robin": diff("pairs", "round_robin"),
            "plan_minus_round_robin": diff("plan", "round_robin"),
            "plan_minus_pairs": diff("plan", "pairs"),
            "students": len(runs),
            "iterations": args.iterations,
            "streams": args.streams,
            "fresh": args.fresh,
        }

    rows = grid_rows(args, settings, row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"model.py, seed {args.seed}; every item aimed on the true P; judged on new draws of answers; points,")
    print("paired over students [95 % CI]")
    head = ("setting", "budget", "round robin %", "pairs − round robin", "plan − round robin", "plan − pairs")
    print(f"{head[0]:<18} {head[1]:>6} {head[2]:>14} {head[3]:>22} {head[4]:>22} {head[5]:>22}")
    for r in rows:
        a, b, c = r["pairs_minus_round_robin"], r["plan_minus_round_robin"], r["plan_minus_pairs"]
        print(
            f"{r['setting']:<18} {r['budget']:>6} {r['round_robin_true_aim']:>14.1f} "
            f"{ci_text(a):>22} {ci_text(b):>22} {ci_text(c):>22}"
        )
    print(
        f"({rows[0]['students']} students, {rows[0]['iterations']} steps each, fitted on {rows[0]['streams']} draws,"
        f" judged on {rows[0]['fresh']})"
    )


if __name__ == "__main__":
    main()
