"""How fast is the class overview? ``manage.py dashboard_bench --students 200 --skills 100 --attempts 200000 [--json]``.

Builds a synthetic class (one teacher, ``--students`` students, ``--skills`` skills, ``--attempts`` answers
spread over 60 days in the class's sessions) inside one transaction that is rolled back, so the database is
left as it was. Renders the real page (view, selectors, template) ``--renders`` times through
``RequestFactory`` and prints the server time and the number of queries. On a busy machine the wall-clock
time mostly measures the other processes: the CPU time of this process (the view, selectors and template,
not PostgreSQL's own work) says what the code costs.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import random
import statistics
import time
from datetime import timedelta
from typing import cast

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tutor.dashboards import class_overview
from tutor.http import AuthedRequest
from tutor.management.bench_data import bench_items_create, run_rolled_back
from tutor.models import Attempt, Course, Enrollment, Organisation, PracticeSession, Section, Skill, User
from tutor.services import day_tallies_rebuild, skill_tallies_rebuild


class Command(BaseCommand):
    help = "Time the class overview page on a large synthetic class (database left unchanged)."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=200)
        parser.add_argument("--skills", type=int, default=100)
        parser.add_argument("--attempts", type=int, default=200_000)
        parser.add_argument("--renders", type=int, default=7, help="timed renders (one untimed warm-up before)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--profile", action="store_true", help="print where one render spends its time (cProfile)")

    def handle(self, *args, **opt):
        if opt["students"] < 1 or opt["skills"] < 1 or opt["attempts"] < 0 or opt["renders"] < 1:
            raise CommandError("--students, --skills and --renders must be at least 1, --attempts at least 0")
        results: dict = {}
        run_rolled_back(lambda: self._run(opt, results))
        results.update(
            students=opt["students"], skills=opt["skills"], attempts=opt["attempts"], database=connection.vendor
        )
        if opt["json"]:
            self.stdout.write(json.dumps(results, indent=2))
            return
        self.stdout.write(
            f"class overview: {opt['students']} students, {opt['skills']} skills, {opt['attempts']} answers, "
            f"{results['renders']} renders, database {connection.vendor}"
        )
        self.stdout.write(
            f"{'median server ms':>18} {'best server ms':>15} {'p95 server ms':>14} {'median CPU ms':>14} "
            f"{'queries':>8} {'page KB':>8}"
        )
        self.stdout.write(
            f"{results['median_ms']:>18.1f} {results['best_ms']:>15.1f} {results['p95_ms']:>14.1f} "
            f"{results['median_cpu_ms']:>14.1f} "
            f"{results['queries']:>8} {results['page_kb']:>8.0f}"
        )

    def _run(self, opt: dict, results: dict) -> None:
        rng = random.Random(opt["seed"])
        n_students, n_skills, n_attempts = opt["students"], opt["skills"], opt["attempts"]
        self.stderr.write("building the synthetic class...")
        org = Organisation.objects.create(slug="dashboard-bench-org", name="Dashboard bench")
        course = Course.objects.create(slug="dashboard-bench-course", title="Dashboard bench")
        skills = Skill.objects.bulk_create(
            Skill(course=course, slug=f"bench-skill-{i}", name=f"Skill {i}", position=i) for i in range(n_skills)
        )
        items = bench_items_create(course=course, skills=skills, per_skill=2, rng=rng)
        section = Section.objects.create(organisation=org, name="Dashboard bench", course=course)
        teacher = User.objects.create(username="dashboard-bench-teacher", organisation=org, role=User.Role.TEACHER)
        section.teachers.add(teacher)
        students = User.objects.bulk_create(
            User(username=f"dashboard-bench-{i}", first_name=f"Student {i}", organisation=org)
            for i in range(n_students)
        )
        Enrollment.objects.bulk_create(Enrollment(section=section, student=s) for s in students)
        now = timezone.now()
        sessions_per_student = 20
        sessions = PracticeSession.objects.bulk_create(
            PracticeSession(student=s, section=section, started_at=now - timedelta(days=60 - 3 * k), ended_at=now)
            for s in students
            for k in range(sessions_per_student)
        )
        ability = [rng.uniform(0.3, 0.9) for _ in students]
        # On PostgreSQL the tallies are written once from the answers (below) rather than by the triggers on
        # each of the 200,000 inserts: inside this one rolled-back transaction autovacuum cannot run, so the
        # triggers' ~10 updates per tally row would leave the tally tables ~10 times their size in dead row
        # versions, a state a live database never stays in. `session_replication_role` switches the triggers
        # off for this transaction only (superuser; otherwise they stay on and the tables stay bloated).
        rebuilt = False
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                row = cursor.fetchone()
                if row and row[0]:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                    rebuilt = True
        done = 0
        batch = 20_000
        while done < n_attempts:
            rows = []
            for k in range(done, min(n_attempts, done + batch)):
                si = rng.randrange(n_students)
                day = rng.random()  # spread over the 60 days, later answers more likely
                item = items[rng.randrange(len(items))]
                rows.append(
                    Attempt(
                        student_id=students[si].pk,
                        item=item,
                        skill_id=item.skill_id,
                        session=sessions[si * sessions_per_student + min(sessions_per_student - 1, int(day * 20))],
                        answer="2",
                        correct=rng.random() < ability[si],
                        confidence=rng.choice((0.25, 0.5, 0.75, 1.0)),
                        idempotency_key=f"bench-{k}",
                        created_at=now - timedelta(days=60 * (1 - day**0.5)),
                    )
                )
            Attempt.objects.bulk_create(rows, batch_size=2000)
            done += len(rows)
            self.stderr.write(f"  {done}/{n_attempts} answers stored")
        if rebuilt:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")
            ids = [s.pk for s in students]
            skill_tallies_rebuild(student_ids=ids)
            day_tallies_rebuild(student_ids=ids)
            self.stderr.write("  tallies written from the answers")
        results["tallies"] = "rebuilt from the answers" if rebuilt else "kept by the triggers"
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # planner statistics, as autovacuum keeps them on a live database: the answers and the tallies
                # the triggers filled (without them the tally reads are planned blind)
                for table in ("tutor_attempt", "tutor_skilltally", "tutor_daytally"):
                    cursor.execute(f"ANALYZE {table}")

        factory = RequestFactory()

        cpu: list[float] = []

        def render() -> tuple[float, int, int]:
            request = factory.get(f"/classes/{section.pk}/")
            request.user = teacher
            with CaptureQueriesContext(connection) as queries:
                t0, c0 = time.perf_counter(), time.process_time()
                response = class_overview(cast(AuthedRequest, request), section_id=section.pk)
                ms = 1000 * (time.perf_counter() - t0)
                cpu.append(1000 * (time.process_time() - c0))
            assert response.status_code == 200, response.status_code
            if opt["verbosity"] >= 2:  # where the time goes: each query's own seconds
                for q in queries.captured_queries:
                    self.stderr.write(f"    {q['time']} s  {q['sql'][:160]}")
            return ms, len(queries), len(response.content)

        render()  # warm-up: template loading, query plans
        cpu.clear()
        if opt["profile"]:
            profiler = cProfile.Profile()
            profiler.runcall(render)
            cpu.clear()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            self.stderr.write(out.getvalue())
        timings = []
        for n in range(opt["renders"]):
            ms, queries, size = render()
            timings.append(ms)
            self.stderr.write(f"  render {n + 1}/{opt['renders']}: {ms:.0f} ms, {queries} queries")
        xs = sorted(timings)
        results.update(
            renders=len(xs),
            median_ms=round(statistics.median(xs), 1),
            best_ms=round(xs[0], 1),
            median_cpu_ms=round(statistics.median(cpu), 1),
            p95_ms=round(xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], 1),
            queries=queries,
            page_kb=round(size / 1024, 1),
        )
