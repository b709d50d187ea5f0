"""What Metis stores about one person, found from the models' own relations, and the student export.

The tables are discovered, not listed: every model with a foreign key or one-to-one to the user, and every
model that hangs off those by a cascading foreign key (a session's items), so a table added later is
exported and erased without anyone remembering to add it here. ``tutor.privacy_services`` erases what this
module finds.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Max, Q
from django.utils import timezone

from learner_models.models import ModelVersion, TrainingRun
from tutor.models import Attempt, User

EXPORT_FORMAT = "metis-student-export/1"
_MAX_DEPTH = 4  # user → session → session item → attempt is three; deeper chains would be a design smell


@dataclass(frozen=True)
class OwnedTable:
    """Rows of ``model`` that belong to one person, reached through ``paths`` (ORM lookups to the user)."""

    model: type[models.Model]
    paths: tuple[str, ...]  # e.g. ("student",) or ("session__student", "student")
    depth: int  # the longest path's length: deeper tables are erased first (children before parents)

    @property
    def label(self) -> str:
        return self.model._meta.label

    def rows(self, user_id: int) -> models.QuerySet:
        q = Q()
        for path in self.paths:
            q |= Q(**{path: user_id})
        return self.model._default_manager.filter(q).order_by("pk")


@dataclass(frozen=True)
class UserReference:
    """A foreign key to the user that does not delete with it (``SET_NULL``): the row is not the person's."""

    model: type[models.Model]
    field: str
    on_delete: Any


def _fks_to(target: type[models.Model]) -> list[tuple[type[models.Model], models.ForeignKey]]:
    found = []
    for model in apps.get_models():  # concrete models; auto-created M2M tables go with their owner
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model is target:  # one-to-one included
                found.append((model, field))
    return found


def _on_delete(field: models.ForeignKey) -> Any:
    return field.remote_field.on_delete


def user_fk_fields() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every (model, field) with a foreign key or one-to-one to the user model, in any installed app."""
    return _fks_to(User)


def owned_tables() -> list[OwnedTable]:
    """Tables whose rows are deleted with the person (cascading foreign keys from the user, transitively)."""
    paths: dict[type[models.Model], set[str]] = {}
    depth: dict[type[models.Model], int] = {}
    frontier: list[tuple[type[models.Model], str, int]] = [(User, "", 0)]
    while frontier:
        parent, prefix, level = frontier.pop()
        if level >= _MAX_DEPTH:
            continue
        for model, field in _fks_to(parent):
            if _on_delete(field) is not models.CASCADE or model is User:
                continue
            path = f"{field.name}__{prefix}" if prefix else field.name
            path = path.removesuffix("__")
            paths.setdefault(model, set()).add(path)
            depth[model] = max(depth.get(model, 0), level + 1)
            frontier.append((model, f"{path}__", level + 1))
    return [OwnedTable(model=m, paths=tuple(sorted(p, key=len)), depth=depth[m]) for m, p in paths.items()]


def user_references() -> list[UserReference]:
    """Foreign keys to the user that keep their row when the user goes (e.g. who requested a training run)."""
    return [
        UserReference(model=model, field=field.name, on_delete=_on_delete(field))
        for model, field in user_fk_fields()
        if _on_delete(field) is not models.CASCADE
    ]


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return {"bytes": len(raw), "base64": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or None
    return value


def row_as_dict(obj: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every concrete field (foreign keys as ids), plus many-to-many fields as lists of ids; JSON-ready."""
    row: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name not in exclude:
            row[field.attname] = _value(field.value_from_object(obj))
    for m2m in obj._meta.many_to_many:
        if m2m.name not in exclude:
            row[m2m.name] = sorted(o.pk for o in getattr(obj, m2m.name).all())
    return row


def trained_with(*, student_id: int) -> list[dict[str, Any]]:
    """Training runs (and their versions) whose data cut-off covers one of the student's attempts.

    A run still running may have read them too. Conservative: a student of the fixed held-out split was
    scored by these versions, not trained on, but is listed as well.
    """
    first = Attempt.objects.filter(student_id=student_id).order_by("pk").values_list("pk", flat=True).first()
    if first is None:
        return []
    runs = TrainingRun.objects.filter(
        cutoff_attempt_id__gte=first, status__in=[TrainingRun.Status.RUNNING, TrainingRun.Status.SUCCEEDED]
    ).order_by("pk")
    versions = dict(ModelVersion.objects.filter(training_run__in=runs).values_list("training_run_id", "pk"))
    return [{"run": run.pk, "version": versions.get(run.pk), "status": run.status} for run in runs]


def student_export(*, student: User) -> dict[str, Any]:
    """Everything stored about ``student`` as JSON-ready data (no password hash): the right of access.

    ``tables`` maps each table's label to its rows; learner-model states come as base64 with their size.
    Admin log entries about the person or their rows are included, as are rows that merely point at them.
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in sorted(owned_tables(), key=lambda t: t.label):
        tables[table.label] = [row_as_dict(obj) for obj in table.rows(student.pk)]
    for ref in user_references():
        rows = ref.model._default_manager.filter(**{ref.field: student}).order_by("pk")
        tables.setdefault(ref.model._meta.label, []).extend(row_as_dict(obj) for obj in rows)
    about = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(student.pk)
    ).order_by("pk")
    logged = tables.setdefault(LogEntry._meta.label, [])
    seen = {row["id"] for row in logged}
    logged.extend(row_as_dict(e) for e in about if e.pk not in seen)
    user = row_as_dict(student, exclude=("password",))
    user["teaching_sections"] = sorted(student.teaching_sections.values_list("pk", flat=True))
    return {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "user": user,
        "tables": tables,
        "trained_with": trained_with(student_id=student.pk),
    }


def student_last_activity(*, student: User) -> dt.datetime | None:
    """The latest of joining, logging in, starting a session and answering: what retention counts from."""
    marks = [student.date_joined, student.last_login]
    marks.append(student.practice_sessions.aggregate(m=Max("started_at"))["m"])
    marks.append(student.attempts.aggregate(m=Max("created_at"))["m"])
    return max((m for m in marks if m is not None), default=None)


def students_inactive_since(*, cutoff: dt.datetime) -> list[User]:
    """Students whose last activity is older than ``cutoff`` (retention), oldest first."""
    candidates = User.objects.filter(role=User.Role.STUDENT, date_joined__lt=cutoff).exclude(last_login__gte=cutoff)
    candidates = candidates.exclude(practice_sessions__started_at__gte=cutoff).exclude(attempts__created_at__gte=cutoff)
    found = [(student_last_activity(student=s), s) for s in candidates.distinct().order_by("pk")]
    return [s for last, s in sorted(found, key=lambda p: (p[0] or cutoff, p[1].pk)) if last is None or last < cutoff]
