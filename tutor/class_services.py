"""Writes behind a teacher's class management: create and archive classes, add students (one by one or from a
CSV roster), reset a student's password, move a student to another class.

Every service checks everything before it writes anything and runs in one transaction, so a refused request
(a bad roster row, a name already taken) saves nothing. Who may call them is the view's business
(``tutor.access.sections_managed_by``); what a class may hold (people of its own organisation) is checked here.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Course, Enrollment, Organisation, PracticeSession, Section, User, organisation_mismatch
from .services import session_end

# Roster columns, in the order the guide (docs/dashboards.md, "Managing a class") documents them.
ROSTER_COLUMNS = ("username", "first_name", "last_name", "email")
ROSTER_REQUIRED = ("username",)
ROSTER_MAX_ROWS = 1000
ROSTER_MAX_BYTES = 512 * 1024
NAME_MAX = 150  # User.first_name / last_name
# Temporary passwords: read aloud or copied from a screen, so no look-alike characters (0/O, 1/l/I).
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 12


class ClassError(Exception):
    """A management request that cannot be honoured; ``field`` names the culprit, ``line`` the roster line."""

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


def password_temporary() -> str:
    """A random password a teacher hands to a student once (~71 bits)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


# --- classes -------------------------------------------------------------------------


@transaction.atomic
def section_create(*, organisation: Organisation, name: str, course: Course, teacher: User | None) -> Section:
    """A new class in ``organisation``; ``teacher`` (the creator, when a teacher) becomes one of its teachers."""
    name = name.strip()
    if not name:
        raise ClassError("Give the class a name.", field="name")
    if Section.objects.filter(organisation=organisation, name__iexact=name).exists():
        raise ClassError(f"{organisation.name} already has a class called {name}: choose another name.", field="name")
    try:
        with transaction.atomic():
            section = Section.objects.create(organisation=organisation, name=name, course=course)
    except IntegrityError:  # created by another request since the check
        raise ClassError(
            f"{organisation.name} already has a class called {name}: choose another name.", field="name"
        ) from None
    if teacher is not None:
        problem = organisation_mismatch(teacher, section)
        if problem:
            raise ClassError(problem, field="organisation")
        section.teachers.add(teacher)
    return section


def section_archive(*, section: Section) -> Section:
    """Take the class off its teachers' home lists; nothing of it is deleted (idempotent)."""
    if section.archived_at is None:
        Section.objects.filter(pk=section.pk, archived_at__isnull=True).update(archived_at=timezone.now())
        section.refresh_from_db(fields=["archived_at"])
    return section


def section_unarchive(*, section: Section) -> Section:
    if section.archived_at is not None:
        Section.objects.filter(pk=section.pk).update(archived_at=None)
        section.archived_at = None
    return section


# --- students ------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentAdded:
    student: User
    created: bool  # a new account (``password`` is its temporary password), else an existing one enrolled
    already_enrolled: bool
    password: str | None
    line: int | None = None


@dataclass(frozen=True)
class _RosterRow:
    line: int
    username: str
    first_name: str
    last_name: str
    email: str


def _check_row(row: _RosterRow) -> None:
    where = f"Line {row.line}: " if row.line else ""
    if not row.username:
        raise ClassError(f"{where}username is empty.", field="username", line=row.line)
    if len(row.username) > 150:
        raise ClassError(f"{where}username is longer than 150 characters.", field="username", line=row.line)
    try:
        UnicodeUsernameValidator()(row.username)
    except ValidationError:
        raise ClassError(
            f"{where}username “{row.username}” may hold only letters, digits and @ . + - _ (no spaces).",
            field="username",
            line=row.line,
        ) from None
    for field in ("first_name", "last_name"):
        if len(getattr(row, field)) > NAME_MAX:
            raise ClassError(f"{where}{field} is longer than {NAME_MAX} characters.", field=field, line=row.line)
    if row.email:
        try:
            validate_email(row.email)
        except ValidationError:
            raise ClassError(
                f"{where}email “{row.email}” is not an email address.", field="email", line=row.line
            ) from None


def _plan(section: Section, rows: list[_RosterRow]) -> list[tuple[_RosterRow, User | None, bool]]:
    """For each row, the existing account it names (or None: to create) and whether it is enrolled already.
    Refuses, naming the line, a username held by someone who may not join this class. Two queries."""
    existing = {u.username: u for u in User.objects.filter(username__in=[r.username for r in rows])}
    enrolled = set(
        Enrollment.objects.filter(section=section, student__in=[u.pk for u in existing.values()]).values_list(
            "student_id", flat=True
        )
    )
    plan = []
    for row in rows:
        where = f"Line {row.line}: " if row.line else ""
        user = existing.get(row.username)
        if user is not None:
            if user.role != User.Role.STUDENT:
                raise ClassError(
                    f"{where}username “{row.username}” belongs to a staff account, not a student: use another.",
                    field="username",
                    line=row.line,
                )
            if user.organisation_id != section.organisation_id:
                raise ClassError(
                    f"{where}username “{row.username}” is taken by an account outside {section.organisation.name}: "
                    "choose another username.",
                    field="username",
                    line=row.line,
                )
        plan.append((row, user, user is not None and user.pk in enrolled))
    return plan


def _apply(section: Section, plan: list[tuple[_RosterRow, User | None, bool]]) -> list[StudentAdded]:
    out = []
    for row, user, already in plan:
        password = None
        if user is None:
            password = password_temporary()
            user = User(
                username=row.username,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                role=User.Role.STUDENT,
                organisation=section.organisation,
            )
            user.set_password(password)
            user.save()
        if not already:
            Enrollment.objects.create(section=section, student=user)
        out.append(
            StudentAdded(user, created=password is not None, already_enrolled=already, password=password, line=row.line)
        )
    return out


def student_add(
    *, section: Section, username: str, first_name: str = "", last_name: str = "", email: str = ""
) -> StudentAdded:
    """Enrol one student: a new account with a temporary password, or the existing student account of this
    organisation with that username (its password is left alone)."""
    row = _RosterRow(0, username.strip(), first_name.strip(), last_name.strip(), email.strip())
    _check_row(row)
    try:
        with transaction.atomic():
            return _apply(section, _plan(section, [row]))[0]
    except IntegrityError:
        raise ClassError(
            f"The username “{row.username}” was taken while saving: try again.", field="username"
        ) from None


def roster_parse(*, text: str) -> list[_RosterRow]:
    """The rows of a roster CSV (header line first; ``username`` required, ``first_name``, ``last_name``,
    ``email`` optional, in any order). Raises ``ClassError`` naming the first bad line and field."""
    if "\x00" in text:
        raise ClassError("The file is not a CSV text file.", field="roster")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ClassError(f"Line 1: not readable as CSV ({exc}).", field="roster", line=1) from None
    if header is None or not any(h.strip() for h in header):
        raise ClassError(
            "The file is empty: the first line must name the columns, e.g. username,first_name,last_name.",
            field="roster",
        )
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in ROSTER_COLUMNS]
    if unknown:
        raise ClassError(
            f"Line 1: unknown column “{unknown[0]}”; the columns are {', '.join(ROSTER_COLUMNS)}.",
            field="roster",
            line=1,
        )
    for required in ROSTER_REQUIRED:
        if required not in columns:
            raise ClassError(f"Line 1: the column “{required}” is missing.", field="roster", line=1)
    duplicated = [c for c in set(columns) if columns.count(c) > 1]
    if duplicated:
        raise ClassError(f"Line 1: the column “{duplicated[0]}” appears twice.", field="roster", line=1)
    rows: list[_RosterRow] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank lines (a trailing newline, a spreadsheet's empty rows)
            if len(values) != len(columns):
                raise ClassError(
                    f"Line {line}: {len(values)} values for {len(columns)} columns.", field="roster", line=line
                )
            cells = {c: v.strip() for c, v in zip(columns, values, strict=True)}
            row = _RosterRow(
                line,
                cells["username"],
                cells.get("first_name", ""),
                cells.get("last_name", ""),
                cells.get("email", ""),
            )
            _check_row(row)
            if row.username in seen:
                raise ClassError(
                    f"Line {line}: username “{row.username}” is also on line {seen[row.username]}.",
                    field="username",
                    line=line,
                )
            seen[row.username] = line
            rows.append(row)
            if len(rows) > ROSTER_MAX_ROWS:
                raise ClassError(f"The roster has more than {ROSTER_MAX_ROWS} students: split it.", field="roster")
    except csv.Error as exc:
        raise ClassError(
            f"Line {reader.line_num}: not readable as CSV ({exc}).", field="roster", line=reader.line_num
        ) from None
    if not rows:
        raise ClassError("The roster has a header line but no students.", field="roster")
    return rows


def roster_decode(*, data: bytes) -> str:
    """The roster file's text: UTF-8 (a spreadsheet's byte-order mark is dropped)."""
    if len(data) > ROSTER_MAX_BYTES:
        raise ClassError(f"The file is larger than {ROSTER_MAX_BYTES // 1024} KB.", field="roster")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ClassError(
            f"Line {line}: the file is not UTF-8 text (save it as “CSV UTF-8”).", field="roster", line=line
        ) from None


def roster_import(*, section: Section, data: bytes) -> list[StudentAdded]:
    """Enrol every student of a roster CSV, or none: the first bad line refuses the whole file."""
    rows = roster_parse(text=roster_decode(data=data))
    try:
        with transaction.atomic():
            return _apply(section, _plan(section, rows))
    except IntegrityError:  # a username taken, or an enrolment made, by another request since the check
        raise ClassError(
            "Someone else changed these accounts while the roster was being saved: upload it again.", field="roster"
        ) from None


def _enrolled(section: Section, student: User) -> Enrollment:
    enrollment = Enrollment.objects.filter(section=section, student=student).first()
    if enrollment is None:
        raise ClassError(f"{student.username} is not in {section.name}.", field="student")
    return enrollment


@transaction.atomic
def student_password_reset(*, section: Section, student: User) -> str:
    """Give a student of the class a new temporary password, returned once (only its hash is stored)."""
    _enrolled(section, student)
    if student.role != User.Role.STUDENT:
        raise ClassError("Only a student's password can be reset here.", field="student")
    password = password_temporary()
    student.set_password(password)
    student.save(update_fields=["password"])
    return password


@transaction.atomic
def student_move(*, student: User, source: Section, target: Section) -> Enrollment:
    """Move a student from one class to another of the same organisation. Their answers stay where they were
    given (the old class's records); a session still open in the old class is ended."""
    if source.pk == target.pk:
        raise ClassError(f"{student.username} is already in {target.name}: choose another class.", field="target")
    if target.archived_at is not None:
        raise ClassError(f"{target.name} is archived: unarchive it first.", field="target")
    problem = organisation_mismatch(student, target)
    if problem:
        raise ClassError(problem, field="target")
    old = _enrolled(source, student)
    if Enrollment.objects.filter(section=target, student=student).exists():
        raise ClassError(f"{student.username} is already in {target.name}.", field="target")
    for session in PracticeSession.objects.filter(student=student, section=source, ended_at__isnull=True):
        session_end(session=session)
    old.delete()
    return Enrollment.objects.create(section=target, student=student)
