"""Per-student refresh latency and batch re-adaptation, through the product's own services."""

import json
import sys
import time

import numpy as np
import torch
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from learner_models import loader, services
from learner_models.selectors import active_model_version
from tutor.models import Attempt


class Command(BaseCommand):
    help = "Measure per-student state refresh (one answer) and re-adaptation of every student, on the active model."

    def add_arguments(self, parser):
        parser.add_argument("--repeats", type=int, default=5, help="refreshes per student")
        parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = one core, as served)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, repeats: int, threads: int, **options):
        version = active_model_version()
        if version is None:
            raise CommandError("no active model version: run `manage.py metatrain` first")
        torch.set_num_threads(threads)
        loader.load_model(version)  # warm: serving processes keep the model loaded
        students = list(
            Attempt.objects.values("student_id")
            .annotate(n=Count("id"))
            .order_by("student_id")
            .values_list("student_id", "n")
        )
        if not students:
            raise CommandError("no attempts to adapt from: run `manage.py demo_seed` first")
        times = []
        for i, (sid, _) in enumerate(students, start=1):
            for _ in range(repeats):
                started = time.perf_counter()
                services.student_state_refresh(student_id=sid, version=version)
                times.append((time.perf_counter() - started) * 1000)
            sys.stderr.write(f"\rrefresh: {i}/{len(students)} students")
        sys.stderr.write("\n")
        started = time.perf_counter()
        n = services.students_readapt(version=version)
        batch_s = time.perf_counter() - started
        result = {
            "model_version": version.pk,
            "algorithm": version.algorithm,
            "students": len(students),
            "attempts_per_student_mean": float(np.mean([c for _, c in students])),
            "refresh_ms_p50": float(np.percentile(times, 50)),
            "refresh_ms_p99": float(np.percentile(times, 99)),
            "refresh_ms_max": float(np.max(times)),
            "batch_readapt_students": n,
            "batch_readapt_seconds": batch_s,
            "threads": threads,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        rows = [
            ("model version", f"v{result['model_version']} ({result['algorithm']})"),
            ("students", f"{result['students']} (mean {result['attempts_per_student_mean']:.0f} attempts)"),
            ("refresh one student, p50", f"{result['refresh_ms_p50']:.1f} ms (load, adapt, store)"),
            ("refresh one student, p99", f"{result['refresh_ms_p99']:.1f} ms"),
            ("re-adapt all students (batched)", f"{batch_s:.2f} s for {n} students"),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key:<{width}}  {value}")
