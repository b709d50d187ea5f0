"""Reads for xAPI export: an organisation's attempts, mapped ORM → ``tutor.xapi`` records → statements.

Paged by attempt id (a keyset cursor), not by offset: an export of a large organisation reads each row once,
and attempts ingested later with an earlier ``answered_at`` still come out on a later page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from tutor import access, xapi
from tutor.models import Attempt, Item


@dataclass(frozen=True)
class StatementPage:
    statements: list[dict[str, Any]]
    next_cursor: int | None  # pass as ``after`` for the next page; None: this was the last


def xapi_site() -> xapi.XapiSite:
    return xapi.XapiSite(
        base_url=settings.SITE_URL, namespace=uuid.UUID(settings.XAPI_NAMESPACE), language=settings.XAPI_LANGUAGE
    )


def _item_record(item: Item) -> xapi.ItemRecord:
    choices = item.answer.get("choices", []) if item.item_type == "multiple_choice" else []
    return xapi.ItemRecord(
        course_slug=item.course.slug,
        course_title=item.course.title,
        skill_slug=item.skill.slug,
        skill_name=item.skill.name,
        item_slug=item.slug,
        item_type=item.item_type,
        prompt=item.prompt,
        choices=tuple(str(c) for c in choices),
    )


def attempt_record(attempt: Attempt) -> xapi.AttemptRecord:
    """The mapper: one attempt (with its student, item, skill, course and session's class loaded) as a record."""
    student = attempt.student
    section = attempt.session.section if attempt.session else None
    return xapi.AttemptRecord(
        attempt_id=attempt.pk,
        organisation_slug=student.organisation.slug if student.organisation else "",
        student_id=student.pk,
        student_external_id=student.external_id,
        item=_item_record(attempt.item),
        answer=attempt.answer,
        correct=attempt.correct,
        confidence=attempt.confidence,
        hints_used=attempt.hints_used,
        response_time_ms=attempt.response_time_ms,
        answered_at=attempt.created_at,
        class_id=section.pk if section else None,
        class_name=section.name if section else "",
        session_id=attempt.session_id,
    )


def xapi_attempts_for_organisation(
    *, organisation_id: int, section_id: int | None = None, since: datetime | None = None
) -> QuerySet[Attempt]:
    """The attempts an export covers, in id order; ``since`` is inclusive (answered at or after)."""
    qs = access.attempts_of_organisation(organisation_id)
    if section_id is not None:
        qs = qs.filter(session__section_id=section_id, session__section__organisation_id=organisation_id)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.order_by("pk")


def xapi_statements_for_organisation(
    *,
    organisation_id: int,
    section_id: int | None = None,
    since: datetime | None = None,
    after: int | None = None,
    limit: int,
) -> StatementPage:
    """At most ``limit`` statements for attempts with ids above ``after``, in one query."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    qs = xapi_attempts_for_organisation(organisation_id=organisation_id, section_id=section_id, since=since)
    if after is not None:
        qs = qs.filter(pk__gt=after)
    rows = list(
        qs.select_related("student__organisation", "item__course", "item__skill", "session__section")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    site = xapi_site()
    return StatementPage(
        statements=[xapi.statement_for_attempt(site=site, attempt=attempt_record(a)) for a in rows],
        next_cursor=rows[-1].pk if more else None,
    )
