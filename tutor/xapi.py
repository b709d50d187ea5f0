"""xAPI 1.0.3 statements for answered items: a pure mapping from small frozen records to statement dicts.

No Django here (an import-linter contract keeps it so): ``tutor.xapi_selectors`` reads the database and
builds the records, and this module decides the statement's shape, documented in docs/api.md ("xAPI").
The statement structure follows the xAPI 1.0.3 specification, Part Two ("Experience API Data"); the
parts we emit are checked against ``tutor/xapi_schema.json`` in tests/tutor/test_xapi.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

XAPI_VERSION = "1.0.3"
VERB_ANSWERED = "http://adlnet.gov/expapi/verbs/answered"
TYPE_INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
TYPE_COURSE = "http://adlnet.gov/expapi/activities/course"
TYPE_OBJECTIVE = "http://adlnet.gov/expapi/activities/objective"

# Metis's own IRIs, all under the site's base URL (the ADL vocabulary has no class or confidence term).
EXTENSION_CONFIDENCE = "/xapi/extensions/confidence"
EXTENSION_HINTS_USED = "/xapi/extensions/hints-used"
TYPE_CLASS = "/xapi/activity-types/class"

# Item types as xAPI interaction types (xAPI 1.0.3 §2.4.4.1): free-form answers are "fill-in".
INTERACTION_TYPES = {
    "multiple_choice": "choice",
    "numeric": "numeric",
    "fraction": "fill-in",
    "expression": "fill-in",
    "text": "fill-in",
}


@dataclass(frozen=True)
class XapiSite:
    """Where the statements come from: the base URL every Metis IRI hangs under, and the UUID namespace that
    makes statement ids deterministic (one per installation, so two sites never mint the same id)."""

    base_url: str
    namespace: uuid.UUID
    language: str = "en"

    def iri(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True)
class ItemRecord:
    course_slug: str
    course_title: str
    skill_slug: str
    skill_name: str
    item_slug: str
    item_type: str
    prompt: str
    choices: tuple[str, ...] = ()  # multiple choice only, in the order shown


@dataclass(frozen=True)
class AttemptRecord:
    """One stored attempt, as much of it as a statement shows."""

    attempt_id: int
    organisation_slug: str
    student_id: int
    student_external_id: str
    item: ItemRecord
    answer: str
    correct: bool
    confidence: float
    hints_used: int
    response_time_ms: int | None
    answered_at: datetime  # timezone-aware
    class_id: int | None = None  # None: ingested through the API, outside any class
    class_name: str = ""
    session_id: int | None = None


def statement_id(*, site: XapiSite, attempt_id: int) -> str:
    """The same attempt always gives the same statement id, so re-exporting to an LRS stores nothing twice
    (an LRS answers 409/204 to a known id instead of keeping a duplicate)."""
    return str(uuid.uuid5(site.namespace, f"attempt:{attempt_id}"))


def actor_home_page(*, site: XapiSite, organisation_slug: str) -> str:
    """External ids are unique per organisation only (two schools may both have a student "s1"), so the
    account lives in its organisation's namespace: the pair (homePage, name) names one person."""
    return site.iri(f"/organisations/{organisation_slug}")


def actor_name(*, site: XapiSite, student_id: int, external_id: str) -> str:
    """The student's external id (the LMS roster id the integrator already knows) or, without one, an opaque
    id that is stable for the student but reveals neither their username, their name nor their row id."""
    if external_id:
        return external_id
    return "metis-" + str(uuid.uuid5(site.namespace, f"student:{student_id}"))


def iso_duration(ms: int) -> str:
    """``PT1M5.25S``: ISO 8601 duration at the 0.01 s precision xAPI asks for (§2.4.5)."""
    centis = round(ms / 10)
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6_000)
    seconds, hundredths = divmod(rest, 100)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if seconds or hundredths or out == "PT":
        out += f"{seconds}.{hundredths:02d}".rstrip("0").rstrip(".") + "S"
    return out


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and an explicit offset (xAPI §2.4.7 wants a timezone; UTC shows as Z)."""
    if moment.utcoffset() is None:
        raise ValueError("an xAPI timestamp needs a timezone-aware datetime")
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lang(site: XapiSite, text: str) -> dict[str, str]:
    return {site.language: text}


def item_iri(*, site: XapiSite, item: ItemRecord) -> str:
    # Slugs, not row ids: the IRI survives a content re-import on this site and reads the same on another.
    return site.iri(f"/xapi/activities/courses/{item.course_slug}/items/{item.item_slug}")


def _object(site: XapiSite, item: ItemRecord) -> dict[str, Any]:
    interaction = INTERACTION_TYPES.get(item.item_type, "fill-in")
    definition: dict[str, Any] = {
        "type": TYPE_INTERACTION,
        "name": _lang(site, item.item_slug),
        "description": _lang(site, item.prompt),
        "interactionType": interaction,
    }
    if interaction == "choice":
        definition["choices"] = [
            {"id": f"choice-{i}", "description": _lang(site, text)} for i, text in enumerate(item.choices)
        ]
    # No correctResponsesPattern: the API never shows an item's answer, and an LRS is no exception.
    return {"objectType": "Activity", "id": item_iri(site=site, item=item), "definition": definition}


def _response(item: ItemRecord, answer: str) -> str:
    """For a choice the spec's response is the choice's id; an answer matching no option (the item was edited
    since) stays as the student gave it."""
    if INTERACTION_TYPES.get(item.item_type) == "choice" and answer in item.choices:
        return f"choice-{item.choices.index(answer)}"
    return answer


def _context(site: XapiSite, attempt: AttemptRecord) -> dict[str, Any]:
    item = attempt.item
    grouping: list[dict[str, Any]] = [
        {
            "objectType": "Activity",
            "id": site.iri(f"/xapi/activities/courses/{item.course_slug}"),
            "definition": {"type": TYPE_COURSE, "name": _lang(site, item.course_title)},
        }
    ]
    if attempt.class_id is not None:
        grouping.append(
            {
                "objectType": "Activity",
                "id": site.iri(f"/xapi/activities/classes/{attempt.class_id}"),
                "definition": {"type": site.iri(TYPE_CLASS), "name": _lang(site, attempt.class_name)},
            }
        )
    parent = {
        "objectType": "Activity",
        "id": site.iri(f"/xapi/activities/courses/{item.course_slug}/skills/{item.skill_slug}"),
        "definition": {"type": TYPE_OBJECTIVE, "name": _lang(site, item.skill_name)},
    }
    context: dict[str, Any] = {
        "contextActivities": {"parent": [parent], "grouping": grouping},
        "platform": "Metis",
        "language": site.language,
    }
    if attempt.session_id is not None:
        context["registration"] = str(uuid.uuid5(site.namespace, f"session:{attempt.session_id}"))
    return context


def statement_for_attempt(*, site: XapiSite, attempt: AttemptRecord) -> dict[str, Any]:
    """An xAPI 1.0.3 "answered" statement for one attempt."""
    result: dict[str, Any] = {
        "success": attempt.correct,
        "response": _response(attempt.item, attempt.answer),
        "score": {"scaled": 1.0 if attempt.correct else 0.0, "raw": int(attempt.correct), "min": 0, "max": 1},
        "extensions": {
            site.iri(EXTENSION_CONFIDENCE): attempt.confidence,
            site.iri(EXTENSION_HINTS_USED): attempt.hints_used,
        },
    }
    if attempt.response_time_ms is not None:
        result["duration"] = iso_duration(attempt.response_time_ms)
    return {
        "id": statement_id(site=site, attempt_id=attempt.attempt_id),
        "actor": {
            "objectType": "Agent",
            "account": {
                "homePage": actor_home_page(site=site, organisation_slug=attempt.organisation_slug),
                "name": actor_name(site=site, student_id=attempt.student_id, external_id=attempt.student_external_id),
            },
        },
        "verb": {"id": VERB_ANSWERED, "display": {"en-US": "answered"}},
        "object": _object(site, attempt.item),
        "result": result,
        "context": _context(site, attempt),
        "timestamp": iso_timestamp(attempt.answered_at),
        "version": XAPI_VERSION,
    }
