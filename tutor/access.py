"""Who may see what: the one place every page, API view and LTI launch asks.

Rules:
- a student sees only their own data;
- a teacher sees the classes they teach and the students enrolled in them, and of those students'
  sessions and attempts only the ones made in those classes (a student in two classes has two teachers,
  and neither sees the other's class);
- an admin sees everything inside their own organisation;
- a superuser (operator) sees everything.
Organisation is the outer boundary: nobody but a superuser crosses it.
- an API client sees its own organisation's classes, students, enrolments and attempts, and the
  content (courses, skills, items) its classes use; it never crosses the boundary, not even for an
  attempt's item or a class's course. It authors items only in courses no other organisation's classes use.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from .models import ApiClient, Attempt, Course, Enrollment, Item, Organisation, PracticeSession, Section, Skill, User


def sections_visible_to(user: User) -> QuerySet[Section]:
    qs = Section.objects.select_related("course", "organisation")
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    org = user.organisation_id
    if org is None:
        return qs.none()  # every class belongs to an organisation
    if user.role == User.Role.ADMIN:
        return qs.filter(organisation_id=org)
    if user.role == User.Role.TEACHER:
        return qs.filter(teachers=user, organisation_id=org)
    return qs.filter(enrollments__student=user, organisation_id=org)


def students_visible_to(user: User) -> QuerySet[User]:
    qs = User.objects.filter(role=User.Role.STUDENT)
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if user.role not in (User.Role.ADMIN, User.Role.TEACHER):
        return qs.filter(pk=user.pk)
    org = user.organisation_id
    if org is None:
        return qs.none()  # staff see students only through their organisation
    if user.role == User.Role.ADMIN:
        return qs.filter(organisation_id=org)
    # The student's own organisation too: an enrolment that crossed the boundary (refused since, see
    # Enrollment.clean) must not show a student of another school to this one's teachers.
    return qs.filter(
        organisation_id=org, enrollments__section__teachers=user, enrollments__section__organisation_id=org
    ).distinct()


def can_view_student(user: User, student: User) -> bool:
    return students_visible_to(user).filter(pk=student.pk).exists()


_Owned = TypeVar("_Owned", PracticeSession, Attempt)


def _is_staff(user: User) -> bool:
    return user.role in (User.Role.TEACHER, User.Role.ADMIN)


def _unless_staff(user: User, qs: QuerySet[_Owned]) -> QuerySet[_Owned] | None:
    """The rows a non-staff viewer sees of ``qs`` (rows with a ``student``): none when signed out, all for a
    superuser, their own for a student. None for staff, whom the caller scopes to their classes."""
    if not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if not _is_staff(user):
        return qs.filter(student=user)
    return None


def sessions_visible_to(user: User) -> QuerySet[PracticeSession]:
    """A student's own sessions; for staff, those of students they see made in classes they see."""
    qs = PracticeSession.objects.all()
    if (scoped := _unless_staff(user, qs)) is not None:
        return scoped
    return qs.filter(student__in=students_visible_to(user), section__in=sections_visible_to(user))


def attempts_visible_to(user: User) -> QuerySet[Attempt]:
    """As ``sessions_visible_to``, through each attempt's session. An attempt outside any session belongs to
    no class: its student and their organisation's admins see it, no teacher does."""
    qs = Attempt.objects.all()
    if (scoped := _unless_staff(user, qs)) is not None:
        return scoped
    in_classes = Q(session__section__in=sections_visible_to(user))
    if user.role == User.Role.ADMIN:
        in_classes |= Q(session__isnull=True)
    return qs.filter(in_classes, student__in=students_visible_to(user))


def can_practise_in(user: User, section: Section) -> bool:
    """Only the enrolled student practises, and only as themselves."""
    return (
        user.is_authenticated
        and user.role == User.Role.STUDENT
        and section.organisation_id == user.organisation_id
        and section.enrollments.filter(student=user).exists()
    )


def can_act_in_session(user: User, session: PracticeSession) -> bool:
    """Answering, hints and ending a session belong to its student alone (teachers only watch)."""
    return user.is_authenticated and session.student_id == user.pk


def can_view_health_details(user: User | AnonymousUser) -> bool:
    """Which service is down and why (host names, ports) is for the server's operators, not a school's staff."""
    return user.is_authenticated and (user.is_staff or user.is_superuser)


def can_view_model_registry(user: User) -> bool:
    """Training runs and model versions hold no student data: staff of any organisation may watch them."""
    return user.is_authenticated and (user.is_superuser or user.role in (User.Role.TEACHER, User.Role.ADMIN))


def sections_managed_by(user: User) -> QuerySet[Section]:
    """Classes whose settings the user may change: their teachers, their organisation's admins, operators."""
    if not user.is_authenticated or not (user.is_superuser or user.role in (User.Role.TEACHER, User.Role.ADMIN)):
        return Section.objects.none()
    return sections_visible_to(user)


# --- API clients ------------------------------------------------------------------

API_TOKEN_PREFIX = "metis_"


def api_secret_hash(secret: str) -> str:
    """The stored form of a client secret. The secret is 256 random bits, so a fast hash is enough (a slow
    password hash protects guessable secrets, and would cost every API request tens of milliseconds)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_client_for_token(token: str) -> ApiClient | None:
    """The active client whose token this is, or None (unknown, malformed, wrong secret or revoked)."""
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    key_id, _, secret = token[len(API_TOKEN_PREFIX) :].partition("_")
    if not key_id or not secret:
        return None
    client = ApiClient.objects.select_related("organisation").filter(key_id=key_id).first()
    if client is None or not client.is_active:
        return None
    if not hmac.compare_digest(client.secret_hash, api_secret_hash(secret)):
        return None
    return client


def organisations_visible_to_client(client: ApiClient) -> QuerySet[Organisation]:
    return Organisation.objects.filter(pk=client.organisation_id)


def sections_visible_to_client(client: ApiClient) -> QuerySet[Section]:
    return Section.objects.filter(organisation_id=client.organisation_id)


def students_visible_to_client(client: ApiClient) -> QuerySet[User]:
    return User.objects.filter(role=User.Role.STUDENT, organisation_id=client.organisation_id)


def enrollments_visible_to_client(client: ApiClient) -> QuerySet[Enrollment]:
    # Both ends inside the organisation: an enrolment that once crossed the boundary shows to neither side.
    org = client.organisation_id
    return Enrollment.objects.filter(section__organisation_id=org, student__organisation_id=org)


def courses_visible_to_client(client: ApiClient) -> QuerySet[Course]:
    """Content is shared between organisations; a client sees the courses its own classes use."""
    return Course.objects.filter(pk__in=Section.objects.filter(organisation_id=client.organisation_id).values("course"))


def courses_writable_by_client(client: ApiClient) -> QuerySet[Course]:
    """Courses a client may author items in: used by its organisation's classes and by no other
    organisation's, since content is shared and an edit would change what another school's students see."""
    theirs = Section.objects.exclude(organisation_id=client.organisation_id).values("course")
    return courses_visible_to_client(client).exclude(pk__in=theirs)


def skills_visible_to_client(client: ApiClient) -> QuerySet[Skill]:
    return Skill.objects.filter(course__in=courses_visible_to_client(client))


def items_visible_to_client(client: ApiClient) -> QuerySet[Item]:
    return Item.objects.filter(course__in=courses_visible_to_client(client))


def attempts_visible_to_client(client: ApiClient) -> QuerySet[Attempt]:
    return attempts_of_organisation(client.organisation_id)


def attempts_of_organisation(organisation_id: int) -> QuerySet[Attempt]:
    """Attempts of the organisation's students: what its API clients see, and what an operator exports for it
    (``manage.py xapi_export --org``)."""
    return Attempt.objects.filter(
        student__in=User.objects.filter(role=User.Role.STUDENT, organisation_id=organisation_id)
    )
