"""Training runs, champion/challenger promotion, rollback and per-student states (in-process)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from learner_models import loader, services
from learner_models.core import state_to_bytes
from learner_models.mappers import dataset_from_attempts
from learner_models.models import ModelVersion, StudentModelState, TrainingRun
from learner_models.selectors import active_model_version, skill_predictions_for_student
from tests.factories import StudentFactory, TeacherFactory, wrong_answer
from tests.learner_models.conftest import QUICK_BEST
from tutor import services as tutor_services
from tutor.models import Attempt, Item, Section, Skill, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_media")]


def _train(algorithm="best", hp=None, *, serve=True):
    """Train on the demo school. Its held-out set is too small for the promotion gate, so tests about serving
    (``serve``) activate the version by hand, as an operator would with ``model_activate``."""
    run, created = services.training_run_request(
        algorithm=algorithm, hyperparameters=QUICK_BEST if hp is None else hp, enqueue=False
    )
    version = services.training_run_execute(run_id=run.pk, device="cpu")
    if serve and version is not None and version.status != ModelVersion.Status.ACTIVE:
        version = services.model_version_activate(version=version)
    return run, created, version


@pytest.fixture
def gate(monkeypatch):
    """The gate's inputs as the service builds them; its decision is ``gate.promote`` (real checks are in core)."""
    from learner_models.core.gate import Check, GateConfig, GateDecision

    class FakeGate:
        promote = True
        seen: list = []

        def __call__(self, sets, config=None, *, incumbent_name=""):
            self.seen.append((sets, incumbent_name))
            check = Check("floor", "students", self.promote, "held-out students: fake verdict", {})
            return GateDecision(self.promote, [check], config or GateConfig())

    fake = FakeGate()
    monkeypatch.setattr(services, "gate_decide", fake)
    return fake


def test_training_run_produces_a_version_with_held_out_metrics_and_the_gates_reasons(demo_school):
    run, created, version = _train(serve=False)
    run.refresh_from_db()
    assert created and run.status == TrainingRun.Status.SUCCEEDED and run.progress["percent"] == 100
    assert run.data_snapshot["students"] == 29 and run.data_snapshot["attempts"] == 580
    assert run.data_snapshot["held_out_students"] > 0 and run.data_snapshot["recent_attempts_held_out"] > 0
    assert version.training_run == run and 0 <= version.metrics["held_out"]["all"] <= 1
    blob = version.checkpoint.read()
    assert hashlib.sha256(blob).hexdigest() == version.checksum
    # The first version is judged too (no unconditional promotion): 4 held-out students cannot decide anything.
    assert version.status == ModelVersion.Status.CANDIDATE and active_model_version() is None
    # Which check fails first depends on how many students the id hash holds out (ids differ between
    # databases): the reason must be the gate's first failed check, whichever it is.
    failed = [c for c in version.metrics["gate"]["checks"] if not c["passed"]]
    assert failed and version.status_reason.startswith(f"not promoted: {failed[0]['text']}")
    gate = version.metrics["gate"]
    assert gate["promote"] is False and {c["held_out"] for c in gate["checks"]} == {"students", "recent"}


def test_with_no_promoted_version_the_scheduler_keeps_its_fallback(demo_school):
    _train(serve=False)
    section = Section.objects.get(name="Demo class")
    student = User.objects.get(username="demo-student-30")
    skills = list(Skill.objects.filter(course=section.course).values_list("pk", flat=True))
    assert skill_predictions_for_student(student=student, skill_ids=skills) is None
    session = tutor_services.session_start(student=student, section=section)
    assert tutor_services.session_item_current(session=session) is not None


def test_the_gate_sees_challenger_active_version_and_baselines_on_both_held_out_sets(demo_school, gate):
    _, _, first = _train(serve=False)
    assert first.status == "active" and first.status_reason == "promoted: held-out students: fake verdict"
    sets, _ = gate.seen[-1]
    assert [s.name for s in sets] == ["students", "recent"] and all(s.incumbent is None for s in sets)
    _add_attempt("gate-1")
    gate.promote = False
    _, _, second = _train(serve=False)
    second.refresh_from_db()
    sets, name = gate.seen[-1]
    assert name == f"active v{first.pk}" and all(s.incumbent is not None for s in sets)
    for s in sets:
        assert set(s.baselines) == {"elo", "pfa"}
        assert len(s.correct) == len(s.student) == len(s.challenger) == len(s.incumbent) == len(s.baselines["elo"])
        assert ((s.challenger > 0) & (s.challenger < 1)).all()
    assert second.status == "candidate" and second.status_reason == "not promoted: held-out students: fake verdict"
    assert active_model_version().pk == first.pk


def _add_attempt(key: str) -> None:
    """A new attempt changes the data cut-off, so the same request is a new run."""
    student = User.objects.get(username="demo-student-01")
    Attempt.objects.create(
        student=student,
        item=Attempt.objects.first().item,
        skill=Attempt.objects.first().skill,
        answer="1",
        correct=True,
        confidence=0.5,
        idempotency_key=key,
        created_at=Attempt.objects.last().created_at,
    )


def test_identical_request_is_one_run_and_executing_twice_is_one_version(demo_school):
    run, _, version = _train()
    again, created = services.training_run_request(algorithm="best", hyperparameters=QUICK_BEST, enqueue=False)
    assert again.pk == run.pk and not created
    assert services.training_run_execute(run_id=run.pk).pk == version.pk
    assert ModelVersion.objects.count() == 1 and TrainingRun.objects.count() == 1


def test_a_deploy_with_new_model_code_and_no_new_attempts_trains_again(db, monkeypatch):
    run, created = services.training_run_request(algorithm="elo", enqueue=False)
    assert created and services.training_run_request(algorithm="elo", enqueue=False)[0].pk == run.pk
    monkeypatch.setattr(services, "code_version", lambda: "new-model-code")
    again, created = services.training_run_request(algorithm="elo", enqueue=False)
    assert created and again.pk != run.pk and again.cutoff_attempt_id == run.cutoff_attempt_id


def test_a_worker_that_died_before_promotion_is_finished_by_the_next_execution(demo_school):
    run, _, version = _train()
    # As if the worker died right after storing the version: run still "running", version undecided.
    ModelVersion.objects.filter(pk=version.pk).update(status="candidate", status_reason="", activated_at=None)
    TrainingRun.objects.filter(pk=run.pk).update(status="running", worker="gone-host:1", heartbeat_at=None)
    ModelVersion.objects.filter(pk=version.pk).update(metrics={"held_out": version.metrics["held_out"]})
    again = services.training_run_execute(run_id=run.pk)
    again.refresh_from_db()
    run.refresh_from_db()
    assert again.pk == version.pk and run.status == "succeeded"
    assert again.status_reason.startswith("not promoted") and "gate" in again.metrics  # decided now
    assert ModelVersion.objects.count() == 1


def test_an_unreadable_champion_does_not_block_a_new_version(demo_school, gate):
    _, _, first = _train()
    first.checkpoint.save("broken.pt", ContentFile(b"not a checkpoint"), save=False)
    ModelVersion.objects.filter(pk=first.pk).update(checkpoint=first.checkpoint.name)
    loader.clear()  # as in a fresh worker process: the gate loaded the first version while judging it
    run, _ = services.training_run_request(algorithm="elo", enqueue=False)
    second = services.training_run_execute(run_id=run.pk)
    second.refresh_from_db()
    assert second.status == "active" and "could not be evaluated" in second.status_reason
    assert all(s.incumbent is None for s in gate.seen[-1][0])  # judged as a first version, floor included


def test_a_challenger_that_passes_the_gate_replaces_the_champion(demo_school, gate):
    _, _, first = _train()
    _add_attempt("extra")
    _, _, second = _train(serve=False)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.metrics["champion"]["version"] == first.pk
    assert 0 <= second.metrics["champion"]["held_out"]["all"] <= 1  # the champion's figures, same students
    assert (second.status, first.status) == ("active", "retired")
    assert ModelVersion.objects.filter(status="active").count() == 1


def test_failed_training_leaves_the_active_version_untouched(demo_school):
    _, _, good = _train()
    # a setting only the fit can find wrong (a negative layer size) gets past the request
    bad, _ = services.training_run_request(algorithm="best", hyperparameters={"hidden": -5}, enqueue=False)
    with pytest.raises(ValueError):
        services.training_run_execute(run_id=bad.pk)
    bad.refresh_from_db()
    assert bad.status == TrainingRun.Status.FAILED and "hidden_size" in bad.error
    assert active_model_version().pk == good.pk


@pytest.mark.parametrize(
    ("hyperparameters", "named"),
    [({"no_such_option": 1}, "no_such_option"), ({"item_dropout": 1.5}, "item_dropout")],
)
def test_a_bad_setting_is_refused_at_the_request_naming_it(db, hyperparameters, named):
    with pytest.raises(ValueError, match=f"hyperparameters: .*{named}"):
        services.training_run_request(algorithm="best", hyperparameters=hyperparameters, enqueue=False)
    with pytest.raises(CommandError, match=f"hyperparameters: .*{named}"):  # what an operator sees
        call_command("metatrain", "--hyperparameters", json.dumps(hyperparameters))
    assert not TrainingRun.objects.exists()


def test_too_little_data_fails_with_a_reason(db):
    run, _ = services.training_run_request(enqueue=False)
    assert services.training_run_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == "failed" and "at least 4 training students" in run.error
    assert not ModelVersion.objects.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_a_device_the_worker_lacks_fails_the_run_with_a_reason(db, monkeypatch):
    """METIS_TRAIN_DEVICE=cuda on a CPU-only worker: the run fails once, saying why, and is not retried."""
    monkeypatch.setenv("METIS_TRAIN_DEVICE", "cuda")
    run, _ = services.training_run_request(enqueue=False)
    assert services.training_run_execute(run_id=run.pk) is None  # a TrainingError, not an exception
    run.refresh_from_db()
    assert run.status == "failed" and "METIS_TRAIN_DEVICE" in run.error and "no CUDA GPU" in run.error
    assert not ModelVersion.objects.exists()


def test_nan_loss_fails_the_run():
    record = services._progress_recorder(TrainingRun(pk=1))
    with pytest.raises(services.TrainingError, match="loss became nan"):
        record({"epoch": 2, "loss": math.nan, "percent": 10})


def test_rollback_command_and_unknown_version(demo_school):
    _, _, first = _train()
    run = TrainingRun.objects.create(request_key="x", algorithm="best", status="succeeded")
    second = ModelVersion.objects.create(
        training_run=run, algorithm="best", checkpoint=first.checkpoint.name, checksum=first.checksum, metrics={}
    )
    call_command("model_activate", str(second.pk))
    assert active_model_version().pk == second.pk
    call_command("model_activate", str(first.pk))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("active", "retired")
    with pytest.raises(CommandError, match="no model version 999"):
        call_command("model_activate", "999")


def _answer_wrong(student, section, n: int, capture_on_commit) -> None:
    """n wrong answers through the practice services, running each commit's callbacks (the refresh)."""
    session = tutor_services.session_start(student=student, section=section)
    for k in range(n):
        si = tutor_services.session_item_current(session=session)
        with capture_on_commit(execute=True):
            tutor_services.attempt_record(
                student=student, session_item=si, answer=wrong_answer(si.item), confidence=0.5, idempotency_key=f"w{k}"
            )


def test_each_answer_refreshes_the_students_adapted_state(demo_school, django_capture_on_commit_callbacks):
    # Elo: a model whose direction after three wrong answers is certain (ability goes down).
    _, _, version = _train("elo", {})
    section = Section.objects.get(name="Demo class")
    student = User.objects.get(username="demo-student-30")
    skills = list(Skill.objects.filter(course=section.course).values_list("pk", flat=True))
    before = skill_predictions_for_student(student=student, skill_ids=skills)
    assert before is not None and all(0 < p < 1 for p in before.values())
    _answer_wrong(student, section, 3, django_capture_on_commit_callbacks)
    state = StudentModelState.objects.get(student=student, model_version=version)
    assert state.n_attempts == 3 and state.last_attempt_id == Attempt.objects.filter(student=student).latest("id").pk
    after = skill_predictions_for_student(student=student, skill_ids=skills)
    assert sum(after.values()) < sum(before.values()), "three wrong answers should lower the predictions"


def test_registry_page_is_for_staff_only_and_shows_the_gates_reasons(demo_school, client):
    _, _, version = _train(serve=False)
    client.force_login(StudentFactory())
    assert client.get(reverse("model_registry")).status_code == 404
    client.force_login(TeacherFactory())
    html = client.get(reverse("model_registry")).content.decode()
    assert "Active version" in html and f"v{version.pk} best" in html
    failed = [c for c in version.metrics["gate"]["checks"] if not c["passed"]]
    assert "refused" in html and failed and escape(f"✗ {failed[0]['text']}") in html


def test_healthz_reports_the_active_model(demo_school, client):
    client.force_login(User.objects.create(username="operator", is_staff=True))  # the details are for operators
    assert client.get("/healthz").json()["learner_model"]["active_version"] is None
    _, _, version = _train()
    body = client.get("/healthz").json()
    assert body["learner_model"]["active_version"] == version.pk
    assert body["learner_model"]["last_training_age_s"] >= 0


def test_new_attempts_past_the_threshold_request_a_training(demo_school, settings):
    _train()
    assert services.metatrain_if_due(threshold=5) is None  # nothing new since the version's cut-off
    student = User.objects.get(username="demo-student-02")
    template = Attempt.objects.filter(student=student).first()
    for n in range(5):
        Attempt.objects.create(
            student=student,
            item=template.item,
            skill=template.skill,
            answer="1",
            correct=bool(n % 2),
            confidence=0.5,
            idempotency_key=f"late-{n}",
            created_at=template.created_at,
        )
    run = services.metatrain_if_due(threshold=5)
    assert run is not None and run.trigger == TrainingRun.Trigger.THRESHOLD and run.status == "queued"
    assert services.metatrain_if_due(threshold=5).pk == run.pk  # asking again is the same run


def test_slow_adaptation_is_queued_on_the_adapt_queue(demo_school, monkeypatch):
    from learner_models import queue

    _, _, version = _train("elo", {})
    queued = []
    monkeypatch.setattr(queue, "task_enqueue", lambda *, name, args, on_commit=True: queued.append((name, *args)))
    student = User.objects.get(username="demo-student-03")
    assert services.student_state_after_attempt(student_id=student.pk) == "inline"
    loader.record_adapt_ms(version.pk, 500.0)  # as if this worker's adaptations took half a second
    assert services.student_state_after_attempt(student_id=student.pk) == "queued"
    assert queued == [("student_state_refresh_task", student.pk, version.pk)]


def test_a_zombie_worker_counts_as_dead(db):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.05)
    try:
        assert not services._pid_alive(child.pid)  # exited, not yet reaped by its parent (us)
        assert services._pid_alive(os.getpid())
    finally:
        child.wait()
    assert not services._pid_alive(child.pid)


def test_each_answer_continues_the_stored_state_and_matches_adapting_from_scratch(
    demo_school, monkeypatch, django_capture_on_commit_callbacks
):
    from learner_models.core.base import state_from_bytes
    from learner_models.mappers import sequence_for_student

    _, _, version = _train()
    full_reads = []
    monkeypatch.setattr(
        services, "sequence_for_student", lambda **kw: full_reads.append(kw) or sequence_for_student(**kw)
    )
    section = Section.objects.get(name="Demo class")
    student = User.objects.get(username="demo-student-30")
    _answer_wrong(student, section, 4, django_capture_on_commit_callbacks)
    assert len(full_reads) == 1, "only the first answer (no stored state yet) reads the whole history"
    state = StudentModelState.objects.get(student=student, model_version=version)
    assert state.n_attempts == 4 and state.last_attempt_id == Attempt.objects.filter(student=student).latest("id").pk
    model = loader.load_model(version)
    skills = list(Skill.objects.filter(course=section.course).values_list("pk", flat=True))
    scratch = model.adapt([sequence_for_student(student_id=student.pk)[0]])[0]
    continued = state_from_bytes(bytes(state.state))
    assert abs(model.predict(continued, skills) - model.predict(scratch, skills)).max() < 1e-5

    # an attempt recorded with an earlier time than the covered ones: the history changed, adapt from scratch
    first = Attempt.objects.filter(student=student).order_by("created_at").first()
    Attempt.objects.create(
        student=student,
        item=first.item,
        skill=first.skill,
        answer="1",
        correct=True,
        confidence=0.9,
        idempotency_key="late-import",
        created_at=first.created_at - timedelta(minutes=5),
    )
    services.student_state_refresh(student_id=student.pk, version=version)
    assert len(full_reads) == 2
    state.refresh_from_db()
    assert state.n_attempts == 5
    scratch = model.adapt([sequence_for_student(student_id=student.pk)[0]])[0]
    assert (
        abs(model.predict(state_from_bytes(bytes(state.state)), skills) - model.predict(scratch, skills)).max() < 1e-5
    )


def test_a_refresh_never_replaces_a_newer_state_stored_meanwhile(demo_school, monkeypatch):
    _, _, version = _train("elo", {})
    student = User.objects.get(username="demo-student-03")
    state = services.student_state_refresh(student_id=student.pk, version=version)
    newer = state.last_attempt_id + 10**6
    real = services._state_continued

    def concurrent_refresh_lands_first(model, stored, student_id):
        # another worker stores a state covering later attempts while this refresh is computing
        StudentModelState.objects.filter(pk=state.pk).update(last_attempt_id=newer, n_attempts=999)
        return real(model, stored, student_id)

    monkeypatch.setattr(services, "_state_continued", concurrent_refresh_lands_first)
    got = services.student_state_refresh(student_id=student.pk, version=version)
    assert (got.last_attempt_id, got.n_attempts) == (newer, 999)


def test_a_removed_attempt_is_forgotten_by_the_next_refresh(demo_school):
    _, _, version = _train("elo", {})
    student = User.objects.get(username="demo-student-03")
    state = services.student_state_refresh(student_id=student.pk, version=version)
    last = Attempt.objects.get(pk=state.last_attempt_id)
    last.delete()
    got = services.student_state_refresh(student_id=student.pk, version=version)
    assert got.n_attempts == state.n_attempts - 1 and got.last_attempt_id < state.last_attempt_id


def test_batch_readapt_stores_each_student_at_the_size_of_one_state(demo_school):
    """Regression: states from one batched adapt were views of the batch's tensors, so every stored
    blob carried the counts of the whole batch."""
    _, _, version = _train()
    assert services.students_readapt(version=version) == 29
    blobs = StudentModelState.objects.filter(model_version=version).values_list("state", flat=True)
    sid = StudentModelState.objects.filter(model_version=version).values_list("student_id", flat=True)[0]
    one = dataset_from_attempts(cutoff_attempt_id=Attempt.objects.order_by("-id")[0].pk, student_ids=[sid])
    alone = len(state_to_bytes(loader.load_model(version).adapt(one.sequences)[0]))
    assert len(blobs) == 29 and {len(bytes(b)) for b in blobs} == {alone}


def test_learner_bench_times_the_per_answer_refresh_by_continuing_states(demo_school, capsys):
    import json

    _train()
    call_command("learner_bench", "--repeats", "1", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["students"] == 29 and out["batch_readapt_students"] == 29
    assert out["refresh_continued_share"] == 1.0  # demo histories are in time order: every refresh continued
    assert 0 < out["refresh_ms_p50"] <= out["refresh_ms_p99"] and out["refresh_from_scratch_ms_p50"] > 0
    assert out["skills_predicted"] == Skill.objects.count()
    assert 0 < out["predictions_ms_p50"] <= out["predictions_ms_p99"]
    assert 0 < out["predictions_other_process_ms_p50"] <= out["predictions_other_process_ms_p99"]
    assert out["items_scored"] == min(50, Item.objects.count())  # the scheduler's per-item question
    assert 0 < out["score_items_ms_p50"] <= out["score_items_ms_p99"] <= out["item_predictions_ms_p99"] * 10


def test_predictions_after_an_answer_reuse_the_state_just_stored(
    demo_school, monkeypatch, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """The per-answer refresh and the next choice's predictions start from the state stored a moment
    before: neither unpacks it again, and the predictions read it in one query (plus the active version)."""
    from learner_models.core.base import state_from_bytes

    _, _, version = _train()
    unpacked = []
    monkeypatch.setattr(loader, "state_from_bytes", lambda blob: unpacked.append(1) or state_from_bytes(blob))
    section = Section.objects.get(name="Demo class")
    student = User.objects.get(username="demo-student-30")
    skills = list(Skill.objects.filter(course=section.course).values_list("pk", flat=True))
    _answer_wrong(student, section, 3, django_capture_on_commit_callbacks)
    now = timezone.now()
    with django_assert_num_queries(2):
        got = skill_predictions_for_student(student=student, skill_ids=skills, now=now)
    assert unpacked == []
    stored = StudentModelState.objects.get(student=student, model_version=version)
    expected = loader.load_model(version).predict(state_from_bytes(bytes(stored.state)), skills, now=now.timestamp())
    assert [got[s] for s in skills] == pytest.approx(list(expected), abs=1e-7)
    # bytes this process never stored (another worker's) are unpacked once, then served from the cache
    loader.states_forget()
    skill_predictions_for_student(student=student, skill_ids=skills)
    skill_predictions_for_student(student=student, skill_ids=skills)
    assert unpacked == [1]


def test_the_demo_bootstrap_training_reports_the_gates_refusal_and_asking_again_trains_nothing(demo_school):
    """What `make demo` runs: the first version is judged like any other and the command says why."""
    from io import StringIO

    out = StringIO()
    call_command("metatrain", "--if-none", "--model", "elo", stdout=out)
    text = out.getvalue()
    assert "is candidate — not promoted" in text
    version = ModelVersion.objects.get()
    failed = [c for c in version.metrics["gate"]["checks"] if not c["passed"]]
    assert failed and all(f"FAILED: {c['text']}" in text for c in failed)
    assert "latest attempts of the training students" in text
    out = StringIO()
    call_command("metatrain", "--if-none", "--model", "elo", stdout=out)
    assert "already trained on this data" in out.getvalue() and TrainingRun.objects.count() == 1
    assert active_model_version() is None


def test_item_predictions_are_the_served_models_own_per_item_and_time_aware(demo_school):
    """The scheduler's per-item scores are the active model's predictions for those items at that time."""
    from learner_models.core.base import state_from_bytes
    from learner_models.selectors import item_predictions_for_student
    from tutor.models import Item

    _, _, version = _train()
    busiest = Attempt.objects.values("student_id").annotate(n=Count("id")).order_by("-n", "student_id")[0]
    student = User.objects.get(pk=busiest["student_id"])
    answered = list(Attempt.objects.filter(student=student).values_list("item_id", "skill_id")[:20])
    other = list(Item.objects.exclude(pk__in=[i for i, _ in answered]).values_list("pk", "skill_id")[:20])
    candidates = list(dict.fromkeys(answered + other))
    now = timezone.now()
    got = item_predictions_for_student(student=student, items=candidates, now=now)
    stored = StudentModelState.objects.get(student=student, model_version=version)
    model = loader.load_model(version)
    state = state_from_bytes(bytes(stored.state))
    ids, skills = [i for i, _ in candidates], [s for _, s in candidates]
    expected = model.predict(state, skills, ids, now=now.timestamp())
    assert [got[i] for i in ids] == pytest.approx(list(expected), abs=1e-7)
    assert len(set(np.round(expected, 6))) > 1  # items differ, not one number per skill
    # a month later the same state predicts lower on what was practised (the model learnt forgetting inputs)
    later = model.predict(state, skills, ids, now=(now + timedelta(days=30)).timestamp())
    assert not np.allclose(later, expected)


def test_attempt_predictions_price_in_the_served_items_and_withhold_their_ratings(demo_school):
    """The baseline a strategy's outcome is measured against (metacog): the model's P on given attempts."""
    from learner_models.selectors import attempt_predictions_for_student

    busiest = Attempt.objects.values("student_id").annotate(n=Count("id")).order_by("-n", "student_id")[0]
    ids = list(
        Attempt.objects.filter(student_id=busiest["student_id"]).order_by("-id").values_list("id", flat=True)[:5]
    )
    assert attempt_predictions_for_student(student_id=busiest["student_id"], attempt_ids=ids) is None  # no model
    _train()
    got = attempt_predictions_for_student(student_id=busiest["student_id"], attempt_ids=ids)
    assert sorted(got) == sorted(ids) and all(0 < p < 1 for p in got.values())
    # the ratings given on those attempts do not move their own baseline
    Attempt.objects.filter(pk__in=ids).update(confidence=0.0)
    assert attempt_predictions_for_student(student_id=busiest["student_id"], attempt_ids=ids) == pytest.approx(got)
