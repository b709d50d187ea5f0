"""Student data: export, erasure (resumable, complete), retention, and the admin's delete going through erasure."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models.functions import Cast
from django.test import Client
from django.utils import timezone

from learner_models.models import ModelVersion, StudentModelState, TrainingRun
from learner_models.tasks import student_state_refresh_task
from metacog.models import Reflection, ScheduledReview, StrategySuggestion
from tests.factories import PASSWORD, ItemFactory, SectionFactory, StudentFactory, TeacherFactory, enrol, serve
from tutor import privacy_services, scheduler
from tutor.login_throttle import login_locked
from tutor.models import Attempt, ErasureRecord, PracticeSession, User
from tutor.privacy_selectors import owned_tables, student_export, user_fk_fields
from tutor.privacy_services import erasures_resume, retention_apply, student_erase

pytestmark = pytest.mark.django_db

USERNAME = "zebediah-quill"  # distinctive, so a text search for it finds only what is about this student


def _student_with_history(username: str = USERNAME, *, section=None) -> User:
    """A student with a row in every table Metis keeps about students, an admin log entry and a login."""
    section = section or SectionFactory()
    student = StudentFactory(username=username, organisation=section.organisation, first_name="Zeb")
    enrol(student, section)
    item = ItemFactory(skill__course=section.course, course=section.course)
    now = timezone.now()
    session = PracticeSession.objects.create(student=student, section=section, started_at=now)
    shown = serve(session, item)
    attempt = Attempt.objects.create(
        student=student,
        item=item,
        skill=item.skill,
        session=session,
        session_item=shown,
        answer=f"my name is {username}",
        correct=False,
        confidence=0.75,
        idempotency_key=f"k-{username}",
        created_at=now,
    )
    Reflection.objects.create(
        student=student,
        section=section,
        session=session,
        session_item=shown,
        kind="planning",
        prompt="Your goal?",
        answer=f"{username} wants to finish",
        created_at=now,
    )
    suggestion = StrategySuggestion.objects.create(
        student=student,
        section=section,
        session=session,
        strategy="spacing",
        reason="r",
        created_at=now,
        context={"note": f"for {username}"},
    )
    review = ScheduledReview.objects.create(student=student, section=section, suggestion=suggestion, due_at=now)
    review.skills.add(item.skill)
    run, _ = TrainingRun.objects.get_or_create(
        request_key="r1", defaults={"algorithm": "best", "status": "succeeded", "cutoff_attempt_id": attempt.pk}
    )
    version = ModelVersion.objects.filter(training_run=run).first() or ModelVersion.objects.create(
        training_run=run, algorithm="best", checkpoint="learner_models/x.pt", checksum="0"
    )
    StudentModelState.objects.create(student=student, model_version=version, state=b"\x00\x01state", n_attempts=1)
    admin = User.objects.filter(username="root").first() or User.objects.create_superuser("root", "r@x.org", "pw")
    for obj in (student, attempt):
        LogEntry.objects.log_actions(
            user_id=admin.pk, queryset=[obj], action_flag=CHANGE, change_message="edited", single_object=True
        )
    return student


def _logged_in(student: User) -> str:
    client = Client()
    assert client.login(username=student.username, password=PASSWORD)
    return client.session.session_key


def _remaining(student_id: int, username: str) -> list[str]:
    """Every row in any table that points at the student or mentions their username (the erasure log aside)."""
    found = []
    for model, field in user_fk_fields():
        n = model._default_manager.filter(**{field.name: student_id}).count()
        if n:
            found.append(f"{model._meta.label}.{field.name}: {n}")
    if User.objects.filter(pk=student_id).exists():
        found.append("the user row")
    for model in apps.get_models():
        if model is ErasureRecord:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, models.CharField | models.TextField | models.JSONField):
                as_text = model._default_manager.annotate(_text=Cast(field.name, output_field=models.TextField()))
                n = as_text.filter(_text__icontains=username).count()  # JSON fields searched as text too
                if n:
                    found.append(f"{model._meta.label}.{field.name} mentions the username: {n}")
    user_type = ContentType.objects.get_for_model(User)
    if LogEntry.objects.filter(content_type=user_type, object_id=str(student_id)).exists():
        found.append("admin log entries about the user")
    for s in Session.objects.all():
        if s.get_decoded().get("_auth_user_id") == str(student_id):
            found.append("a login session")
    return found


def test_every_table_with_a_key_to_the_user_is_exported():
    student = _student_with_history()
    exported = student_export(student=student)
    json.dumps(exported)  # JSON-ready as it stands
    labels = set(exported["tables"])
    for model, field in user_fk_fields():
        assert model._meta.label in labels, f"{model._meta.label}.{field.name} is not in the export"
    assert {t.label for t in owned_tables()} <= labels
    for label in (
        "tutor.Enrollment",
        "tutor.PracticeSession",
        "tutor.SessionItem",
        "tutor.Attempt",
        "metacog.Reflection",
        "metacog.StrategySuggestion",
        "metacog.ScheduledReview",
        "learner_models.StudentModelState",
    ):
        assert len(exported["tables"][label]) == 1, label
    assert "password" not in exported["user"]
    assert exported["user"]["username"] == USERNAME
    state = exported["tables"]["learner_models.StudentModelState"][0]["state"]
    assert state["bytes"] == 7 and state["base64"]
    assert exported["tables"]["metacog.ScheduledReview"][0]["skills"]
    assert exported["tables"]["tutor.Attempt"][0]["answer"] == f"my name is {USERNAME}"
    assert [t["run"] for t in exported["trained_with"]] == [TrainingRun.objects.get().pk]
    assert len(exported["tables"]["admin.LogEntry"]) == 1  # the admin's edit of the account


def test_export_holds_nothing_of_another_student():
    section = SectionFactory()
    student = _student_with_history(section=section)
    _student_with_history("other-student", section=section)
    text = json.dumps(student_export(student=student))
    assert "other-student" not in text


def test_export_command_writes_a_file(tmp_path):
    _student_with_history()
    out = tmp_path / "export.json"
    call_command("student_export", "--username", USERNAME, "--out", str(out))
    assert json.loads(out.read_text())["user"]["username"] == USERNAME
    with pytest.raises(CommandError, match="no account"):
        call_command("student_export", "--username", "nobody")


def test_erasure_leaves_nothing_of_the_student_and_keeps_the_classmate(settings):
    section = SectionFactory()
    student = _student_with_history(section=section)
    classmate = _student_with_history("classmate", section=section)
    session_key = _logged_in(student)
    cache.set(scheduler._estimate_key(student.pk), "cached estimate")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):  # a locked account leaves keys derived from the username
        assert not Client().login(username=USERNAME, password="wrong")
    assert login_locked(username=USERNAME)
    sid = student.pk
    before = {label: len(rows) for label, rows in student_export(student=classmate)["tables"].items()}
    found = _remaining(sid, USERNAME)
    assert "tutor.Attempt.answer mentions the username: 1" in found and "a login session" in found
    assert "metacog.StrategySuggestion.context mentions the username: 1" in found  # JSON searched too
    assert len(found) >= 12, found  # the check sees the student everywhere before the erasure

    record = student_erase(student=student)

    assert _remaining(sid, USERNAME) == []
    assert cache.get(scheduler._estimate_key(sid)) is None
    assert not login_locked(username=USERNAME)
    assert not Session.objects.filter(session_key=session_key).exists()
    assert record.finished_at is not None
    assert record.deleted["tutor.Attempt"] == 1 and record.deleted["tutor.User"] == 1
    assert record.trained_model_versions == [
        {"run": TrainingRun.objects.get().pk, "version": ModelVersion.objects.get().pk, "status": "succeeded"}
    ]
    after = {label: len(rows) for label, rows in student_export(student=classmate)["tables"].items()}
    assert after == before  # the classmate keeps everything
    assert ModelVersion.objects.exists()  # the trained model stays (documented)
    assert "classmate" not in str(ErasureRecord.objects.values())


def test_an_erasure_that_crashed_midway_is_finished_by_a_second_run(monkeypatch):
    student = _student_with_history()
    for _ in range(4):  # more sessions than one chunk holds
        PracticeSession.objects.create(
            student=student, section=student.enrolled_sections.get(), started_at=timezone.now()
        )
    sid = student.pk
    real = privacy_services._delete_chunk
    calls = {"n": 0}

    def crash_after_first_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("power cut")
        real(**kwargs)

    monkeypatch.setattr(privacy_services, "_delete_chunk", crash_after_first_chunk)
    with pytest.raises(RuntimeError, match="power cut"):
        student_erase(student=student, chunk_size=2)
    student.refresh_from_db()
    assert not student.is_active and not student.has_usable_password()  # locked out from the first step
    record = ErasureRecord.objects.get(user_id=sid)
    assert record.finished_at is None and sum(record.deleted.values()) > 0
    assert not Client().login(username=USERNAME, password=PASSWORD)

    monkeypatch.setattr(privacy_services, "_delete_chunk", real)
    finished = student_erase(student=student, chunk_size=2)
    assert finished.pk == record.pk and finished.finished_at is not None
    assert finished.deleted["tutor.PracticeSession"] == 5
    assert _remaining(sid, USERNAME) == []


def test_resume_finishes_an_erasure_whose_user_row_is_already_gone_and_a_rerun_is_harmless(monkeypatch):
    student = _student_with_history()
    sid = student.pk
    monkeypatch.setattr(privacy_services, "_auth_sessions_delete", lambda uid: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        student_erase(student=student)
    monkeypatch.undo()
    assert [r.user_id for r in erasures_resume()] == [sid]
    assert erasures_resume() == []
    assert _remaining(sid, USERNAME) == []


def test_erase_command_needs_yes_and_reports_trained_versions():
    _student_with_history()
    with pytest.raises(CommandError, match="--yes"):
        call_command("student_erase", "--username", USERNAME)
    assert User.objects.filter(username=USERNAME).exists()
    out = StringIO()
    call_command("student_erase", "--username", USERNAME, "--yes", stdout=out)
    assert "erased account" in out.getvalue() and "model versions trained with their attempts: v" in out.getvalue()
    assert not User.objects.filter(username=USERNAME).exists()
    with pytest.raises(CommandError, match="no account"):
        call_command("student_erase", "--username", USERNAME, "--yes")


def test_a_queued_state_refresh_for_an_erased_student_does_nothing():
    student = _student_with_history()
    sid, version = student.pk, ModelVersion.objects.get()
    student_erase(student=student)
    student_state_refresh_task(sid, version.pk)  # would otherwise load the model and write a state
    assert not StudentModelState.objects.filter(student_id=sid).exists()


def test_deleting_a_student_in_the_admin_erases_them(client):
    student = _student_with_history()
    sid = student.pk
    _logged_in(student)
    client.force_login(User.objects.get(username="root"))
    response = client.post(f"/admin/tutor/user/{sid}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert _remaining(sid, USERNAME) == []
    record = ErasureRecord.objects.get(user_id=sid)
    assert record.reason == "admin" and record.requested_by == "root"


def test_the_admin_bulk_delete_action_erases_each_student(client):
    section = SectionFactory()
    students = [_student_with_history(name, section=section) for name in ("alpha-erase", "beta-erase")]
    client.force_login(User.objects.get(username="root"))
    response = client.post(
        "/admin/tutor/user/",
        {"action": "delete_selected", "_selected_action": [s.pk for s in students], "post": "yes"},
    )
    assert response.status_code == 302
    for s in students:
        assert _remaining(s.pk, s.username) == []
    assert ErasureRecord.objects.filter(reason="admin").count() == 2


def test_retention_is_off_by_default_and_erases_only_the_inactive(settings):
    section = SectionFactory()
    old = _student_with_history("long-gone", section=section)
    recent = _student_with_history("still-here", section=section)
    teacher = TeacherFactory(organisation=section.organisation)
    long_ago = timezone.now() - dt.timedelta(days=400)
    User.objects.filter(pk__in=[old.pk, teacher.pk]).update(date_joined=long_ago, last_login=None)
    PracticeSession.objects.filter(student=old).update(started_at=long_ago)
    Attempt.objects.filter(student=old).update(created_at=long_ago)
    User.objects.filter(pk=recent.pk).update(date_joined=long_ago)  # joined long ago, practised today

    assert retention_apply(dry_run=False) == []  # METIS_RETENTION_DAYS unset: off
    settings.METIS_RETENTION_DAYS = 365
    assert retention_apply() == [old]  # a dry run by default
    assert User.objects.filter(pk=old.pk).exists()

    out = StringIO()
    call_command("retention_apply", stdout=out)
    assert "long-gone" in out.getvalue() and "--yes" in out.getvalue()
    call_command("retention_apply", "--yes", stdout=out)
    assert not User.objects.filter(pk=old.pk).exists()
    assert User.objects.filter(pk__in=[recent.pk, teacher.pk]).count() == 2  # teachers are not students
    assert ErasureRecord.objects.get(user_id=old.pk).reason == "retention"


def test_retention_command_says_when_it_is_off():
    out = StringIO()
    call_command("retention_apply", stdout=out)
    assert "retention is off" in out.getvalue()
