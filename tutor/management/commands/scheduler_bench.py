"""How fast is choosing the next item? ``manage.py scheduler_bench [--json]``.

Builds a synthetic course (``--skills`` skills with prerequisite chains and confusable
pairs, authored items) and a student with ``--attempts`` past answers inside one
transaction that is rolled back, so the database is left as it was. Times the real
``item_next_for_student`` against the database, the pure policy on its own, and the
black-box interface (``tutor.scheduling_api``) that ``simulate`` and other simulators drive.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import timedelta

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from tutor import policies, scheduling_api
from tutor.management.bench_data import bench_items_create, run_rolled_back
from tutor.models import (
    Attempt,
    Course,
    Enrollment,
    Item,
    Organisation,
    PracticeSession,
    SchedulingRule,
    Section,
    SessionItem,
    Skill,
    User,
)
from tutor.scheduler import _estimate_key, item_next_for_student, skill_estimator_for_student


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    xs = sorted(samples_ms)

    def q(p: float) -> float:
        return xs[min(len(xs) - 1, max(0, round(p * (len(xs) - 1))))]

    return {
        "n": len(xs),
        "p50_ms": round(q(0.5), 3),
        "p95_ms": round(q(0.95), 3),
        "p99_ms": round(q(0.99), 3),
        "max_ms": round(xs[-1], 3),
        "mean_ms": round(statistics.fmean(xs), 3),
    }


class Command(BaseCommand):
    help = "Time the next-item choice for a student with many skills and a long history (database left unchanged)."

    def add_arguments(self, parser):
        parser.add_argument("--skills", type=int, default=50)
        parser.add_argument("--attempts", type=int, default=5000)
        parser.add_argument("--calls", type=int, default=300, help="timed calls of each kind")
        parser.add_argument("--items-per-skill", type=int, default=20)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--rule",
            default=SchedulingRule.ADAPTIVE,
            choices=SchedulingRule.values,
            help="the class's scheduling rule (default adaptive)",
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opt):
        if opt["skills"] < 2 or opt["attempts"] < 0 or opt["calls"] < 10:
            raise CommandError("--skills must be at least 2, --calls at least 10")
        results: dict = {}
        run_rolled_back(lambda: self._run(opt, results))
        results["database"] = connection.vendor
        results["rule"] = opt["rule"]
        if opt["json"]:
            self.stdout.write(json.dumps(results, indent=2))
            return
        self.stdout.write(
            f"{opt['skills']} skills, {opt['attempts']} past attempts, {opt['calls']} calls each, "
            f"database {connection.vendor}, rule {opt['rule']}"
        )
        header = f"{'what':<44} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for key, label in (
            ("item_next_for_student", "item_next_for_student (estimate cached)"),
            ("item_next_for_student_cold", "item_next_for_student (cache empty)"),
            ("estimate_from_history", "  of which: estimate rebuilt from history"),
            ("policy_adaptive", "pure adaptive policy (views + choice)"),
            ("api_scheduler", "scheduling_api: Scheduler.next_item (folded)"),
            ("api_replay", "scheduling_api: next_item (history replayed)"),
        ):
            r = results[key]
            self.stdout.write(
                f"{label:<44} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.2f}"
            )
        self.stdout.write(f"queries per choice (estimate cached): {results['queries_per_choice']}")

    def _run(self, opt: dict, results: dict) -> None:
        rng = random.Random(opt["seed"])
        n_skills = opt["skills"]
        self.stderr.write("building the synthetic course and history...")
        org = Organisation.objects.create(slug="scheduler-bench-org", name="Scheduler bench")
        course = Course.objects.create(slug="scheduler-bench-course", title="Scheduler bench")
        skills = Skill.objects.bulk_create(
            Skill(course=course, slug=f"bench-skill-{i}", name=f"Skill {i}", position=i) for i in range(n_skills)
        )
        for i, skill in enumerate(skills):
            if i % 5:
                skill.prerequisites.add(skills[i - 1])
            if i % 2 and i + 1 < n_skills:
                skill.confusable_with.add(skills[i + 1])
        items = bench_items_create(course=course, skills=skills, per_skill=opt["items_per_skill"], rng=rng)
        by_skill: dict[int, list[Item]] = {}
        for item in items:
            by_skill.setdefault(item.skill_id, []).append(item)
        student = User.objects.create(username="scheduler-bench-student", organisation=org)
        section = Section.objects.create(organisation=org, name="Scheduler bench", course=course, session_length=50)
        Enrollment.objects.create(section=section, student=student)
        now = timezone.now()
        start = now - timedelta(days=120)
        Attempt.objects.bulk_create(
            (
                Attempt(
                    student=student,
                    item=(
                        item := rng.choice(by_skill[skills[min(n_skills - 1, int(rng.random() ** 0.7 * n_skills))].pk])
                    ),
                    skill_id=item.skill_id,
                    answer="2",
                    correct=rng.random() < 0.7,
                    confidence=0.5,
                    idempotency_key=f"bench-{k}",
                    created_at=start + timedelta(days=120 * k / max(1, opt["attempts"])),
                )
                for k in range(opt["attempts"])
            ),
            batch_size=1000,
        )
        if connection.vendor == "postgresql":
            # A live database has planner statistics; rows made inside this transaction have none yet.
            with connection.cursor() as cursor:
                for table in ("tutor_attempt", "tutor_item", "tutor_skill", "tutor_sessionitem"):
                    cursor.execute(f"ANALYZE {table}")
        Section.objects.filter(pk=section.pk).update(scheduling_rule=opt["rule"])
        session = PracticeSession.objects.create(
            student=student, section=section, started_at=now, planned_items=50, scheduling_rule=opt["rule"]
        )
        section = Section.objects.select_related("course").get(pk=section.pk)
        session.section = section

        calls = opt["calls"]
        timings, cold, estimates = [], [], []
        for _n in range(3):  # warm caches (connections, query plans)
            item_next_for_student(session=session, rng=rng)
        queries = 0
        for n in range(calls):
            if n % 3 == 2:  # every third choice: as if this worker had never seen the student
                cache.delete(_estimate_key(student.pk))
                t0 = time.perf_counter()
                choice = item_next_for_student(session=session, rng=rng)
                cold.append(1000 * (time.perf_counter() - t0))
            else:
                t0 = time.perf_counter()
                with _CountQueries() as counter:
                    choice = item_next_for_student(session=session, rng=rng)
                timings.append(1000 * (time.perf_counter() - t0))
                queries = counter.count
            # Serve and answer it (untimed), so the history moves on as in real practice.
            served = SessionItem.objects.create(
                session=session, item=choice.item, position=n + 1, served_at=timezone.now(), reason=choice.reason
            )
            Attempt.objects.create(
                student=student,
                item=choice.item,
                skill_id=choice.item.skill_id,
                session=session,
                session_item=served,
                answer="2",
                correct=rng.random() < 0.7,
                confidence=0.5,
                idempotency_key=f"bench-live-{n}",
                created_at=timezone.now(),
            )
            t0 = time.perf_counter()
            skill_estimator_for_student(student_id=student.pk, skill_ids=[s.pk for s in skills], use_cache=False)
            estimates.append(1000 * (time.perf_counter() - t0))
            if (n + 1) % 50 == 0:
                self.stderr.write(f"  {n + 1}/{calls} choices timed")
        results["item_next_for_student"] = _percentiles(timings)
        results["item_next_for_student_cold"] = _percentiles(cold)
        results["estimate_from_history"] = _percentiles(estimates)
        results["queries_per_choice"] = queries

        # The pure policy: 50 skills, an estimator fed the same number of answers.
        structure = [
            policies.SkillView(
                skill_id=i,
                name=f"Skill {i}",
                position=i,
                prerequisites=(i - 1,) if i % 5 else (),
                confusable_with=((i + 1,) if i % 2 and i + 1 < n_skills else ())
                + ((i - 1,) if i % 2 == 0 and i else ()),
            )
            for i in range(n_skills)
        ]
        est = policies.SkillEstimator(range(n_skills))
        for k in range(opt["attempts"]):
            est.observe(rng.randrange(n_skills), correct=rng.random() < 0.7, now=120 * k / max(1, opt["attempts"]))
        pure = []
        last = None
        for n in range(calls):
            t0 = time.perf_counter()
            views = policies.views_from_estimator(est, structure, now=120.0 + n / 1440)
            pick = policies.choose("adaptive", views, ctx=policies.Context(last_skill_id=last), rng=rng)
            pure.append(1000 * (time.perf_counter() - t0))
            last = pick.skill_id
            est.observe(pick.skill_id, correct=rng.random() < 0.7, now=120.0 + n / 1440)
        results["policy_adaptive"] = _percentiles(pure)

        results["api_scheduler"], results["api_replay"] = _time_scheduling_api(
            structure, attempts=opt["attempts"], items_per_skill=opt["items_per_skill"], calls=calls, rng=rng
        )


def _time_scheduling_api(
    structure: list[policies.SkillView], *, attempts: int, items_per_skill: int, calls: int, rng: random.Random
) -> tuple[dict[str, float], dict[str, float]]:
    """The black-box interface on the same structure and as long a history: per-call times in ms.

    A ``Scheduler`` that has folded the history (each call folds the one new answer, as in a
    simulator), and a choice from scratch (``next_item`` replays the whole history).
    """
    course = scheduling_api.CourseSpec(
        skills=tuple(scheduling_api.SkillSpec(v.skill_id, v.name, v.prerequisites) for v in structure),
        items=tuple(
            scheduling_api.ItemSpec(f"{i}-{j}", i, rng.uniform(0.1, 0.9))
            for i in range(len(structure))
            for j in range(items_per_skill)
        ),
        confusable_pairs=tuple(
            sorted({(min(v.skill_id, c), max(v.skill_id, c)) for v in structure for c in v.confusable_with})
        ),
    )
    history = []
    for k in range(attempts):
        skill = rng.randrange(len(structure))
        item = f"{skill}-{rng.randrange(items_per_skill)}"
        history.append(scheduling_api.Observation(item, skill, rng.random() < 0.7, 120 * k / max(1, attempts)))
    scheduler = scheduling_api.Scheduler(course, rng=rng)
    scheduler.next_item(history, now=120.0)  # the first call folds the whole history (untimed)
    folded, replayed = [], []
    for n in range(calls):
        now = 120.0 + (n + 1) / 1440
        t0 = time.perf_counter()
        decision = scheduler.next_item(history, now=now)
        folded.append(1000 * (time.perf_counter() - t0))
        history.append(scheduling_api.Observation(decision.item_id, decision.skill_id, rng.random() < 0.7, now))
    for _n in range(max(10, calls // 10)):
        t0 = time.perf_counter()
        scheduling_api.next_item(course, history, now=history[-1].time, rng=rng)
        replayed.append(1000 * (time.perf_counter() - t0))
    return _percentiles(folded), _percentiles(replayed)


class _CountQueries:
    """Counts the queries run inside the block (works without DEBUG)."""

    def __enter__(self) -> _CountQueries:
        self.count = 0
        self._ctx = connection.execute_wrapper(self._wrap)
        self._ctx.__enter__()
        return self

    def _wrap(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)
