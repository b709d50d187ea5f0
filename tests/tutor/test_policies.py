"""The pure scheduling policies and the online estimate they read (no database)."""

from __future__ import annotations

import random

import pytest

from tutor import policies
from tutor.policies import Context, PolicySettings, SkillEstimator, SkillView


def view(skill_id: int, **kw) -> SkillView:
    kw.setdefault("name", f"S{skill_id}")
    kw.setdefault("position", skill_id)
    return SkillView(skill_id=skill_id, **kw)


def practised(skill_id: int, *, p: float = 0.6, days: float = 0.01, recall: float = 0.95, n: int = 6, **kw):
    return view(
        skill_id, p_correct=p, days_since=days, recall=recall, n_attempts=n, uncertainty=1 / (1 + n) ** 0.5, **kw
    )


def test_prerequisites_are_respected():
    base = practised(0, p=0.3, n=3)  # not yet solid
    advanced = view(1, prerequisites=(0,), p_correct=0.3)
    other = practised(2, p=0.9, n=10)
    for seed in range(20):
        choice = policies.choose(
            "adaptive", [base, advanced, other], ctx=Context(last_skill_id=2), rng=random.Random(seed)
        )
        assert choice.skill_id != 1
    solid = practised(0, p=0.8, n=10)
    choices = {
        policies.choose(
            "adaptive", [solid, advanced, other], ctx=Context(last_skill_id=0), rng=random.Random(s)
        ).skill_id
        for s in range(5)
    }
    assert choices == {1}, "a skill whose prerequisite is solid and has all to learn should come next"


def test_never_the_skill_just_seen_when_there_is_another():
    views = [practised(0, p=0.2), practised(1, p=0.9, n=30)]
    choice = policies.choose("adaptive", views, ctx=Context(last_skill_id=0), rng=random.Random(0))
    assert choice.skill_id == 1
    only = [practised(0, p=0.2)]
    assert policies.choose("adaptive", only, ctx=Context(last_skill_id=0)).skill_id == 0


def test_confusable_skill_is_interleaved_after_its_partner():
    a = practised(0, p=0.6, confusable_with=(1,))
    b = practised(1, p=0.6, confusable_with=(0,), position=9)  # last in course order: only contrast favours it
    c = practised(2, p=0.6)
    choice = policies.choose("adaptive", [a, b, c], ctx=Context(last_skill_id=0), rng=random.Random(1))
    assert choice.skill_id == 1 and choice.kind == "interleave"
    assert "right after the easily confused S0" in choice.reason


def test_fading_skill_comes_due_for_review_with_a_reason():
    fresh = [practised(i, p=0.7, recall=0.97, days=0.01) for i in range(1, 4)]
    fading = practised(0, p=0.58, recall=0.35, days=6.2, name="fractions")
    choice = policies.choose("adaptive", [*fresh, fading], ctx=Context(last_skill_id=1), rng=random.Random(0))
    assert choice.skill_id == 0 and choice.kind == "review"
    assert choice.reason == "review: fractions not practised for 6 days, predicted recall 58 %"


def test_a_review_the_student_agreed_to_comes_first_unless_just_seen_or_not_ready():
    mastered = practised(0, p=0.95, recall=0.99, n=20, name="fractions")  # the policy alone would leave it
    weak_new = view(1, p_correct=0.3)
    blocked = practised(2, p=0.9, n=10, prerequisites=(1,), name="ratios")  # its prerequisite is not solid
    views = [mastered, weak_new, blocked, practised(3, p=0.4)]
    alone = policies.choose("adaptive", views, ctx=Context(last_skill_id=3), rng=random.Random(0))
    assert alone.skill_id != 0
    agreed = Context(last_skill_id=3, agreed_reviews=frozenset({0}))
    choice = policies.choose("adaptive", views, ctx=agreed, rng=random.Random(0))
    assert (choice.skill_id, choice.kind) == (0, "review")
    assert choice.reason == "review you agreed to: fractions, predicted success 95 %"
    # never right after itself, and never before its prerequisites
    assert policies.choose("adaptive", views, ctx=Context(last_skill_id=0, agreed_reviews=frozenset({0}))).skill_id != 0
    assert policies.choose("adaptive", views, ctx=Context(last_skill_id=3, agreed_reviews=frozenset({2}))).skill_id != 2


def test_review_weight_changes_the_choice():
    weak_new = practised(1, p=0.45, recall=0.99, days=0.01)
    fading = practised(0, p=0.6, recall=0.5, days=4)
    ctx = Context(last_skill_id=2)
    extra = practised(2, p=0.9, n=20)
    heavy = policies.choose("adaptive", [fading, weak_new, extra], ctx=ctx, settings=PolicySettings(review_weight=2.0))
    none = policies.choose("adaptive", [fading, weak_new, extra], ctx=ctx, settings=PolicySettings(review_weight=0.0))
    assert heavy.skill_id == 0 and none.skill_id == 1


def test_aims_items_at_the_target_success():
    v = practised(0, p=0.5)
    easy = policies.choose("adaptive", [v], settings=PolicySettings(target_success=0.85))
    hard = policies.choose("adaptive", [v], settings=PolicySettings(target_success=0.55))
    assert easy.target_difficulty < hard.target_difficulty < 0.5
    assert easy.p_correct == pytest.approx(0.85, abs=0.01) and hard.p_correct == pytest.approx(0.55, abs=0.01)


def test_target_baselines_pick_the_skill_their_rule_picks_and_aim_as_adaptive_does():
    """The fair controls: only which skill differs from adaptive, never how hard the item is."""
    views = [practised(0, p=0.8, n=4), practised(1, p=0.35, n=4), view(2, p_correct=0.5)]
    settings = PolicySettings(target_success=0.75)
    for base in ("blocked", "random", "round_robin"):
        for seed in range(5):
            plain = policies.choose(base, views, settings=settings, rng=random.Random(seed))
            aimed = policies.choose(f"{base}+target", views, settings=settings, rng=random.Random(seed))
            assert plain.target_difficulty is None and aimed.skill_id == plain.skill_id
            p = next(v.p_correct for v in views if v.skill_id == aimed.skill_id)
            assert (aimed.target_difficulty, aimed.p_correct) == policies.aim(p, 0.75)
            assert aimed.p_correct == pytest.approx(0.75, abs=0.01) and "aimed at 75 %" in aimed.reason
    only = [practised(1, p=0.35, n=4)]
    rule = policies.choose("round_robin+target", only, settings=settings)
    assert rule.target_difficulty == policies.choose("adaptive", only, settings=settings).target_difficulty


def test_skills_in_play_limit_the_choice():
    views = [view(i, p_correct=0.3) for i in range(5)]
    settings = PolicySettings(skills_in_play=frozenset({3, 4}))
    ctx = Context(what_if=lambda s, d, days: policies.Forecast(0.5, 0.5 + s / 100, 0.5, 0.5))  # for expected_gain
    for name in policies.POLICIES:
        for seed in range(10):
            choice = policies.choose(name, views, ctx=ctx, settings=settings, rng=random.Random(seed))
            assert choice.skill_id in {3, 4}


def test_uncertain_skill_is_explored():
    known = practised(0, p=0.5, n=200)
    unsure = practised(1, p=0.5, n=1)
    assert policies.choose("adaptive", [known, unsure], ctx=Context(last_skill_id=2)).skill_id == 1


def test_baselines_behave_as_named():
    views = [view(i) for i in range(3)]
    assert policies.choose("blocked", views, ctx=Context(budget_per_skill=4)).skill_id == 0
    views[0] = view(0, n_attempts=4)
    assert policies.choose("blocked", views, ctx=Context(budget_per_skill=4)).skill_id == 1
    assert policies.choose("round_robin", views).skill_id == 1
    picks = {policies.choose("random", views, rng=random.Random(s)).skill_id for s in range(30)}
    assert picks == {0, 1, 2}
    with pytest.raises(ValueError):
        policies.choose("nope", views)
    with pytest.raises(ValueError):
        policies.choose("adaptive", [])


def test_estimator_learns_from_answers_and_forgets_with_time():
    est = SkillEstimator([0, 1])
    start = est.p_correct(0, now=0.0)
    for i in range(6):
        est.observe(0, correct=True, now=i / 1440)
    learned = est.p_correct(0, now=0.01)
    assert learned > start + 0.2
    assert est.p_correct(0, now=10.0) < learned - 0.1, "ten days later the estimate should have faded"
    for i in range(6):
        est.observe(1, correct=False, now=i / 1440)
    assert est.p_correct(1, now=0.01) < start
    assert est.get(0).uncertainty() < SkillEstimator([0]).get(0).uncertainty()


def test_spaced_success_lengthens_the_estimated_half_life():
    massed, spaced = SkillEstimator([0]), SkillEstimator([0])
    for i in range(5):
        massed.observe(0, correct=True, now=i / 1440)
        spaced.observe(0, correct=True, now=float(2 * i))
    assert spaced.get(0).half_life > 2 * massed.get(0).half_life


def test_adaptive_sequence_interleaves_and_never_repeats():
    """A short run on the demo structure with simulated answers: no immediate repeats, pairs adjacent often."""
    from tutor.scheduling_api import skill_views
    from tutor.simulator import bench, population

    sim_skills, course = bench.DEMO_COURSE
    structure = skill_views(course)
    student = population(n=1, skills=sim_skills, seed=3)[0]
    est = SkillEstimator(v.skill_id for v in structure)
    rng = random.Random(3)
    seq: list[int] = []
    for i in range(80):
        student.advance(2.0 if i and i % 20 == 0 else 1 / 1440)
        views = policies.views_from_estimator(est, structure, now=student.now)
        c = policies.choose("adaptive", views, ctx=Context(last_skill_id=seq[-1] if seq else None), rng=rng)
        r = student.present(c.skill_id, c.target_difficulty)
        est.observe(c.skill_id, correct=r.correct, now=student.now, difficulty=c.target_difficulty)
        seq.append(c.skill_id)
    assert all(a != b for a, b in zip(seq, seq[1:], strict=False))
    confusable = {(v.skill_id, c) for v in structure for c in v.confusable_with}
    pairs = sum((a, b) in confusable for a, b in zip(seq, seq[1:], strict=False))
    assert pairs >= 8, f"only {pairs} confusable transitions in 80 items"
    for v in structure:
        if v.skill_id in seq:
            first = seq.index(v.skill_id)
            assert all(p in seq[:first] for p in v.prerequisites), f"{v.name} served before its prerequisites"
    assert len(set(seq)) >= 6, "practice should spread over the course, not stay on a few skills"


# --- expected gain ------------------------------------------------------------------------------


def _sig(x: float) -> float:
    import math

    return 1 / (1 + math.exp(-x))


def test_forecast_of_a_new_skill_is_the_estimators_own_update_and_its_gain_is_positive():
    est = SkillEstimator([0])
    f = est.forecast(0, now=0.0, at=0.25)  # a quarter day ahead, a middling item
    # By hand: start at the prior -0.5; P(right) = sigmoid(-0.5); step k = 1.2 + 0.25 = 1.45; half-life 0.5 day.
    p = _sig(-0.5)
    kept = 2 ** (-0.25 / 0.5)
    assert f.p_answer == pytest.approx(p)
    assert f.if_correct == pytest.approx(_sig(-0.5 + 1.45 * (1 - p) * kept))
    assert f.if_wrong == pytest.approx(_sig(-0.5 - 1.45 * p * kept))
    assert f.if_skipped == pytest.approx(p)
    assert f.gain == pytest.approx(p * f.if_correct + (1 - p) * f.if_wrong - p)
    assert f.gain > 0
    assert est.get(0).n == 0 and est.get(0).last_t is None  # a what-if changes nothing


def test_a_skill_about_to_be_forgotten_gains_more_than_a_fresh_mastered_one():
    est = SkillEstimator([0, 1])
    fading, fresh = est.get(0), est.get(1)
    for e in (fading, fresh):
        e.theta, e.theta_prior, e.half_life, e.n = 2.5, -0.5, 1.0, 6
    fading.last_t = 0.0  # a day ago: half of it is gone
    fresh.last_t = 1.0 - 1e-4  # just answered, and answered well
    g_fading = est.forecast(0, now=1.0, at=3.0).gain
    g_fresh = est.forecast(1, now=1.0, at=3.0).gain
    assert g_fading > g_fresh
    assert g_fading > 0.05  # a right answer after a day's gap more than doubles the half-life
    with pytest.raises(ValueError, match="at must not be before now"):
        est.forecast(0, now=1.0, at=0.5)


def _what_if(gains: dict[int, float]):
    def what_if(skill_id: int, difficulty: float, days: float) -> policies.Forecast:
        assert days == PolicySettings().horizon_days
        return policies.Forecast(
            p_answer=0.7, if_correct=0.5 + gains[skill_id], if_wrong=0.5 + gains[skill_id], if_skipped=0.5
        )

    return what_if


def test_expected_gain_picks_the_largest_gain_among_ready_skills_ties_by_course_order():
    base = practised(0, p=0.3, n=3)  # not yet solid
    advanced = view(1, prerequisites=(0,), p_correct=0.3)
    a, b = practised(2, p=0.6), practised(3, p=0.6)
    skills = [base, advanced, a, b]
    ctx = Context(last_skill_id=0, what_if=_what_if({0: 0.01, 1: 0.5, 2: 0.03, 3: 0.02}))
    choice = policies.choose("expected_gain", skills, ctx=ctx)
    assert choice.skill_id == 2  # 1 would gain more, but its prerequisite is not solid
    d, p_at = policies.aim(0.6, PolicySettings().target_success)
    assert (choice.target_difficulty, choice.p_correct) == (d, p_at)
    tie = Context(what_if=_what_if({0: 0.01, 1: 0.5, 2: 0.03, 3: 0.03}))
    assert policies.choose("expected_gain", skills, ctx=tie).skill_id == 2
    # No bonus for the skill just practised, nor against it: only the forecast decides.
    assert policies.choose("expected_gain", skills, ctx=Context(last_skill_id=2, what_if=tie.what_if)).skill_id == 2


def test_expected_gain_reasons_in_plain_words():
    skills = [view(0, p_correct=0.4), practised(1, p=0.6, days=3.0, recall=0.3)]
    choice = policies.choose("expected_gain", skills, ctx=Context(what_if=_what_if({0: 0.01, 1: 0.042})))
    assert choice.kind == "review"
    assert choice.reason.startswith(
        "review S1 (not practised for 3 days): one more item now should raise what you'll remember next week by 4.2 points"
    )
    choice = policies.choose("expected_gain", skills, ctx=Context(what_if=_what_if({0: 0.05, 1: 0.042})))
    assert choice.kind == "new" and choice.reason.startswith("start S0: ")
    short = PolicySettings(horizon_days=2.0)
    ctx = Context(what_if=lambda s, d, days: policies.Forecast(0.5, 0.6, 0.6, 0.5))
    assert (
        "remember in 2 days by 10.0 points" in policies.choose("expected_gain", skills, ctx=ctx, settings=short).reason
    )


def test_expected_gain_serves_an_agreed_review_first_and_needs_forecasts():
    skills = [view(0, p_correct=0.4), practised(1, p=0.6)]
    ctx = Context(agreed_reviews=frozenset({1}), what_if=_what_if({0: 0.5, 1: 0.0}))
    choice = policies.choose("expected_gain", skills, ctx=ctx)
    assert (choice.skill_id, choice.kind) == (1, "review")
    with pytest.raises(ValueError, match="needs Context.what_if"):
        policies.choose("expected_gain", skills)
