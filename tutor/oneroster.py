"""OneRoster 1.2 CSV rosters: a zip of ``orgs.csv``, ``classes.csv``, ``users.csv`` and ``enrollments.csv``.

Pure Python (no Django): ``roster_parse`` reads the subset of columns Metis uses (docs/api.md, "Rosters"),
checks everything that needs no database (required columns and values, duplicate ids, references between
the files, roles) and raises ``RosterError`` listing every problem by file, row and field. What needs the
database (courses, taken usernames) is checked by ``tutor.roster_services``, in the same terms.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

MAX_ARCHIVE_BYTES = 20_000_000
MAX_FILE_BYTES = 50_000_000  # uncompressed, per file: a zip bomb stops here
MAX_PROBLEMS = 100
ROLES = ("student", "teacher")
STATUSES = ("", "active", "tobedeleted")

# Per file: the columns read, and whether each is required.
COLUMNS: dict[str, dict[str, bool]] = {
    "orgs.csv": {"sourcedId": True, "name": True, "status": False},
    "classes.csv": {
        "sourcedId": True,
        "title": True,
        "courseSourcedId": True,
        "schoolSourcedId": True,
        "status": False,
    },
    "users.csv": {
        "sourcedId": True,
        "username": True,
        "givenName": False,
        "familyName": False,
        "primaryOrgSourcedId": False,
        "status": False,
    },
    "enrollments.csv": {
        "sourcedId": True,
        "classSourcedId": True,
        "userSourcedId": True,
        "role": True,
        "schoolSourcedId": False,
        "status": False,
    },
}
MAX_LENGTH = {"sourcedId": 255, "title": 200, "name": 200, "username": 150, "givenName": 150, "familyName": 150}


@dataclass(frozen=True)
class RosterProblem:
    file: str
    row: int | None  # the line in the file, the header being line 1
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f" row {self.row}" if self.row else "") + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class RosterError(Exception):
    """The roster is refused as a whole; ``problems`` says where and why (at most ``MAX_PROBLEMS``)."""

    def __init__(self, problems: list[RosterProblem]) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class OrgRow:
    row: int
    sourced_id: str
    name: str


@dataclass(frozen=True)
class ClassRow:
    row: int
    sourced_id: str
    title: str
    course: str  # courseSourcedId: the Metis course's slug
    school: str


@dataclass(frozen=True)
class UserRow:
    row: int
    sourced_id: str
    username: str
    given_name: str
    family_name: str
    role: str  # from enrollments.csv ("student" or "teacher"); "" for a user in no class


@dataclass(frozen=True)
class EnrollmentRow:
    row: int
    sourced_id: str
    class_id: str
    user_id: str
    role: str
    delete: bool  # status "tobedeleted": take them out of the class


@dataclass(frozen=True)
class Roster:
    orgs: tuple[OrgRow, ...]
    classes: tuple[ClassRow, ...]
    users: tuple[UserRow, ...]
    enrollments: tuple[EnrollmentRow, ...]


def _read(archive: zipfile.ZipFile, name: str, problems: list[RosterProblem]) -> list[tuple[int, dict[str, str]]]:
    """The rows of one file as (line, {column: value}), values stripped; problems for what is unreadable."""
    members = {info.filename.rsplit("/", 1)[-1]: info for info in archive.infolist() if not info.is_dir()}
    info = members.get(name)
    if info is None:
        problems.append(RosterProblem(name, None, None, "missing from the zip"))
        return []
    if info.file_size > MAX_FILE_BYTES:
        problems.append(RosterProblem(name, None, None, f"larger than {MAX_FILE_BYTES // 1_000_000} MB"))
        return []
    try:
        text = archive.read(info).decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(RosterProblem(name, None, None, "is not UTF-8 text"))
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c, required in COLUMNS[name].items() if required and c not in header]
    for column in missing:
        problems.append(RosterProblem(name, 1, column, "required column missing from the header"))
    if missing:
        return []
    reader.fieldnames = header
    rows = []
    try:
        for values in reader:
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in values.items() if isinstance(k, str)}))
    except csv.Error as exc:
        problems.append(RosterProblem(name, reader.line_num, None, f"not valid CSV ({exc})"))
    return rows


def _checked(name: str, rows: list[tuple[int, dict[str, str]]], problems: list[RosterProblem]) -> list:
    """Rows with every required value present, within length, unique by sourcedId, and a known status."""
    seen: dict[str, int] = {}
    kept = []
    for line, values in rows:
        ok = True
        for column, required in COLUMNS[name].items():
            value = values.get(column, "")
            if required and not value:
                problems.append(RosterProblem(name, line, column, "is required"))
                ok = False
            elif len(value) > MAX_LENGTH.get(column, 255):
                problems.append(RosterProblem(name, line, column, f"longer than {MAX_LENGTH.get(column, 255)}"))
                ok = False
        status = values.get("status", "").lower()
        if status not in STATUSES or (status == "tobedeleted" and name != "enrollments.csv"):
            allowed = "empty, active or tobedeleted" if name == "enrollments.csv" else "empty or active"
            problems.append(RosterProblem(name, line, "status", f"must be {allowed} (got {status!r})"))
            ok = False
        sourced_id = values.get("sourcedId", "")
        if sourced_id in seen:
            problems.append(RosterProblem(name, line, "sourcedId", f"duplicate (also row {seen[sourced_id]})"))
            ok = False
        elif sourced_id:
            seen[sourced_id] = line
        if ok:
            kept.append((line, values))
    return kept


def roster_parse(data: bytes) -> Roster:
    """The roster in a OneRoster 1.2 CSV zip, or ``RosterError`` listing every problem found."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise RosterError([RosterProblem("zip", None, None, f"larger than {MAX_ARCHIVE_BYTES // 1_000_000} MB")])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RosterError([RosterProblem("zip", None, None, "not a zip file")]) from None
    problems: list[RosterProblem] = []
    with archive:
        read = {name: _read(archive, name, problems) for name in COLUMNS}
    # References are checked against every id in a file, so a row with its own problem adds no others
    ids = {name: {v["sourcedId"] for _, v in rows if v.get("sourcedId")} for name, rows in read.items()}
    raw = {name: _checked(name, rows, problems) for name, rows in read.items()}

    orgs = tuple(OrgRow(line, v["sourcedId"], v["name"]) for line, v in raw["orgs.csv"])
    org_ids = ids["orgs.csv"]

    def known_org(name: str, line: int, column: str, value: str) -> None:
        if value and value not in org_ids:
            problems.append(RosterProblem(name, line, column, f"no org {value!r} in orgs.csv"))

    classes = []
    for line, v in raw["classes.csv"]:
        known_org("classes.csv", line, "schoolSourcedId", v["schoolSourcedId"])
        classes.append(ClassRow(line, v["sourcedId"], v["title"], v["courseSourcedId"], v["schoolSourcedId"]))
    class_ids = ids["classes.csv"]
    user_rows = raw["users.csv"]
    usernames: dict[str, int] = {}
    for line, v in user_rows:
        known_org("users.csv", line, "primaryOrgSourcedId", v.get("primaryOrgSourcedId", ""))
        first = usernames.setdefault(v["username"].lower(), line)
        if first != line:
            problems.append(RosterProblem("users.csv", line, "username", f"duplicate (also row {first})"))
    user_ids = ids["users.csv"]

    enrollments = []
    roles: dict[str, tuple[str, int]] = {}
    for line, v in raw["enrollments.csv"]:
        role = v["role"].lower()
        ok = True
        if role not in ROLES:
            problems.append(
                RosterProblem("enrollments.csv", line, "role", f"must be student or teacher (got {role!r})")
            )
            ok = False
        if v["classSourcedId"] not in class_ids:
            problems.append(
                RosterProblem(
                    "enrollments.csv", line, "classSourcedId", f"no class {v['classSourcedId']!r} in classes.csv"
                )
            )
            ok = False
        if v["userSourcedId"] not in user_ids:
            problems.append(
                RosterProblem("enrollments.csv", line, "userSourcedId", f"no user {v['userSourcedId']!r} in users.csv")
            )
            ok = False
        known_org("enrollments.csv", line, "schoolSourcedId", v.get("schoolSourcedId", ""))
        delete = v.get("status", "").lower() == "tobedeleted"
        if ok and not delete:
            earlier = roles.setdefault(v["userSourcedId"], (role, line))
            if earlier[0] != role:
                problems.append(
                    RosterProblem(
                        "enrollments.csv",
                        line,
                        "role",
                        f"the user is a {earlier[0]} in row {earlier[1]}: one role each",
                    )
                )
                ok = False
        if ok:
            enrollments.append(
                EnrollmentRow(line, v["sourcedId"], v["classSourcedId"], v["userSourcedId"], role, delete)
            )

    users = tuple(
        UserRow(
            line,
            v["sourcedId"],
            v["username"],
            v.get("givenName", ""),
            v.get("familyName", ""),
            roles.get(v["sourcedId"], ("", 0))[0],
        )
        for line, v in user_rows
    )
    if problems:
        raise RosterError(
            sorted(problems, key=lambda p: (list(COLUMNS).index(p.file) if p.file in COLUMNS else -1, p.row or 0))
        )
    return Roster(orgs, tuple(classes), users, tuple(enrollments))
