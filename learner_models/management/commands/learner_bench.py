"""Per-student refresh latency, next-choice prediction reads and batch re-adaptation, through the product's own services."""

import json
import sys
import time
from typing import Any

import numpy as np
import torch
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from learner_models import loader, services
from learner_models.core.base import state_to_bytes
from learner_models.mappers import sequence_after, sequence_for_student
from learner_models.models import StudentModelState
from learner_models.selectors import active_model_version, item_predictions_for_student, skill_predictions_for_student
from tutor.models import Attempt, Item, Skill, User

N_ITEMS = 50


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


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
        model = loader.load_model(version)
        skill_ids = list(Skill.objects.order_by("pk").values_list("pk", flat=True)[:50])
        # the scheduler's per-item question: 50 candidate items (the most answered, so the model knows them)
        candidates = list(
            Item.objects.annotate(n=Count("attempts")).order_by("-n", "pk").values_list("pk", "skill_id")[:N_ITEMS]
        )
        scratch, after_one, continued, predict_warm, predict_cold = [], [], 0, [], []
        score_items, items_read = [], []
        for i, (sid, count) in enumerate(students, start=1):
            student = User.objects.get(pk=sid)
            ids = list(Attempt.objects.filter(student_id=sid).order_by("created_at", "id").values_list("id", flat=True))
            seq = sequence_for_student(student_id=sid)[0]
            for _ in range(repeats):
                # a student with no stored state: adapt from every attempt
                StudentModelState.objects.filter(student_id=sid, model_version=version).delete()
                started = time.perf_counter()
                services.student_state_refresh(student_id=sid, version=version)
                scratch.append((time.perf_counter() - started) * 1000)
                if count < 2:
                    continue
                # the per-answer case: the stored state covers every attempt but the newest one
                StudentModelState.objects.filter(student_id=sid, model_version=version).update(
                    state=state_to_bytes(model.adapt([seq.prefix(count - 1)])[0]),
                    n_attempts=count - 1,
                    last_attempt_id=ids[-2],
                )
                continued += sequence_after(student_id=sid, last_attempt_id=ids[-2], n_attempts=count - 1) is not None
                started = time.perf_counter()
                services.student_state_refresh(student_id=sid, version=version)
                after_one.append((time.perf_counter() - started) * 1000)
                # the next choice's predictions: in the process that stored the state, then in another one
                started = time.perf_counter()
                skill_predictions_for_student(student=student, skill_ids=skill_ids)
                predict_warm.append((time.perf_counter() - started) * 1000)
                loader.states_forget()
                started = time.perf_counter()
                skill_predictions_for_student(student=student, skill_ids=skill_ids)
                predict_cold.append((time.perf_counter() - started) * 1000)
                # scoring the candidate items: the model alone (one core), then through the selector
                state = loader.state_unpacked(
                    StudentModelState.objects.get(student_id=sid, model_version=version).state
                )
                at = time.time()
                started = time.perf_counter()
                model.predict(state, [s for _, s in candidates], [i for i, _ in candidates], now=at)
                score_items.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                item_predictions_for_student(student=student, items=candidates)
                items_read.append((time.perf_counter() - started) * 1000)
            sys.stderr.write(f"\rrefresh: {i}/{len(students)} students")
        sys.stderr.write("\n")
        started = time.perf_counter()
        n = services.students_readapt(version=version)
        batch_s = time.perf_counter() - started
        result: dict[str, Any] = {
            "model_version": version.pk,
            "algorithm": version.algorithm,
            "students": len(students),
            "attempts_per_student_mean": float(np.mean([c for _, c in students])),
            "refresh_ms_p50": float(np.percentile(after_one, 50)) if after_one else None,
            "refresh_ms_p99": float(np.percentile(after_one, 99)) if after_one else None,
            "refresh_ms_max": float(np.max(after_one)) if after_one else None,
            "refresh_continued_share": continued / len(after_one) if after_one else None,
            "refresh_from_scratch_ms_p50": float(np.percentile(scratch, 50)),
            "refresh_from_scratch_ms_p99": float(np.percentile(scratch, 99)),
            "skills_predicted": len(skill_ids),
            "predictions_ms_p50": float(np.percentile(predict_warm, 50)) if predict_warm else None,
            "predictions_ms_p99": float(np.percentile(predict_warm, 99)) if predict_warm else None,
            "predictions_other_process_ms_p50": float(np.percentile(predict_cold, 50)) if predict_cold else None,
            "predictions_other_process_ms_p99": float(np.percentile(predict_cold, 99)) if predict_cold else None,
            "items_scored": len(candidates),
            "score_items_ms_p50": _pct(score_items, 50),
            "score_items_ms_p99": _pct(score_items, 99),
            "item_predictions_ms_p50": _pct(items_read, 50),
            "item_predictions_ms_p99": _pct(items_read, 99),
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
            ("refresh after one new answer, p50", _ms(result["refresh_ms_p50"]) + " (load, continue state, store)"),
            ("refresh after one new answer, p99", _ms(result["refresh_ms_p99"])),
            ("  of which continued the stored state", f"{100 * (result['refresh_continued_share'] or 0):.0f} %"),
            ("refresh from scratch, p50", _ms(result["refresh_from_scratch_ms_p50"]) + " (load, adapt all, store)"),
            ("refresh from scratch, p99", _ms(result["refresh_from_scratch_ms_p99"])),
            (
                f"next-choice predictions ({result['skills_predicted']} skills), p50 / p99",
                f"{_ms(result['predictions_ms_p50'])} / {_ms(result['predictions_ms_p99'])} (state just stored here)",
            ),
            (
                "  the same in another process, p50 / p99",
                f"{_ms(result['predictions_other_process_ms_p50'])} / {_ms(result['predictions_other_process_ms_p99'])}"
                " (state unpacked)",
            ),
            (
                f"score {result['items_scored']} candidate items, p50 / p99",
                f"{_ms(result['score_items_ms_p50'])} / {_ms(result['score_items_ms_p99'])} (the model, one core)",
            ),
            (
                "  through the selector, p50 / p99",
                f"{_ms(result['item_predictions_ms_p50'])} / {_ms(result['item_predictions_ms_p99'])}"
                " (active version and stored state read)",
            ),
            ("re-adapt all students (batched)", f"{batch_s:.2f} s for {n} students"),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key:<{width}}  {value}")
