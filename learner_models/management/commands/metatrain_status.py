import json
import time

from django.core.management.base import BaseCommand, CommandError

from learner_models.models import TrainingRun
from learner_models.selectors import training_run_rows

ENDED = {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED}


def _line(row: dict) -> str:
    p = row["progress"]
    parts = [f"run {row['run']}", row["status"], row["algorithm"], row["trigger"]]
    if row["device"]:
        parts.append(f"on {row['device']}")
    if p.get("percent") is not None:
        parts.append(f"{float(p['percent']):.0f}%")
    if p.get("epoch") is not None:
        parts.append(f"epoch {p['epoch']}")
    if isinstance(p.get("val_auc"), float):
        parts.append(f"val AUC {p['val_auc']:.3f}")
    if row["seconds"] is not None:
        parts.append(f"took {row['seconds']:.1f} s")
    if row["version"]:
        parts.append(f"-> version {row['version']} ({row['version_status']})")
        if isinstance(row["held_out_auc"], float):
            parts.append(f"held-out AUC {row['held_out_auc']:.3f}")
    if row["error"]:
        parts.append(f"error: {row['error'].splitlines()[0][:200]}")
    return "  ".join(parts)


class Command(BaseCommand):
    help = "Training runs: the latest ones, or one run; --wait follows a run until it succeeds or fails."

    def add_arguments(self, parser):
        parser.add_argument(
            "run", nargs="?", type=int, help="a run id (default: the latest runs; with --wait, the newest)"
        )
        parser.add_argument("--latest", type=int, default=10, help="how many runs to list (default 10)")
        parser.add_argument(
            "--wait", action="store_true", help="follow the run until it ends; exit status 1 if it failed"
        )
        parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds --wait gives up after")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls with --wait")
        parser.add_argument("--json", dest="as_json", action="store_true")

    def handle(self, *args, run, latest, wait, timeout, interval, as_json, **options):
        if wait and run is None:
            newest = TrainingRun.objects.order_by("-created_at", "-id").first()
            if newest is None:
                raise CommandError("no training runs yet")
            run = newest.pk
        try:
            rows = training_run_rows(run_id=run, latest=latest)
        except TrainingRun.DoesNotExist:
            raise CommandError(f"no training run {run}") from None
        if wait:
            rows = [self._follow(run, timeout, interval)]
        if as_json:
            self.stdout.write(json.dumps(rows[0] if run is not None else rows, indent=1))
        elif not rows:
            self.stdout.write("No training runs yet.")
        else:
            for row in rows:
                self.stdout.write(_line(row))
        if wait and rows[0]["status"] == TrainingRun.Status.FAILED:
            raise CommandError(f"training run {run} failed: {rows[0]['error']}")

    def _follow(self, run_id: int, timeout: float, interval: float) -> dict:
        deadline = time.monotonic() + timeout
        shown = None
        while True:
            row = training_run_rows(run_id=run_id)[0]
            line = _line(row)
            if line != shown:
                self.stderr.write(line)
                shown = line
            if row["status"] in ENDED:
                return row
            if time.monotonic() >= deadline:
                raise CommandError(f"training run {run_id} is still {row['status']} after {timeout:g} s")
            time.sleep(interval)
