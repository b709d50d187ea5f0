"""Reads behind a teacher's class management pages: the live view of who is practising now, one session in
progress (read-only), the roster, and the class overview as CSV rows.

Every read goes through ``tutor.access`` (the viewer's sessions, attempts and students), and the live view
reads in a fixed number of queries whatever the size of the class.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from . import access
from .dashboard_selectors import ClassOverview
from .models import Attempt, Item, PracticeSession, Section, SessionItem, User

LIVE_MINUTES = 10  # an open session counts as "practising now" with an item served or answered this recently
STREAM_SIZE = 25  # answers in the class's answer stream


def _name(user: User) -> str:
    return user.get_full_name() or user.username


@dataclass(frozen=True)
class SessionStep:
    """One item of a session: what was shown, and the answer to it if any."""

    position: int
    item: Item
    served_at: datetime
    hints_shown: int
    reason: str
    attempt: Attempt | None


@dataclass
class LiveSession:
    """One session with every item and answer so far (the read-only page a teacher watches)."""

    session: PracticeSession
    name: str
    steps: list[SessionStep] = field(default_factory=list)

    @property
    def answers(self) -> list[bool]:
        return [s.attempt.correct for s in self.steps if s.attempt is not None]

    @property
    def n_correct(self) -> int:
        return sum(self.answers)


@dataclass
class LiveStudent:
    """One student practising now, read as plain values (200 of them every 5 seconds: no model instances)."""

    session: PracticeSession
    name: str
    position: int | None = None  # the item they are on (the last shown), None before the first
    skill_name: str = ""
    waiting: bool = False  # that item is not answered yet
    answers: list[bool] = field(default_factory=list)  # this session's, in order
    last_at: datetime | None = None

    @property
    def n_correct(self) -> int:
        return sum(self.answers)


@dataclass(frozen=True)
class LiveClass:
    section: Section
    practising: list[LiveStudent]  # most recently active first
    stream: list[Attempt]  # newest first
    now: datetime
    minutes: int = LIVE_MINUTES


def _steps(session_ids: list[int]) -> dict[int, list[SessionStep]]:
    """Each session's items in order with their answers: one query."""
    out: dict[int, list[SessionStep]] = {sid: [] for sid in session_ids}
    items = (
        SessionItem.objects.filter(session_id__in=session_ids)
        .select_related("item__skill", "attempt")
        .order_by("session_id", "position")
    )
    for si in items:
        try:
            attempt: Attempt | None = si.attempt
        except Attempt.DoesNotExist:
            attempt = None
        out[si.session_id].append(SessionStep(si.position, si.item, si.served_at, si.hints_shown, si.reason, attempt))
    return out


def sessions_in_class(*, viewer: User, section: Section) -> QuerySet[PracticeSession]:
    """The sessions of ``section`` the viewer may see (its teachers: their students' sessions in it)."""
    return access.sessions_visible_to(viewer).filter(section=section)


def live_class(*, viewer: User, section: Section, now: datetime | None = None) -> LiveClass:
    """Who is practising in the class now, on what, and how it is going; and the latest answers. Three queries."""
    now = now or timezone.now()
    since = now - timedelta(minutes=LIVE_MINUTES)
    active = (
        sessions_in_class(viewer=viewer, section=section)
        .filter(ended_at__isnull=True)
        .filter(
            Q(started_at__gte=since)
            | Exists(SessionItem.objects.filter(session=OuterRef("pk"), served_at__gte=since))
            | Exists(Attempt.objects.filter(session=OuterRef("pk"), created_at__gte=since))
        )
        .select_related("student")
    )
    practising = {s.pk: LiveStudent(s, _name(s.student), last_at=s.started_at) for s in active}
    progress = (
        SessionItem.objects.filter(session_id__in=list(practising))
        .order_by("session_id", "position")
        .values_list(
            "session_id", "position", "served_at", "item__skill__name", "attempt__correct", "attempt__created_at"
        )
    )
    for session_id, position, served_at, skill_name, correct, answered_at in progress:
        live = practising[session_id]
        live.position, live.skill_name, live.waiting = position, skill_name, correct is None
        if correct is not None:
            live.answers.append(correct)
        live.last_at = max(m for m in (live.last_at, served_at, answered_at) if m is not None)
    ranked = sorted(practising.values(), key=lambda live: live.last_at or now, reverse=True)
    stream = list(
        access.attempts_visible_to(viewer)
        .filter(session__section=section)
        .select_related("student", "skill", "item")
        .order_by("-created_at", "-id")[:STREAM_SIZE]
    )
    return LiveClass(section=section, practising=ranked, stream=stream, now=now)


def session_in_class(*, session: PracticeSession) -> LiveSession:
    """One session of the class with every item and answer so far, for a teacher watching (two queries)."""
    return LiveSession(session, _name(session.student), _steps([session.pk])[session.pk])


# --- the class overview as CSV ------------------------------------------------------------


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (a formula) gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _pct(p: float | None) -> str:
    return "" if p is None else str(round(100 * p))


def overview_csv_rows(*, overview: ClassOverview) -> Iterator[list[str]]:
    """What the class overview shows, one row per student: answers, accuracy, flags and, per skill shown, the
    estimated chance of a right answer (%), the answers it rests on and the confident-but-wrong count."""
    header = ["student", "username", "answers", "right", "accuracy_pct", "last_answer", "needs_help"]
    for skill in overview.skills:
        header += [f"{skill.name}: chance_right_pct", f"{skill.name}: answers", f"{skill.name}: sure_wrong/sure"]
    yield [_cell(h) for h in header]
    for row in overview.rows:
        last = timezone.localtime(row.last_at).strftime("%Y-%m-%d %H:%M") if row.last_at else ""
        out = [
            row.name,
            row.student.username,
            str(row.n_answers),
            str(row.n_correct),
            _pct(row.accuracy),
            last,
            " ".join(f.reason for f in row.flags),
        ]
        for cell in row.cells:
            out += [_pct(cell.p), str(cell.n), f"{cell.n_sure_wrong}/{cell.n_sure}" if cell.n_sure else ""]
        yield [_cell(v) for v in out]


# --- roster -----------------------------------------------------------------------------------


def roster_for_section(*, viewer: User, section: Section) -> list[User]:
    return list(
        access.students_visible_to(viewer)
        .filter(enrollments__section=section)
        .order_by("last_name", "first_name", "username")
    )


def move_targets(*, viewer: User, section: Section) -> list[Section]:
    """Other classes of the viewer's, in the same organisation and not archived, a student may move to."""
    return list(
        access.sections_managed_by(viewer)
        .filter(organisation_id=section.organisation_id, archived_at__isnull=True)
        .exclude(pk=section.pk)
        .order_by("name")
    )
