"""Erasing a person (the right to erasure) and the retention rule that erases inactive students.

An erasure is resumable. It first writes an ``ErasureRecord`` and locks the account (inactive, no usable
password) in one transaction, then deletes the person's rows table by table, children before parents, in
chunks of ``CHUNK_SIZE`` each in its own transaction, and deletes the user row last. A crash anywhere
leaves the record unfinished and the account locked; running the erasure again (or ``erasures_resume``)
deletes what is left. The tables come from ``tutor.privacy_selectors.owned_tables``, discovered from the
models' foreign keys. See docs/operations.md, "Student data: export, erasure, retention".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from importlib import import_module

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from tutor import scheduler
from tutor.login_throttle import login_throttle_forget
from tutor.models import ErasureRecord, User
from tutor.privacy_selectors import owned_tables, students_inactive_since, trained_with, user_references

log = logging.getLogger(__name__)

CHUNK_SIZE = 500
_DB_SESSION_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


class ErasureBlocked(Exception):
    """A row that must not lose its link to the person (a protecting foreign key) stops the erasure."""


def _blocking_references(user_id: int) -> list[str]:
    problems = []
    for ref in user_references():
        if ref.on_delete is models.SET_NULL:
            continue
        n = ref.model._default_manager.filter(**{ref.field: user_id}).count()
        if n:
            problems.append(f"{n} {ref.model._meta.label} row(s) point at the account through {ref.field}")
    return problems


def _erasure_begin(*, student: User, reason: str, requested_by: str) -> ErasureRecord:
    """The tombstone, and the account locked, in one transaction; an existing unfinished record is reused."""
    with transaction.atomic():
        record, created = ErasureRecord.objects.get_or_create(
            user_id=student.pk,
            defaults={
                "role": student.role,
                "reason": reason,
                "requested_by": requested_by,
                "started_at": timezone.now(),
                "trained_model_versions": trained_with(student_id=student.pk),
            },
        )
        User.objects.filter(pk=student.pk).update(is_active=False, password=make_password(None))
    if not created:
        log.info("resuming the erasure of account %s", student.pk)
    scheduler.student_cache_forget(student_id=student.pk)
    login_throttle_forget(username=student.get_username())
    return record


def _add_counts(record: ErasureRecord, counts: dict[str, int]) -> None:
    for label, n in counts.items():
        if n:
            record.deleted[label] = record.deleted.get(label, 0) + n


def _files_of(model: type[models.Model], pks: list) -> list[str]:
    file_fields = [f.name for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    if not file_fields:
        return []
    names: list[str] = []
    for row in model._default_manager.filter(pk__in=pks).values_list(*file_fields):
        names.extend(name for name in row if name)
    return names


def _files_delete(names: Iterable[str]) -> None:
    for name in names:
        default_storage.delete(name)  # a missing file is not an error: a rerun may find it gone


def _delete_chunk(*, record: ErasureRecord, model: type[models.Model], pks: list) -> None:
    """Delete one chunk of rows (their cascades, their admin log entries, their files) and count it."""
    files = _files_of(model, pks)
    with transaction.atomic():
        locked = ErasureRecord.objects.select_for_update().get(pk=record.pk)
        content_type = ContentType.objects.get_for_model(model)
        logged, _ = LogEntry.objects.filter(content_type=content_type, object_id__in=[str(pk) for pk in pks]).delete()
        _, counts = model._default_manager.filter(pk__in=pks).delete()
        _add_counts(locked, {**counts, LogEntry._meta.label: logged})
        if files:
            _add_counts(locked, {"files": len(files)})
            transaction.on_commit(lambda: _files_delete(files))
        locked.save(update_fields=["deleted"])
    record.deleted = locked.deleted


def _auth_sessions_delete(user_id: int) -> int:
    """Log the person out everywhere: their stored sessions name their id. Cache-only sessions die with the
    user row (the auth middleware finds no user)."""
    if settings.SESSION_ENGINE not in _DB_SESSION_ENGINES:
        return 0
    store = import_module(settings.SESSION_ENGINE).SessionStore
    mine = [s.session_key for s in Session.objects.iterator() if s.get_decoded().get("_auth_user_id") == str(user_id)]
    for key in mine:
        store(session_key=key).delete()
    return len(mine)


def _erasure_continue(*, record: ErasureRecord, chunk_size: int) -> ErasureRecord:
    uid = record.user_id
    for table in sorted(owned_tables(), key=lambda t: (-t.depth, t.label)):
        rows = table.rows(uid)
        while pks := list(rows.values_list("pk", flat=True)[:chunk_size]):
            _delete_chunk(record=record, model=table.model, pks=pks)
    for ref in user_references():  # SET_NULL only: blocking ones were refused before starting
        with transaction.atomic():
            ref.model._default_manager.filter(**{ref.field: uid}).update(**{ref.field: None})
    sessions = _auth_sessions_delete(uid)
    with transaction.atomic():
        locked = ErasureRecord.objects.select_for_update().get(pk=record.pk)
        content_type = ContentType.objects.get_for_model(User)
        logged, _ = LogEntry.objects.filter(content_type=content_type, object_id=str(uid)).delete()
        _, counts = User.objects.filter(pk=uid).delete()
        _add_counts(locked, {**counts, LogEntry._meta.label: logged, "sessions": sessions})
        locked.finished_at = timezone.now()
        locked.save(update_fields=["deleted", "finished_at"])
    log.info("erased account %s: %s", uid, locked.deleted)
    return locked


def student_erase(
    *,
    student: User,
    reason: str = ErasureRecord.Reason.COMMAND,
    requested_by: str = "",
    chunk_size: int = CHUNK_SIZE,
) -> ErasureRecord:
    """Delete every row about ``student`` (and their files, cached entries and login sessions); idempotent.

    Safe to run again after a crash midway: the second run finishes the job. Model versions already
    trained on the student's attempts are listed in the record, not retrained (docs/operations.md).
    Raises ``ErasureBlocked`` before touching anything when a protecting foreign key points at the account.
    """
    problems = _blocking_references(student.pk)
    if problems:
        raise ErasureBlocked("; ".join(problems))
    record = _erasure_begin(student=student, reason=reason, requested_by=requested_by)
    return _erasure_continue(record=record, chunk_size=chunk_size)


def erasures_resume(*, chunk_size: int = CHUNK_SIZE) -> list[ErasureRecord]:
    """Finish every erasure that stopped midway (a crash, a killed command)."""
    unfinished = ErasureRecord.objects.filter(finished_at__isnull=True).order_by("pk")
    return [_erasure_continue(record=record, chunk_size=chunk_size) for record in unfinished]


def retention_cutoff(*, now: dt.datetime | None = None) -> dt.datetime | None:
    """Students inactive since before this are erased by ``retention_apply``; None when retention is off."""
    days = settings.METIS_RETENTION_DAYS
    if not days:
        return None
    return (now or timezone.now()) - dt.timedelta(days=days)


def retention_apply(*, now: dt.datetime | None = None, dry_run: bool = True) -> list[User]:
    """Erase students with no activity since ``METIS_RETENTION_DAYS`` ago (returned; untouched on a dry run)."""
    cutoff = retention_cutoff(now=now)
    if cutoff is None:
        return []
    due = students_inactive_since(cutoff=cutoff)
    if not dry_run:
        erasures_resume()
        for student in due:
            student_erase(student=student, reason=ErasureRecord.Reason.RETENTION)
    return due
