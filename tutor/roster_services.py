"""Rosters into the database: a OneRoster 1.2 CSV zip (``tutor.oneroster``) imported into one organisation.

All or nothing: every problem, from the files themselves or from what the database already holds, is
found before anything is written, and named by file, row and field (``RosterError``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from .models import Course, Enrollment, Organisation, Section, User
from .oneroster import Roster, RosterError, RosterProblem, roster_parse


@dataclass(frozen=True)
class RosterReport:
    classes_created: int = 0
    classes_updated: int = 0
    users_created: int = 0
    users_updated: int = 0
    enrolments_created: int = 0
    enrolments_deleted: int = 0


def _check_classes(
    roster: Roster, organisation: Organisation, problems: list[RosterProblem]
) -> tuple[dict[str, Course], dict[str, Section]]:
    """The Metis course of each class, and the class each row updates (matched by sourcedId, else by title)."""
    courses = {c.slug: c for c in Course.objects.filter(slug__in={c.course for c in roster.classes})}
    mine = Section.objects.filter(organisation=organisation)
    by_id = {s.external_id: s for s in mine.filter(external_id__in=[c.sourced_id for c in roster.classes])}
    by_title = {s.name: s for s in mine.filter(name__in=[c.title for c in roster.classes])}
    titles: dict[str, int] = {}
    matched: dict[str, Section] = {}
    for c in roster.classes:
        course = courses.get(c.course)
        if course is None:
            problems.append(
                RosterProblem("classes.csv", c.row, "courseSourcedId", f"no Metis course with slug {c.course!r}")
            )
        first = titles.setdefault(c.title, c.row)
        if first != c.row:
            problems.append(RosterProblem("classes.csv", c.row, "title", f"duplicate (also row {first})"))
        section = by_id.get(c.sourced_id)
        named = by_title.get(c.title)
        if section is None and named is not None:
            if named.external_id or (course is not None and named.course_id != course.pk):
                problems.append(RosterProblem("classes.csv", c.row, "title", f"another class is named {c.title!r}"))
                continue
            section = named  # a class made by hand before the first import: the roster takes it over
        elif section is not None and named is not None and named.pk != section.pk:
            problems.append(RosterProblem("classes.csv", c.row, "title", f"another class is named {c.title!r}"))
        if section is not None:
            if course is not None and section.course_id != course.pk:
                problems.append(
                    RosterProblem(
                        "classes.csv",
                        c.row,
                        "courseSourcedId",
                        "the class is on another course: a class keeps its course",
                    )
                )
            matched[c.sourced_id] = section
    return courses, matched


def _check_users(roster: Roster, organisation: Organisation, problems: list[RosterProblem]) -> dict[str, User]:
    """The existing member each row updates (matched by sourcedId); a new user's username must be free."""
    existing = {
        u.external_id: u
        for u in User.objects.filter(organisation=organisation, external_id__in=[u.sourced_id for u in roster.users])
    }
    taken = set(
        User.objects.filter(
            username__in=[u.username for u in roster.users if u.sourced_id not in existing]
        ).values_list("username", flat=True)
    )
    for u in roster.users:
        member = existing.get(u.sourced_id)
        if member is None and u.username in taken:
            problems.append(RosterProblem("users.csv", u.row, "username", f"{u.username!r} is taken"))
        elif member is not None and u.role and member.role != u.role:
            problems.append(
                RosterProblem(
                    "users.csv", u.row, "sourcedId", f"is a {member.role} in Metis and a {u.role} in enrollments.csv"
                )
            )
    return existing


@transaction.atomic
def _write(
    roster: Roster,
    organisation: Organisation,
    courses: dict[str, Course],
    sections: dict[str, Section],
    members: dict[str, User],
) -> RosterReport:
    classes_created = classes_updated = users_created = users_updated = created = deleted = 0
    for c in roster.classes:
        section = sections.get(c.sourced_id)
        if section is None:
            sections[c.sourced_id] = Section.objects.create(
                organisation=organisation, name=c.title, external_id=c.sourced_id, course=courses[c.course]
            )
            classes_created += 1
        else:
            Section.objects.filter(pk=section.pk).update(name=c.title, external_id=c.sourced_id)
            classes_updated += 1
    for u in roster.users:
        member = members.get(u.sourced_id)
        if member is None:
            member = User(
                username=u.username,
                first_name=u.given_name,
                last_name=u.family_name,
                role=u.role or User.Role.STUDENT,
                organisation=organisation,
                external_id=u.sourced_id,
            )
            member.set_unusable_password()  # they sign in through their LMS (LTI)
            member.save()
            members[u.sourced_id] = member
            users_created += 1
        else:
            User.objects.filter(pk=member.pk).update(first_name=u.given_name, last_name=u.family_name)
            users_updated += 1
    for e in roster.enrollments:
        section, member = sections[e.class_id], members[e.user_id]
        if e.role == "teacher":
            if e.delete:
                section.teachers.remove(member)
            else:
                section.teachers.add(member)
            continue
        if e.delete:
            deleted += Enrollment.objects.filter(section=section, student=member).delete()[0]
        else:
            created += Enrollment.objects.get_or_create(section=section, student=member)[1]
    return RosterReport(classes_created, classes_updated, users_created, users_updated, created, deleted)


def roster_import(*, organisation: Organisation, data: bytes) -> RosterReport:
    """Import a OneRoster 1.2 CSV zip into ``organisation``: classes matched by sourcedId, users by sourcedId
    (their ``external_id``), enrolments added or (status ``tobedeleted``) removed. Raises ``RosterError``."""
    roster = roster_parse(data)
    problems: list[RosterProblem] = []
    courses, sections = _check_classes(roster, organisation, problems)
    members = _check_users(roster, organisation, problems)
    if problems:
        raise RosterError(problems)
    try:
        return _write(roster, organisation, courses, sections, members)
    except IntegrityError:  # a concurrent import or sign-up took a username or a class title meanwhile
        raise RosterError(
            [RosterProblem("zip", None, None, "changed meanwhile by another import; try again")]
        ) from None
