"""Writes of the practice domain. Views, commands and tasks call these; nothing else writes."""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from learner_models.services import student_state_after_attempt
from metacog import services as metacog_services

from .access import (
    API_TOKEN_PREFIX,
    api_secret_hash,
    can_practise_in,
    courses_writable_by_client,
    items_visible_to_client,
    sections_visible_to_client,
    students_visible_to_client,
)
from .answers import CheckResult, InvalidAnswer, check_answer, response_display
from .content import items_import
from .content_format import ContentError, parse_item
from .models import (
    ApiClient,
    Attempt,
    Course,
    DayTally,
    Enrollment,
    Item,
    LearnedContrasts,
    Organisation,
    PracticeSession,
    SchedulingRule,
    Section,
    SessionItem,
    Skill,
    SkillTally,
    User,
    organisation_mismatch,
)
from .policies import SPREAD_OFTEN_CONFUSED
from .qti import QtiError, QtiItem, qti_files_read, qti_items_parse
from .scheduler import item_next_for_student, pair_weights_forget
from .scheduling_api import CourseSpec, ItemSpec, Observation, SkillSpec, learn_contrast_weights

log = logging.getLogger(__name__)
MAX_ANSWER_LENGTH = 500
MAX_RESPONSE_TIME_MS = 6 * 60 * 60 * 1000


class PracticeError(Exception):
    """A request that the practice flow cannot honour; ``field`` names the culprit, if any, ``code`` is a stable
    name for the API's error body."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


# --- practice -----------------------------------------------------------------


def session_start(*, student: User, section: Section) -> PracticeSession:
    """Resume the student's open session in this class, or start a new one."""
    if not can_practise_in(student, section):
        raise PracticeError("You are not enrolled in this class.", field="section")
    open_session = PracticeSession.objects.filter(student=student, section=section, ended_at__isnull=True).first()
    if open_session is not None:
        return open_session
    return PracticeSession.objects.create(
        student=student,
        section=section,
        planned_items=section.session_length,
        scheduling_rule=section.scheduling_rule,
        started_at=timezone.now(),
    )


def session_item_current(*, session: PracticeSession, rng: random.Random | None = None) -> SessionItem | None:
    """The item the student is on: the unanswered one, else a newly scheduled one; None when the session is done."""
    if not session.is_open:
        return None
    last = session.session_items.select_related("item", "item__skill").order_by("-position").first()
    if last is not None and not Attempt.objects.filter(session_item=last).exists():
        return last
    position = (last.position if last else 0) + 1
    if position > session.planned_items:
        return None
    choice = item_next_for_student(session=session, rng=rng)
    try:
        with transaction.atomic():
            return SessionItem.objects.create(
                session=session,
                item=choice.item,
                position=position,
                served_at=timezone.now(),
                reason=choice.reason[:300],
            )
    except IntegrityError:  # two tabs asked at once: both get the same item
        return session.session_items.select_related("item").get(position=position)


def hint_reveal(*, session_item: SessionItem) -> list[str]:
    """Open the next hint (recorded as hint use) and return the hints opened so far."""
    hints = list(session_item.item.hints)
    if Attempt.objects.filter(session_item=session_item).exists():
        return hints  # after answering, hints are free and not counted
    if session_item.hints_shown < len(hints):
        SessionItem.objects.filter(pk=session_item.pk, hints_shown=session_item.hints_shown).update(
            hints_shown=session_item.hints_shown + 1
        )
        session_item.refresh_from_db(fields=["hints_shown"])
    return hints[: session_item.hints_shown]


@dataclass(frozen=True)
class AttemptOutcome:
    attempt: Attempt
    created: bool
    check: CheckResult | None
    #: The item had already been answered (another tab or window) and this different answer was not
    #: recorded; the page must say so rather than show the stored answer as if it were this one.
    not_recorded: str | None = None


def _parse_confidence(confidence: object) -> float:
    try:
        value = float(confidence)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PracticeError("Rate your confidence before you answer.", field="confidence") from None
    if not 0 <= value <= 1:  # also rejects NaN
        raise PracticeError("Confidence must be a probability between 0 and 1.", field="confidence")
    return value


def attempt_record(
    *,
    student: User,
    session_item: SessionItem,
    answer: str,
    confidence: object,
    idempotency_key: str,
    response_time_ms: int | None = None,
) -> AttemptOutcome:
    """Grade and store one answer. Replaying the same key (double click, retry) returns the first attempt.

    Raises PracticeError for input to fix (nothing stored), e.g. an answer that is not a number.
    """
    key = (idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise PracticeError("Missing or invalid idempotency key; reload the page.", field="idempotency_key")
    existing = Attempt.objects.filter(student=student, idempotency_key=key).first()
    if existing is not None:
        return AttemptOutcome(existing, created=False, check=None)
    session = session_item.session
    if session.student_id != student.pk:
        raise PracticeError("This item belongs to another student.", field="session")
    already = Attempt.objects.filter(session_item=session_item).first()
    if already is not None:  # answered from another tab with a different key
        return AttemptOutcome(already, created=False, check=None, not_recorded=_unrecorded(already, answer))
    if not session.is_open:
        raise PracticeError("This session has ended.", field="session")
    answer = (answer or "").strip()
    if not answer:
        raise PracticeError("Enter an answer.", field="answer")
    if len(answer) > MAX_ANSWER_LENGTH:
        raise PracticeError(f"Answers are at most {MAX_ANSWER_LENGTH} characters.", field="answer")
    conf = _parse_confidence(confidence)
    if response_time_ms is not None and not 0 <= response_time_ms <= MAX_RESPONSE_TIME_MS:
        response_time_ms = None  # a clock glitch on the client; fall back to the server's timing
    item = session_item.item
    try:
        result = check_answer(item.item_type, item.answer, answer)
    except InvalidAnswer as exc:
        raise PracticeError(exc.message, field="answer") from None
    answer = response_display(item.item_type, result, answer)[:MAX_ANSWER_LENGTH]
    now = timezone.now()
    if response_time_ms is None:
        response_time_ms = max(0, int((now - session_item.served_at).total_seconds() * 1000))
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                student=student,
                item=item,
                skill_id=item.skill_id,
                session=session,
                session_item=session_item,
                answer=answer,
                normalized_answer=result.normalized[:500],
                correct=result.correct,
                feedback=result.feedback[:300],
                confidence=conf,
                response_time_ms=min(response_time_ms, MAX_RESPONSE_TIME_MS),
                hints_used=session_item.hints_shown,
                idempotency_key=key,
                served_at=session_item.served_at,
                created_at=now,
            )
    except IntegrityError:
        # A concurrent duplicate won the race: return what it stored.
        winner = (
            Attempt.objects.filter(student=student, idempotency_key=key).first()
            or Attempt.objects.filter(session_item=session_item).first()
        )
        if winner is None:
            raise
        unrecorded = _unrecorded(winner, answer) if winner.idempotency_key != key else None
        return AttemptOutcome(winner, created=False, check=None, not_recorded=unrecorded)
    # a review the student agreed to is done once each of its skills has been practised since it came due
    metacog_services.reviews_settle(student_id=student.pk, section_id=session.section_id, now=now)
    transaction.on_commit(lambda: _refresh_learner_state(student.pk))
    return AttemptOutcome(attempt, created=True, check=result)


def _unrecorded(stored: Attempt, answer: str) -> str | None:
    """The answer this request sent, when it differs from the one already stored for the item."""
    given = (answer or "").strip()
    if not given:
        return None
    item = stored.item
    try:
        given = response_display(item.item_type, check_answer(item.item_type, item.answer, given), given)
    except (InvalidAnswer, ValueError):
        pass  # not gradable: show it as typed
    return None if given == stored.answer else given[:MAX_ANSWER_LENGTH]


# --- attempts ingested through the API -------------------------------------------------


class AttemptIngestError(PracticeError):
    """An ingested attempt that cannot be stored; ``index`` is its place in a batch, ``code`` a stable name."""

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None, code: str = "invalid"):
        super().__init__(message, field=field, code=code)
        self.index = index


@dataclass(frozen=True)
class AttemptIngest:
    """One answer given elsewhere (another app, a paper test typed in), for a student named by external id."""

    student_external_id: str
    item_id: int | None
    answer: str
    confidence: float
    idempotency_key: str
    response_time_ms: int | None = None
    hints_used: int = 0
    answered_at: datetime | None = None
    #: A SessionItem from ``item_serve_for_client``: the answer is recorded in that session, as on the pages.
    served_item_id: int | None = None


def attempt_ingest(*, client: ApiClient, entry: AttemptIngest, index: int | None = None) -> AttemptOutcome:
    """Grade and store an answer given outside a practice session (``session`` is None).

    The same idempotency key for the same student returns the stored attempt; the same key with another item
    or answer is refused (code ``idempotency_conflict``), never silently read as the first one. Student and
    item are looked up inside the client's organisation only, so a foreign id reads as unknown.
    """

    def fail(message: str, field: str | None, code: str = "invalid") -> AttemptIngestError:
        return AttemptIngestError(message, field=field, index=index, code=code)

    key = (entry.idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise fail("An idempotency key of 1 to 64 characters is required.", "idempotency_key")
    student = students_visible_to_client(client).filter(external_id=entry.student_external_id).first()
    if student is None or not entry.student_external_id:
        raise fail(f"No student with external id {entry.student_external_id!r} here.", "student", "unknown_student")
    if entry.served_item_id is not None:
        return _served_attempt_record(
            client=client, student=student, served_item_id=entry.served_item_id, entry=entry, key=key, fail=fail
        )
    item = items_visible_to_client(client).filter(pk=entry.item_id).first() if entry.item_id else None
    if item is None:
        raise fail(f"No item {entry.item_id} in this organisation's courses.", "item", "unknown_item")
    existing = Attempt.objects.filter(student=student, idempotency_key=key).select_related("item").first()
    if existing is not None:
        if existing.item_id != item.pk or existing.session_id is not None or _unrecorded(existing, entry.answer):
            raise fail("This idempotency key was used for another attempt.", "idempotency_key", "idempotency_conflict")
        return AttemptOutcome(existing, created=False, check=None)
    answer = (entry.answer or "").strip()
    if not answer or len(answer) > MAX_ANSWER_LENGTH:
        raise fail(f"An answer of 1 to {MAX_ANSWER_LENGTH} characters is required.", "answer")
    try:
        confidence = _parse_confidence(entry.confidence)
    except PracticeError as exc:
        raise fail(exc.message, "confidence") from None
    if entry.response_time_ms is not None and not 0 <= entry.response_time_ms <= MAX_RESPONSE_TIME_MS:
        raise fail(f"response_time_ms must be between 0 and {MAX_RESPONSE_TIME_MS}.", "response_time_ms")
    now = timezone.now()
    answered_at = entry.answered_at or now
    if answered_at > now + timedelta(minutes=5):
        raise fail("answered_at is in the future.", "answered_at")
    try:
        result = check_answer(item.item_type, item.answer, answer)
    except InvalidAnswer as exc:
        raise fail(exc.message, "answer") from None
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                student=student,
                item=item,
                skill_id=item.skill_id,
                session=None,
                answer=response_display(item.item_type, result, answer)[:MAX_ANSWER_LENGTH],
                normalized_answer=result.normalized[:500],
                correct=result.correct,
                feedback=result.feedback[:300],
                confidence=confidence,
                response_time_ms=entry.response_time_ms,
                hints_used=entry.hints_used,
                idempotency_key=key,
                created_at=answered_at,
            )
    except IntegrityError:  # a concurrent retry with the same key won the race
        winner = Attempt.objects.filter(student=student, idempotency_key=key).first()
        if winner is None:
            raise
        return AttemptOutcome(winner, created=False, check=None)
    transaction.on_commit(lambda: _refresh_learner_state(student.pk))
    return AttemptOutcome(attempt, created=True, check=result)


def _served_attempt_record(
    *,
    client: ApiClient,
    student: User,
    served_item_id: int,
    entry: AttemptIngest,
    key: str,
    fail: Callable[..., AttemptIngestError],
) -> AttemptOutcome:
    """An answer to an item ``item_serve_for_client`` served: recorded by the practice flow's own
    ``attempt_record``, in the item's session, so it counts as practice in the class (tallies, reviews)."""
    served = (
        SessionItem.objects.select_related("session", "session__section", "item")
        .filter(pk=served_item_id, session__section__organisation_id=client.organisation_id)
        .first()
    )
    if served is None or served.session.student_id != student.pk:
        # another student's served item reads as unknown too: a client learns nothing from the id
        raise fail(f"No served item {served_item_id} for this student.", "served_item", "unknown_served_item")
    if entry.item_id is not None and entry.item_id != served.item_id:
        raise fail(f"Served item {served.pk} is item {served.item_id}, not {entry.item_id}.", "item")
    existing = Attempt.objects.filter(student=student, idempotency_key=key).first()
    if existing is not None and (existing.session_item_id != served.pk or _unrecorded(existing, entry.answer)):
        raise fail("This idempotency key was used for another attempt.", "idempotency_key", "idempotency_conflict")
    if existing is None and entry.hints_used > served.hints_shown:  # the LMS showed the hints itself
        shown = min(entry.hints_used, len(served.item.hints))
        SessionItem.objects.filter(pk=served.pk, attempt__isnull=True).update(hints_shown=shown)
        served.hints_shown = shown
    fields = {"session": "served_item", "idempotency_key": "idempotency_key"}
    try:
        outcome = attempt_record(
            student=student,
            session_item=served,
            answer=entry.answer,
            confidence=entry.confidence,
            idempotency_key=key,
            response_time_ms=entry.response_time_ms,
        )
    except PracticeError as exc:
        raise fail(exc.message, fields.get(exc.field or "", exc.field)) from None
    if outcome.not_recorded is not None or (existing is None and not outcome.created):
        raise fail("This served item was already answered.", "served_item", "already_answered")
    return outcome


@transaction.atomic
def attempts_ingest(*, client: ApiClient, entries: list[AttemptIngest]) -> list[AttemptOutcome]:
    """A batch, all or nothing: the first bad entry (its index in the error) rolls back every other one."""
    return [attempt_ingest(client=client, entry=entry, index=i) for i, entry in enumerate(entries)]


# --- practice rendered by an integrator ---------------------------------------------------


def item_serve_for_client(*, client: ApiClient, student: User, section_id: int) -> SessionItem:
    """The next item for a student whose LMS renders practice itself: the pages' own flow (``session_start``,
    ``session_item_current``, hence the scheduler's choice and reason), so answering it through the API
    (``served_item``) is practice in the class like any other. An item served and not yet answered is served
    again; a session that has served its planned items is closed and a new one started."""
    section = sections_visible_to_client(client).filter(pk=section_id).first()
    if section is None or student.organisation_id != client.organisation_id:
        raise PracticeError(f"No class {section_id} here.", field="class", code="unknown_class")
    if not can_practise_in(student, section):
        raise PracticeError(f"The student is not enrolled in class {section_id}.", field="class", code="not_enrolled")
    try:
        session = session_start(student=student, section=section)
        served = session_item_current(session=session)
        if served is None:
            session_end(session=session)
            served = session_item_current(session=session_start(student=student, section=section))
    except LookupError:  # the scheduler found no skill, or a skill without items or generator
        raise PracticeError(
            "This class's course has nothing to practise yet.", field="class", code="no_items"
        ) from None
    if served is None:  # a class whose sessions hold no items
        raise PracticeError("This class's sessions serve no items.", field="class", code="no_items")
    return served


# --- API clients -------------------------------------------------------------------


def api_client_create(*, organisation: Organisation, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """A new client and its token. The token is returned here once and never stored: only its hash is."""
    unknown = sorted(set(scopes) - set(ApiClient.Scope.values))
    if unknown or not scopes:
        raise PracticeError(f"Scopes are some of {', '.join(ApiClient.Scope.values)}; got {scopes}.", field="scopes")
    name = name.strip()
    if not name:
        raise PracticeError("A client needs a name.", field="name")
    if ApiClient.objects.filter(organisation=organisation, name=name).exists():
        raise PracticeError(f"{organisation.slug} already has a client named {name!r}.", field="name")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    client = ApiClient.objects.create(
        organisation=organisation,
        name=name,
        key_id=key_id,
        secret_hash=api_secret_hash(secret),
        scopes=sorted(set(scopes)),
    )
    return client, f"{API_TOKEN_PREFIX}{key_id}_{secret}"


def api_client_revoke(*, client: ApiClient) -> ApiClient:
    """Its token stops working at once; the row stays, so logs and audits can still name it."""
    if client.revoked_at is None:
        client.revoked_at = timezone.now()
        client.save(update_fields=["revoked_at"])
    return client


def _refresh_learner_state(student_id: int) -> None:
    """The student's adapted model follows each answer; a failure here must never lose the answer."""
    try:
        student_state_after_attempt(student_id=student_id)
    except Exception:
        log.exception("refreshing the learner state of student %s failed; it will re-adapt on next use", student_id)


def session_end(*, session: PracticeSession) -> PracticeSession:
    """Close the session (idempotent). An unanswered item shown last is dropped from it."""
    if session.ended_at is None:
        with transaction.atomic():
            session.session_items.filter(attempt__isnull=True).delete()
            PracticeSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(ended_at=timezone.now())
        session.refresh_from_db(fields=["ended_at"])
    return session


# --- class membership ---------------------------------------------------------


@dataclass(frozen=True)
class EnrollmentCreated:
    enrollment: Enrollment
    created: bool


def enrollment_create(*, student: User, section: Section) -> Enrollment:
    """Enrol a student in a class of their own organisation (idempotent)."""
    try:
        Enrollment(student=student, section=section).clean()
    except ValidationError as exc:
        raise PracticeError(" ".join(exc.messages), field="student") from None
    enrollment, _ = Enrollment.objects.get_or_create(student=student, section=section)
    return enrollment


def enrollment_create_for_client(*, client: ApiClient, section_id: int, student_external_id: str) -> EnrollmentCreated:
    """Enrol one of the organisation's students in one of its classes (idempotent: ``created`` says whether it is
    new). A class or student of another organisation reads as unknown."""
    section = sections_visible_to_client(client).filter(pk=section_id).first()
    if section is None:
        raise PracticeError(f"No class {section_id} here.", field="class", code="unknown_class")
    student = students_visible_to_client(client).filter(external_id=student_external_id).first()
    if student is None or not student_external_id:
        raise PracticeError(
            f"No student with external id {student_external_id!r} here.", field="student", code="unknown_student"
        )
    existed = Enrollment.objects.filter(student=student, section=section).exists()
    return EnrollmentCreated(enrollment_create(student=student, section=section), created=not existed)


def enrollment_delete(*, enrollment: Enrollment) -> None:
    """Take a student out of a class; their open practice session there ends (their answers stay)."""
    with transaction.atomic():
        for session in PracticeSession.objects.filter(
            student_id=enrollment.student_id, section_id=enrollment.section_id, ended_at__isnull=True
        ):
            session_end(session=session)
        enrollment.delete()


def section_teacher_add(*, teacher: User, section: Section) -> None:
    """Make a member of the class's organisation one of its teachers (idempotent)."""
    problem = organisation_mismatch(teacher, section)
    if problem:
        raise PracticeError(problem, field="teacher")
    section.teachers.add(teacher)


# --- class settings -----------------------------------------------------------


def _number(value: object, *, field: str, low: float, high: float, label: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PracticeError(f"{label} must be a number.", field=field) from None
    if not low <= number <= high:  # also rejects NaN
        raise PracticeError(f"{label} must be between {low:g} and {high:g}.", field=field)
    return number


@transaction.atomic
def section_schedule_update(
    *,
    section: Section,
    target_success: object,
    review_weight: object,
    session_length: object,
    skill_ids: list[str] | list[int],
    scheduling_rule: object = None,
) -> Section:
    """Set how the scheduler works for one class. Validates everything before writing anything.

    ``scheduling_rule`` None keeps the class's rule; a new rule applies from each student's next session.
    """
    rule = section.scheduling_rule if scheduling_rule is None else scheduling_rule
    if rule not in SchedulingRule.values:
        raise PracticeError(
            "Unknown rule for choosing exercises: choose Adaptive, Spread, In turn, Shuffled or In pairs.",
            field="scheduling_rule",
        )
    target = _number(target_success, field="target_success", low=0.5, high=0.95, label="Target chance of success")
    review = _number(review_weight, field="review_weight", low=0.0, high=3.0, label="Review weight")
    length = _number(session_length, field="session_length", low=1, high=50, label="Items per session")
    if length != int(length):
        raise PracticeError("Items per session must be a whole number.", field="session_length")
    try:
        wanted = {int(s) for s in skill_ids}
    except (TypeError, ValueError):
        raise PracticeError("Unknown skill.", field="skills_in_play") from None
    skills = list(section.course.skills.filter(pk__in=wanted))
    if len(skills) != len(wanted):
        raise PracticeError("Choose skills of this class's course only.", field="skills_in_play")
    Section.objects.filter(pk=section.pk).update(
        target_success=target, review_weight=review, session_length=int(length), scheduling_rule=rule
    )
    section.refresh_from_db()
    section.skills_in_play.set(skills)
    return section


# --- which skills students confuse --------------------------------------------------

# Fewer students than this and the learned weights are mostly noise (1,000 in the benchmark; docs/scheduler.md).
CONTRASTS_MIN_STUDENTS = 100


@dataclass(frozen=True)
class ContrastsLearned:
    course: Course
    students: int  # whose answers were read
    answers: int
    saved: LearnedContrasts | None  # None: too few students, nothing stored (the previous weights stay)
    reason: str  # in plain words, for the command and the log


def contrasts_learn(*, course: Course, min_students: int = CONTRASTS_MIN_STUDENTS) -> ContrastsLearned:
    """Learn which pairs of ``course``'s skills students confuse, and store it for the ``spread`` rule.

    Reads the answers of students who practised the course only under the shuffled rule (every session
    in ``SchedulingRule.SHUFFLED``): there the order of skills varies by chance, which is what
    ``scheduling_api.learn_contrast_weights`` needs. A student with any answer on the course under another
    rule is left out whole (that rule chose its order for reasons of its own). With fewer than
    ``min_students`` such students nothing is stored and the previous weights, if any, stay.
    """
    skills = list(course.skills.order_by("position", "pk").values_list("pk", "name"))
    rows = (
        Attempt.objects.filter(skill__course=course)
        .order_by("student_id", "created_at", "id")
        .values_list("student_id", "skill_id", "correct", "created_at", "session__scheduling_rule")
    )
    histories: list[list[Observation]] = []
    current: list[Observation] = []
    student = None
    clean = True
    for student_id, skill_id, correct, created_at, rule in rows.iterator(chunk_size=5000):
        if student_id != student:
            if student is not None and clean and current:
                histories.append(current)
            student, current, clean = student_id, [], True
        clean = clean and rule == SchedulingRule.SHUFFLED
        if clean:
            current.append(Observation(f"skill-{skill_id}", skill_id, bool(correct), created_at.timestamp() / 86400))
    if student is not None and clean and current:
        histories.append(current)
    answers = sum(len(h) for h in histories)
    if len(histories) < min_students or len(skills) < 3:
        why = (
            f"{len(histories)} students practised {course.title} only in a shuffled order; "
            f"at least {min_students} are needed"
            if len(skills) >= 3
            else f"{course.title} has {len(skills)} skills; pairs are compared from 3"
        )
        return ContrastsLearned(course, len(histories), answers, None, f"Nothing learned: {why}.")
    # learn_contrast_weights reads skills and answers only; one stand-in item per skill satisfies CourseSpec.
    spec = CourseSpec(
        skills=tuple(SkillSpec(pk, name) for pk, name in skills),
        items=tuple(ItemSpec(f"skill-{pk}", pk) for pk, _ in skills),
    )
    weights = learn_contrast_weights(spec, histories)
    if not weights:
        return ContrastsLearned(course, len(histories), answers, None, "Nothing learned: no pair could be compared.")
    saved, _ = LearnedContrasts.objects.update_or_create(
        course=course,
        defaults={
            "weights": [[a, b, round(w, 4)] for a, b, w in weights],
            "students": len(histories),
            "answers": answers,
            "learned_at": timezone.now(),
        },
    )
    pair_weights_forget(course_id=course.pk)
    often = sum(1 for _, _, w in weights if w >= SPREAD_OFTEN_CONFUSED)
    return ContrastsLearned(
        course,
        len(histories),
        answers,
        saved,
        f"Learned from {len(histories)} students ({answers} answers): {often} of {len(weights)} pairs of skills "
        "stand out as often confused.",
    )


# --- class tallies -----------------------------------------------------------------


def skill_tallies_rebuild(*, student_ids: list[int] | None = None) -> int:
    """Recompute the per-(class, student, skill) tallies from the answers themselves; returns how many rows.

    The triggers of migration 0007 keep them exact as answers come and go, so this is for repair and checks,
    and idempotent. Answer writes wait while it runs (a share lock on PostgreSQL, SQLite's one writer).
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE tutor_attempt IN SHARE MODE")
        tallies = SkillTally.objects.all()
        answers = Attempt.objects.filter(session__isnull=False)
        if student_ids is not None:
            tallies = tallies.filter(student_id__in=student_ids)
            answers = answers.filter(student_id__in=student_ids)
        tallies.delete()
        sure = Q(confidence__gte=SkillTally.SURE)
        rows = (
            answers.values("session__section_id", "student_id", "skill_id")
            .annotate(
                n=Count("id"),
                n_correct=Count("id", filter=Q(correct=True)),
                n_sure=Count("id", filter=sure),
                n_sure_wrong=Count("id", filter=sure & Q(correct=False)),
                confidence_sum=Sum("confidence"),
                first_at=Min("created_at"),
                last_at=Max("created_at"),
            )
            .order_by()
        )
        created = SkillTally.objects.bulk_create(
            (SkillTally(section_id=r.pop("session__section_id"), **r) for r in rows.iterator()), batch_size=2000
        )
    return len(created)


# --- authoring through the API ---------------------------------------------------------------


def _item_spec_fields(item: Item) -> dict[str, object]:
    return {
        "slug": item.slug,
        "skill": item.skill.slug,
        "type": item.item_type,
        "prompt": item.prompt,
        "answer": item.answer,
        "hints": item.hints,
        "solution": item.solution,
        "difficulty": item.difficulty,
    }


def _item_validated(*, course_id: int, raw: dict[str, object], slug_taken_by_other: bool) -> dict[str, object]:
    """The item's fields checked by the content format's own rules (``tutor.content_format.parse_item``)."""
    skill_slugs = set(Skill.objects.filter(course_id=course_id).values_list("slug", flat=True))
    try:
        spec = parse_item(raw, skill_slugs=skill_slugs)
    except ContentError as exc:
        field, message = exc.fields[0] if exc.fields else (None, exc.errors[0])
        raise PracticeError(f"{field}: {message}" if field else message, field=field) from None
    if slug_taken_by_other:
        raise PracticeError(f"slug: the course already has an item {spec.slug!r}.", field="slug", code="unique")
    skill = Skill.objects.get(course_id=course_id, slug=spec.skill)
    return {
        "skill": skill,
        "slug": spec.slug,
        "item_type": spec.type,
        "prompt": spec.prompt,
        "answer": dict(spec.answer),
        "hints": list(spec.hints),
        "solution": spec.solution,
        "difficulty": spec.difficulty,
    }


def item_create_for_client(*, client: ApiClient, skill_id: int, fields: dict[str, object]) -> Item:
    """Author an item under a skill of a course the client may write (``access.courses_writable_by_client``).

    ``fields`` are a content-format item without ``skill`` (slug, type, prompt, answer, hints, solution,
    difficulty); a skill of a course outside those reads as unknown."""
    skill = Skill.objects.filter(pk=skill_id, course__in=courses_writable_by_client(client)).first()
    if skill is None:
        raise PracticeError(
            f"No skill {skill_id} in a course this client may author.", field="skill", code="unknown_skill"
        )
    raw = {**fields, "skill": skill.slug}
    taken = Item.objects.filter(course_id=skill.course_id, slug=fields.get("slug")).exists()
    values = _item_validated(course_id=skill.course_id, raw=raw, slug_taken_by_other=taken)
    try:
        with transaction.atomic():
            return Item.objects.create(course_id=skill.course_id, source=Item.Source.AUTHORED, **values)
    except IntegrityError:  # a concurrent create took the slug
        raise PracticeError("slug: the course already has this item.", field="slug", code="unique") from None


def item_update_for_client(
    *, client: ApiClient, item: Item, fields: dict[str, object], skill_id: int | None = None
) -> Item:
    """Change some fields of an authored item (``skill_id``: move it to another skill of its course); the rest
    stay. Items a generator made are refused: the generator would make them again."""
    if not courses_writable_by_client(client).filter(pk=item.course_id).exists():
        raise PracticeError(
            "Another organisation's classes use this course: its items cannot be changed through the API.",
            code="course_shared",
        )
    if item.source != Item.Source.AUTHORED:
        raise PracticeError("Generated items cannot be edited.", code="generated_item")
    raw = {**_item_spec_fields(item), **fields}
    if skill_id is not None:
        skill = Skill.objects.filter(pk=skill_id, course_id=item.course_id).first()
        if skill is None:
            raise PracticeError(f"No skill {skill_id} in this item's course.", field="skill", code="unknown_skill")
        raw["skill"] = skill.slug
    taken = Item.objects.filter(course_id=item.course_id, slug=raw.get("slug")).exclude(pk=item.pk).exists()
    values = _item_validated(course_id=item.course_id, raw=raw, slug_taken_by_other=taken)
    try:
        with transaction.atomic():
            Item.objects.filter(pk=item.pk).update(**values)
    except IntegrityError:
        raise PracticeError("slug: the course already has this item.", field="slug", code="unique") from None
    item.refresh_from_db()
    return item


# --- QTI 3.0 import -------------------------------------------------------------


@dataclass(frozen=True)
class QtiImportReport:
    skill: Skill
    items: list[QtiItem]
    created: int
    updated: int


def items_import_qti(*, course_slug: str, skill_slug: str, filename: str, data: bytes) -> QtiImportReport:
    """Import the QTI 3.0 items of one XML file or zip package into a skill (``tutor.qti``); all or nothing.

    Items are matched by slug (from the QTI identifier) within the course, so importing a bank again updates
    it. Raises ``QtiError`` naming the file, item and problem of everything wrong; then nothing is saved."""
    skill = Skill.objects.filter(course__slug=course_slug, slug=skill_slug).select_related("course").first()
    if skill is None:
        if not Course.objects.filter(slug=course_slug).exists():
            raise QtiError([f'course: unknown course "{course_slug}"'])
        raise QtiError([f'skill: unknown skill "{skill_slug}" in course "{course_slug}"'])
    items = qti_items_parse(qti_files_read(filename, data), skill=skill.slug)
    generated = dict(
        Item.objects.filter(
            course_id=skill.course_id, slug__in=[i.spec.slug for i in items], source=Item.Source.GENERATED
        ).values_list("slug", "pk")
    )
    clashes = [
        f'{i.filename}: item "{i.identifier}": slug "{i.spec.slug}" is taken by a generated item of the course'
        for i in items
        if i.spec.slug in generated
    ]
    if clashes:
        raise QtiError(clashes)
    created, updated = items_import(skill=skill, specs=[i.spec for i in items])
    return QtiImportReport(skill=skill, items=items, created=created, updated=updated)


def day_tallies_rebuild(*, student_ids: list[int] | None = None) -> int:
    """Recompute the per-(class, student, UTC day) answer counts from the answers; returns how many rows.

    Like ``skill_tallies_rebuild``: the triggers of migration 0011 keep them exact, this repairs and checks.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE tutor_attempt IN SHARE MODE")
        tallies = DayTally.objects.all()
        answers = Attempt.objects.filter(session__isnull=False)
        if student_ids is not None:
            tallies = tallies.filter(student_id__in=student_ids)
            answers = answers.filter(student_id__in=student_ids)
        tallies.delete()
        rows = (
            answers.annotate(day=TruncDate("created_at", tzinfo=UTC))
            .values("session__section_id", "student_id", "day")
            .annotate(n=Count("id"))
            .order_by()
        )
        created = DayTally.objects.bulk_create(
            (DayTally(section_id=r.pop("session__section_id"), **r) for r in rows.iterator()), batch_size=2000
        )
    return len(created)
