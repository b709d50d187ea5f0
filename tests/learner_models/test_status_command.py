"""`manage.py metatrain_status`: operators follow training runs from a shell (and scripts wait on one)."""

from __future__ import annotations

import json
import time
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command, get_commands
from django.utils import timezone

from learner_models import services
from learner_models.models import TrainingRun
from tests.learner_models.conftest import QUICK_BEST


def _status(*args) -> str:
    out = StringIO()
    call_command("metatrain_status", *args, stdout=out)
    return out.getvalue()


def test_the_async_hint_names_a_command_that_exists(db):
    out = StringIO()
    call_command("metatrain", "--async", stdout=out)
    assert "manage.py metatrain_status" in out.getvalue()
    assert "metatrain_status" in get_commands()


def test_lists_runs_and_shows_one_with_its_version(demo_school):
    run, _ = services.training_run_request(hyperparameters=QUICK_BEST, enqueue=False)
    version = services.training_run_execute(run_id=run.pk, device="cpu")
    failed = TrainingRun.objects.create(
        request_key="bad", algorithm="best", status="failed", error="TrainingError: loss became nan\ntrace"
    )
    listing = _status()
    assert f"run {failed.pk}  failed" in listing and "error: TrainingError: loss became nan" in listing
    assert f"run {run.pk}  succeeded  best" in listing and f"-> version {version.pk} (candidate)" in listing
    assert "on cpu" in listing and "took " in listing
    row = json.loads(_status(str(run.pk), "--json"))
    assert row["run"] == run.pk and row["version"] == version.pk and row["device"] == "cpu"
    assert row["seconds"] > 0 and row["progress"]["percent"] == 100
    assert row["held_out_auc"] == version.metrics["held_out"]["all"]
    assert f"held-out AUC {version.metrics['held_out']['all']:.3f}" in listing
    assert [r["run"] for r in json.loads(_status("--json", "--latest", "1"))] == [failed.pk]


def test_unknown_run_and_no_runs(db):
    with pytest.raises(CommandError, match="no training run 999"):
        _status("999")
    assert "No training runs yet." in _status()
    with pytest.raises(CommandError, match="no training runs yet"):
        _status("--wait")


def test_wait_follows_a_run_until_it_ends(db, monkeypatch):
    from learner_models.management.commands import metatrain_status

    run = TrainingRun.objects.create(request_key="k", algorithm="best", status="running", progress={"percent": 40})
    polls = []

    def sleep(seconds):  # the worker finishes the run while the command waits
        polls.append(seconds)
        TrainingRun.objects.filter(pk=run.pk).update(
            status="succeeded", progress={"percent": 100}, started_at=timezone.now(), finished_at=timezone.now()
        )

    monkeypatch.setattr(metatrain_status, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    out, err = StringIO(), StringIO()
    call_command("metatrain_status", "--wait", "--interval", "0.5", stdout=out, stderr=err)  # the newest run
    assert polls == [0.5]
    assert f"run {run.pk}  running  best  manual  40%" in err.getvalue()
    assert f"run {run.pk}  succeeded" in out.getvalue()


def test_wait_on_a_failed_run_exits_1_and_gives_up_after_the_timeout(db):
    failed = TrainingRun.objects.create(request_key="f", algorithm="best", status="failed", error="boom")
    with pytest.raises(CommandError, match=f"training run {failed.pk} failed: boom"):
        _status(str(failed.pk), "--wait")
    queued = TrainingRun.objects.create(request_key="q", algorithm="best", status="queued")
    with pytest.raises(CommandError, match=f"training run {queued.pk} is still queued after 0.2 s"):
        _status(str(queued.pk), "--wait", "--timeout", "0.2", "--interval", "0.05")
