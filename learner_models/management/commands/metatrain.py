import json
import sys

from django.core.management.base import BaseCommand, CommandError

from learner_models import services
from learner_models.core.registry import MODEL_NAMES
from learner_models.models import ModelVersion, TrainingRun


class Command(BaseCommand):
    help = "Meta-train a learner model on all attempts so far; promote it if it beats the active version."

    def add_arguments(self, parser):
        parser.add_argument("--model", default="best", choices=MODEL_NAMES, help="algorithm (default: best)")
        parser.add_argument(
            "--hyperparameters", default="{}", help="JSON object of config overrides, e.g. '{\"epochs\": 5}'"
        )
        parser.add_argument("--async", dest="run_async", action="store_true", help="queue it on the metatrain queue")
        parser.add_argument("--device", default=None, help="auto|cpu|cuda (default: METIS_TRAIN_DEVICE or auto)")
        parser.add_argument("--if-none", action="store_true", help="only if no model version is active yet")

    def handle(self, *args, model, hyperparameters, run_async, device, if_none, **options):
        if if_none and ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
            self.stdout.write("An active model version exists; nothing to do.")
            return
        try:
            hp = json.loads(hyperparameters)
            if not isinstance(hp, dict):
                raise ValueError("must be a JSON object")
        except ValueError as exc:
            raise CommandError(f"--hyperparameters: {exc}") from None
        trigger = TrainingRun.Trigger.BOOTSTRAP if if_none else TrainingRun.Trigger.MANUAL
        try:
            run, created = services.training_run_request(
                algorithm=model, hyperparameters=hp, trigger=trigger, enqueue=run_async
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if run_async:
            state = "queued" if created else f"already requested ({run.status})"
            self.stdout.write(
                f"Training run {run.pk} {state}; watch it at /models/ or with `manage.py metatrain_status`."
            )
            return
        if run.status == TrainingRun.Status.SUCCEEDED:
            self.stdout.write(f"Run {run.pk} already trained on this data: {getattr(run, 'model_version', None)}")
            return
        version = services.training_run_execute(run_id=run.pk, device=device, progress=self._bar)
        sys.stderr.write("\n")
        run.refresh_from_db()
        if run.status != TrainingRun.Status.SUCCEEDED or version is None:
            raise CommandError(f"training run {run.pk} failed: {run.error}")
        version.refresh_from_db()
        held = version.metrics.get("held_out", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"Run {run.pk}: model version {version.pk} ({version.algorithm}) is {version.status}"
                f" — {version.status_reason}; held-out AUC "
                + ", ".join(f"{k} {v:.3f}" for k, v in held.items() if isinstance(v, float))
            )
        )
        for check in (version.metrics.get("gate") or {}).get("checks", []):  # the promotion gate's reasons
            self.stdout.write(f"  {'passed' if check['passed'] else 'FAILED'}: {check['text']}")

    def _bar(self, event: dict) -> None:
        pct = float(event.get("percent") or 0)
        filled = int(pct / 5)
        parts = [f"epoch {event['epoch']}" if event.get("epoch") is not None else ""]
        if isinstance(event.get("loss"), float):
            parts.append(f"loss {event['loss']:.4f}")
        if isinstance(event.get("val_auc"), float):
            parts.append(f"val AUC {event['val_auc']:.3f}")
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (20 - filled)}] {pct:5.1f}% " + "  ".join(p for p in parts if p) + "   "
        )
        sys.stderr.flush()
