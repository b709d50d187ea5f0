"""The scheduler's black-box interface (pure: no database): what a third-party simulator can rely on."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from tutor import scheduling_api
from tutor.scheduling_api import CourseSpec, Decision, ItemSpec, Observation, Scheduler, SkillSpec, next_item
from tutor.simulator import bench, population
from tutor.simulator.model import MINUTE

DOC = Path(__file__).resolve().parents[2] / "docs" / "scheduler.md"


def small_course() -> CourseSpec:
    """Basics (0) before advanced (1); an unrelated skill (2); 0 and 2 are easily confused."""
    skills = (SkillSpec(0, "Basics"), SkillSpec(1, "Advanced", prerequisites=(0,)), SkillSpec(2, "Other"))
    items = tuple(ItemSpec(f"s{s}-{d}", s, d / 10) for s in range(3) for d in range(1, 10))
    return CourseSpec(skills=skills, items=items, confusable_pairs=((0, 2),))


def drive(scheduler: Scheduler, *, n: int, seed: int = 0) -> tuple[list[Decision], list[Observation]]:
    """A simulated student on the demo course, taught through the interface only (sessions of 20, 2 days apart)."""
    sim_skills, _course = bench.DEMO_COURSE
    student = population(n=1, skills=sim_skills, seed=seed)[0]
    history: list[Observation] = []
    decisions = []
    for i in range(n):
        student.advance(2.0 if i and i % 20 == 0 else MINUTE if i else 0.0)
        d = scheduler.next_item(history, now=student.now)
        r = student.present(d.skill_id, d.difficulty)
        history.append(Observation(d.item_id, d.skill_id, r.correct, student.now, confidence=r.confidence))
        decisions.append(d)
    return decisions, history


def test_same_seed_same_choices_and_replay_equals_incremental():
    course = bench.DEMO_COURSE[1]
    for policy in ("adaptive", "random", "round_robin+target"):
        first, history = drive(Scheduler(course, policy=policy, rng=random.Random(5)), n=60)
        again, _ = drive(Scheduler(course, policy=policy, rng=random.Random(5)), n=60)
        assert first == again
        # From scratch at every step (history replayed), drawing from one stream seeded alike: the same choices.
        rng = random.Random(5)
        replayed = [next_item(course, history[:i], now=history[i].time, policy=policy, rng=rng) for i in range(60)]
        assert replayed == first
    other, _ = drive(Scheduler(course, policy="random", rng=random.Random(6)), n=60)
    assert other != drive(Scheduler(course, policy="random", rng=random.Random(5)), n=60)[0]


def test_a_history_that_is_not_an_extension_is_replayed_from_scratch():
    course = small_course()
    scheduler = Scheduler(course, rng=random.Random(0))
    right = [Observation("s0-5", 0, True, 0.0), Observation("s2-5", 2, True, 0.001)]
    wrong = [Observation("s0-5", 0, False, 0.0), Observation("s2-5", 2, False, 0.001)]
    scheduler.next_item(right, now=0.002)
    after_edit = scheduler.next_item(wrong, now=0.002)
    assert after_edit == next_item(course, wrong, now=0.002, rng=random.Random(0))


def test_never_an_item_whose_prerequisites_are_unmet():
    course = small_course()
    struggling = [Observation(f"s0-{k}", 0, False, k * MINUTE) for k in range(1, 4)]
    for seed in range(30):
        d = next_item(course, struggling, now=0.01, rng=random.Random(seed))
        assert d.skill_id != 1, "Advanced served while Basics is predicted weak"
    solid = [Observation(f"s0-{k}", 0, True, k * MINUTE) for k in range(1, 9)]
    solid += [Observation("s2-5", 2, True, 9 * MINUTE)]
    assert next_item(course, solid, now=0.01).skill_id == 1

    # A whole run on the demo course: no skill is served before every prerequisite has been practised.
    structure = {s.skill_id: s for s in bench.DEMO_COURSE[1].skills}
    decisions, _ = drive(Scheduler(bench.DEMO_COURSE[1], rng=random.Random(1)), n=120, seed=1)
    served: set[int] = set()
    for d in decisions:
        assert set(structure[d.skill_id].prerequisites) <= served, f"{structure[d.skill_id].name} too early"
        served.add(d.skill_id)


def test_every_decision_has_a_reason_and_a_real_item_of_its_skill():
    course = bench.DEMO_COURSE[1]
    items = {i.item_id: i for i in course.items}
    for policy in scheduling_api.POLICY_NAMES:
        decisions, history = drive(Scheduler(course, policy=policy, rng=random.Random(2)), n=45, seed=2)
        for d in decisions:
            assert d.reason.strip(), f"{policy}: empty reason"
            assert items[d.item_id].skill_id == d.skill_id and items[d.item_id].difficulty == d.difficulty
            assert 0.0 < d.p_correct < 1.0
        assert all(a.item_id != b.item_id for a, b in zip(history, history[1:], strict=False))


def test_items_are_aimed_and_unseen_first():
    course = small_course()
    history = [Observation("s0-5", 0, True, 0.0), Observation("s2-5", 2, True, MINUTE)]
    for policy in ("adaptive", "random+target", "round_robin+target"):
        d = next_item(course, history, now=2 * MINUTE, policy=policy)
        assert d.target_difficulty is not None
        unseen = [i for i in course.items if i.skill_id == d.skill_id and i.item_id not in {"s0-5", "s2-5"}]
        assert abs(d.difficulty - d.target_difficulty) == min(abs(i.difficulty - d.target_difficulty) for i in unseen)
    assert next_item(course, history, now=2 * MINUTE, policy="round_robin").target_difficulty is None
    # One item only on a skill: it is served again (nothing else to give); two: they alternate.
    one = CourseSpec(skills=(SkillSpec(0, "Only"),), items=(ItemSpec("a", 0, 0.5), ItemSpec("b", 0, 0.5)))
    seen = []
    h: list[Observation] = []
    for k in range(6):
        pick = next_item(one, h, now=k * MINUTE)
        seen.append(pick.item_id)
        h.append(Observation(pick.item_id, 0, True, k * MINUTE))
    assert seen == ["a", "b", "a", "b", "a", "b"]


def test_bad_input_is_refused_with_a_message():
    course = small_course()
    with pytest.raises(ValueError, match="not in the course"):
        next_item(course, [Observation("nope", 0, True, 0.0)], now=1.0)
    with pytest.raises(ValueError, match="belongs to skill"):
        next_item(course, [Observation("s0-5", 2, True, 0.0)], now=1.0)
    with pytest.raises(ValueError, match="before"):
        next_item(course, [Observation("s0-5", 0, True, 1.0), Observation("s0-4", 0, True, 0.5)], now=2.0)
    with pytest.raises(ValueError, match="before the last answer"):
        next_item(course, [Observation("s0-5", 0, True, 1.0)], now=0.5)
    with pytest.raises(ValueError, match="unknown policy"):
        Scheduler(course, policy="nope")
    with pytest.raises(ValueError, match="without items"):
        CourseSpec(skills=(SkillSpec(0, "A"), SkillSpec(1, "B")), items=(ItemSpec("x", 0),))
    with pytest.raises(ValueError, match="prerequisite"):
        CourseSpec(skills=(SkillSpec(0, "A", prerequisites=(7,)),), items=(ItemSpec("x", 0),))
    with pytest.raises(ValueError, match="outside"):
        CourseSpec(skills=(SkillSpec(0, "A"),), items=(ItemSpec("x", 0, 1.5),))
    with pytest.raises(ValueError, match="confusable"):
        CourseSpec(skills=(SkillSpec(0, "A"),), items=(ItemSpec("x", 0),), confusable_pairs=((0, 3),))


def test_the_documented_example_runs():
    """docs/scheduler.md's example, executed as written."""
    text = DOC.read_text()
    block = re.search(r"<!-- example: scheduling-api -->\s*```python\n(.*?)```", text, re.S)
    assert block is not None, "the example block is missing from docs/scheduler.md"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 12
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    decision = namespace["decision"]
    assert isinstance(decision, Decision) and decision.reason


def test_expected_gain_serves_the_skill_the_estimators_forecast_favours():
    from tutor import policies

    course = small_course()
    history = [
        Observation("s0-5", 0, True, 0.0),
        Observation("s0-6", 0, True, MINUTE),
        Observation("s2-5", 2, False, 2 * MINUTE),
        Observation("s0-4", 0, True, 1.0),
    ]
    now = 1.0 + MINUTE
    d = next_item(course, history, now=now, policy="expected_gain")
    est = policies.SkillEstimator(s.skill_id for s in course.skills)
    for obs in history:
        est.observe(obs.skill_id, correct=obs.correct, now=obs.time, difficulty=int(obs.item_id[-1]) / 10)
    target = policies.PolicySettings().target_success
    gains = {
        s: est.forecast(s, now=now, at=now + 7.0, difficulty=policies.aim(est.get(s).p_now(now), target)[0]).gain
        for s in (0, 1, 2)  # 1 is ready: its prerequisite 0 is predicted above 55 %
    }
    assert est.get(0).p_now(now) >= policies.PolicySettings().prerequisite_ready
    assert d.skill_id == max(gains, key=lambda s: (gains[s], -s))
    assert f"by {100 * gains[d.skill_id]:.1f} point" in d.reason


def _rounds(decisions: list[Decision], k: int) -> list[list[int]]:
    skills = [d.skill_id for d in decisions]
    return [skills[i : i + k] for i in range(0, len(skills) - k + 1, k)]


def test_shuffled_round_robin_and_spread_cover_every_skill_each_round_in_changing_orders():
    course = bench.DEMO_COURSE[1]
    n_skills = len(course.skills)
    for policy in ("shuffled_round_robin", "shuffled_round_robin+target", "spread"):
        first, history = drive(Scheduler(course, policy=policy, rng=random.Random(3)), n=100, seed=3)
        again, _ = drive(Scheduler(course, policy=policy, rng=random.Random(3)), n=100, seed=3)
        assert first == again, f"{policy}: not deterministic for a given rng"
        rng = random.Random(3)
        replayed = [next_item(course, history[:i], now=history[i].time, policy=policy, rng=rng) for i in range(100)]
        assert replayed == first, f"{policy}: replay differs from the incremental scheduler"
        rounds = _rounds(first, n_skills)
        assert all(sorted(r) == list(range(n_skills)) for r in rounds), f"{policy}: a round missed a skill"
        assert len({tuple(r) for r in rounds}) > 1, f"{policy}: every round in the same order"
        assert all(a.skill_id != b.skill_id for a, b in zip(first, first[1:], strict=False))
    # The plain rule does not aim; spread and the +target rule aim as adaptive does.
    plain, _ = drive(Scheduler(course, policy="shuffled_round_robin", rng=random.Random(3)), n=20)
    assert all(d.target_difficulty is None and d.reason.startswith("shuffled round robin: ") for d in plain)
    aimed, _ = drive(Scheduler(course, policy="spread", rng=random.Random(3)), n=20)
    assert all(d.target_difficulty is not None and "item aimed at" in d.reason for d in aimed)


def test_round_robin_pairs_serves_each_skill_twice_in_a_row_in_course_order():
    course = bench.DEMO_COURSE[1]
    n_skills = len(course.skills)
    for policy in ("round_robin_pairs", "round_robin_pairs+target"):
        decisions, history = drive(Scheduler(course, policy=policy, rng=random.Random(2)), n=60, seed=2)
        skills = [d.skill_id for d in decisions]
        assert skills == [(i // 2) % n_skills for i in range(60)], f"{policy}: not pairs in course order"
        rng = random.Random(2)
        replayed = [next_item(course, history[:i], now=history[i].time, policy=policy, rng=rng) for i in range(60)]
        assert replayed == decisions, f"{policy}: replay differs from the incremental scheduler"
        assert [d.reason.rsplit(", the ", 1)[1][:6] for d in decisions[:4]] == ["first ", "second"] * 2
    aimed, _ = drive(Scheduler(course, policy="round_robin_pairs+target", rng=random.Random(2)), n=4)
    assert all(d.target_difficulty is not None and "item aimed at" in d.reason for d in aimed)
    # A history that left a skill with an odd count (another rule's) is finished off before the next skill.
    odd = [Observation("s0-5", 0, True, 0.0), Observation("s2-5", 2, True, 0.001)]
    small = small_course()
    assert next_item(small, odd, now=0.002, policy="round_robin_pairs").skill_id == 2
    paired = odd + [Observation("s2-6", 2, True, 0.002)]
    assert next_item(small, paired, now=0.003, policy="round_robin_pairs").skill_id == 1  # the least practised


def test_spread_sets_every_pair_side_by_side_more_evenly_than_a_shuffle():
    """Over 100 items on 10 skills, spread contrasts every pair; the plain shuffle leaves pairs never met."""
    course = bench.DEMO_COURSE[1]
    declared = set(course.confusable_pairs)

    def pairs(policy: str, seed: int) -> dict[tuple[int, int], int]:
        decisions, _ = drive(Scheduler(course, policy=policy, rng=random.Random(seed)), n=100, seed=seed)
        out: dict[tuple[int, int], int] = {}
        for a, b in zip(decisions, decisions[1:], strict=False):
            key = (min(a.skill_id, b.skill_id), max(a.skill_id, b.skill_id))
            out[key] = out.get(key, 0) + 1
        return out

    never = {"spread": 0, "shuffled_round_robin": 0}
    for seed in range(5):
        for policy in never:
            counts = pairs(policy, seed)
            never[policy] += sum(1 for a in range(10) for b in range(a + 1, 10) if (a, b) not in counts)
        spread_counts = pairs("spread", seed)
        others = [n for key, n in spread_counts.items() if key not in declared]
        # A declared confusable pair is set side by side more often than the average other pair.
        assert min(spread_counts.get(p, 0) for p in declared) > sum(others) / 45
    assert never["spread"] < never["shuffled_round_robin"]


def test_spread_gives_reasons_a_teacher_can_read():
    course = small_course()
    first = next_item(course, [], now=0.0, policy="spread", rng=random.Random(0))
    assert first.kind == "new" and first.reason.startswith(f"new skill: {course.skills[first.skill_id].name} (")
    # One round done (Basics, Other, Advanced): Advanced was set against Other, never against Basics.
    history = [
        Observation("s0-5", 0, True, 0.0),
        Observation("s2-5", 2, True, MINUTE),
        Observation("s1-5", 1, True, 2 * MINUTE),
    ]
    d = next_item(course, history, now=3 * MINUTE, policy="spread", rng=random.Random(0))
    assert (d.skill_id, d.kind) == (0, "practice")
    assert re.fullmatch(
        r"spread: Basics right after Advanced, set side by side never before \(2 more skills to go this round\); "
        r"item aimed at \d+ % success",
        d.reason,
    )
    history.append(Observation(d.item_id, 0, True, 3 * MINUTE))
    d = next_item(course, history, now=4 * MINUTE, policy="spread", rng=random.Random(0))
    assert (d.skill_id, d.kind) == (2, "interleave")
    assert d.reason.startswith(
        "spread: Other right after the easily confused Basics, set side by side once before (1 more skill to go this round)"
    )


def _planted_histories(n_students: int, *, seed: int) -> list[list[Observation]]:
    """Students on a four-skill course taught in shuffled rounds, where only skills 1 and 3 are confused.

    P(correct) rises with practice on the skill; on 1 and 3 it starts lower and each time the two were
    set side by side removes some of the confusion. Every other pair's contrasts change nothing.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(n_students):
        history: list[Observation] = []
        answered = dict.fromkeys(range(4), 0)
        contrasts_13 = 0
        for round_ in range(8):
            order = list(range(4))
            rng.shuffle(order)
            for skill in order:
                p = 0.4 + 0.05 * answered[skill]
                if skill in (1, 3):
                    p -= 0.25 * 0.6**contrasts_13
                correct = rng.random() < p
                t = (round_ * 4 + len(history) % 4) * MINUTE
                history.append(Observation(f"k{skill}-5", skill, correct, max(t, history[-1].time if history else 0.0)))
                answered[skill] += 1
                if len(history) > 1 and {history[-2].skill_id, skill} == {1, 3}:
                    contrasts_13 += 1
        out.append(history)
    return out


def test_contrast_weights_find_the_pair_students_confuse():
    skills = tuple(SkillSpec(k, f"S{k}") for k in range(4))
    course = CourseSpec(skills=skills, items=tuple(ItemSpec(f"k{k}-5", k, 0.5) for k in range(4)))
    weights = {(a, b): w for a, b, w in scheduling_api.learn_contrast_weights(course, _planted_histories(600, seed=1))}
    assert set(weights) == {(a, b) for a in range(4) for b in range(a + 1, 4)}
    assert max(weights, key=weights.__getitem__) == (1, 3)
    assert weights[(1, 3)] >= 2.0 and all(w < 1.5 for pair, w in weights.items() if pair != (1, 3))
    # Too little to compare pairs: nothing learned. An answer outside the course: refused.
    assert scheduling_api.learn_contrast_weights(course, []) == ()
    with pytest.raises(ValueError, match=r"histories\[0\]\[0\]: skill 9 is not in the course"):
        scheduling_api.learn_contrast_weights(course, [[Observation("x", 9, True, 0.0)]])


def test_course_contrast_weights_are_checked():
    skills = (SkillSpec(0, "A"), SkillSpec(1, "B"))
    items = (ItemSpec("a", 0), ItemSpec("b", 1))
    for weights, message in (
        (((0, 5, 1.0),), "must name two different skills"),
        (((1, 1, 1.0),), "must name two different skills"),
        (((0, 1, 0.0),), "not a positive number"),
        (((0, 1, float("nan")),), "not a positive number"),
        (((0, 1, 1.0), (1, 0, 2.0)), "given twice"),
    ):
        with pytest.raises(ValueError, match=message):
            CourseSpec(skills=skills, items=items, contrast_weights=weights)


def test_spread_sets_the_pairs_with_learned_weight_side_by_side_first():
    base = small_course()
    # Learned: students confuse Basics (0) with Advanced (1), not with Other (2), whatever was declared.
    course = CourseSpec(
        skills=base.skills, items=base.items, confusable_pairs=base.confusable_pairs,
        contrast_weights=((0, 1, 3.0), (0, 2, 0.5), (1, 2, 1.0)),
    )  # fmt: skip
    history = [
        Observation("s0-5", 0, True, 0.0),
        Observation("s2-5", 2, True, MINUTE),
        Observation("s1-5", 1, True, 2 * MINUTE),
        Observation("s0-4", 0, True, 3 * MINUTE),
    ]
    # After Basics, Advanced and Other are both due and each was set against Basics once: the learned
    # weights pick Advanced every time; the declaration alone would pick Other.
    for seed in range(5):
        d = next_item(course, history, now=4 * MINUTE, policy="spread", rng=random.Random(seed))
        assert (d.skill_id, d.kind) == (1, "interleave")
        assert d.reason.startswith("spread: Advanced right after Basics, which students often confuse with it")
        assert next_item(base, history, now=4 * MINUTE, policy="spread", rng=random.Random(seed)).skill_id == 2


def test_the_documented_learned_contrasts_example_runs():
    """docs/scheduler.md's second example, executed as written on the planted four-skill course."""
    block = re.search(r"<!-- example: learned-contrasts -->\s*```python\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "the learned-contrasts example is missing from docs/scheduler.md"
    skills = tuple(SkillSpec(k, f"S{k}") for k in range(4))
    course = CourseSpec(skills=skills, items=tuple(ItemSpec(f"k{k}-5", k, 0.5) for k in range(4)))
    namespace: dict = {"course": course, "histories": _planted_histories(300, seed=2)}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)
    scheduler = namespace["scheduler"]
    assert scheduler.policy == "spread" and len(scheduler.course.contrast_weights) == 6
    assert scheduler.next_item([], now=0.0).reason
