"""xAPI statements from attempts (tutor.xapi, pure): every item type checked against the xAPI 1.0.3
statement structure (tutor/xapi_schema.json), and the schema shown to refuse what the spec refuses."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from tutor import xapi

SCHEMA = json.loads((Path(xapi.__file__).parent / "xapi_schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SITE = xapi.XapiSite(base_url="https://metis.example.org", namespace=uuid.UUID("3f1c8a52-2b8e-4f53-9a57-1d3b0c8e7a11"))
CONFIDENCE = "https://metis.example.org/xapi/extensions/confidence"
HINTS = "https://metis.example.org/xapi/extensions/hints-used"

ITEMS = {
    "multiple_choice": xapi.ItemRecord(
        "fractions", "Fractions", "compare", "Compare fractions", "bigger-half", "multiple_choice",
        "Which is bigger?", choices=("1/2", "1/3", "they are equal"),
    ),
    "numeric": xapi.ItemRecord("arith", "Arithmetic", "times", "Times tables", "six-sevens", "numeric", "6 × 7?"),
    "fraction": xapi.ItemRecord("fractions", "Fractions", "simplify", "Simplify", "two-twelfths", "fraction", "2/12"),
    "expression": xapi.ItemRecord("algebra", "Algebra", "expand", "Expand", "expand-1", "expression", "2(x+1)"),
    "text": xapi.ItemRecord("words", "Words", "spell", "Spelling", "spell-1", "text", "Spell 'necessary'"),
}  # fmt: skip
ANSWERS = {"multiple_choice": "1/2", "numeric": "42", "fraction": "1/6", "expression": "2x + 2", "text": "necessary"}


def _attempt(item_type: str = "numeric", **overrides) -> xapi.AttemptRecord:
    fields = dict(
        attempt_id=17,
        organisation_slug="alpha",
        student_id=5,
        student_external_id="sis-07",
        item=ITEMS[item_type],
        answer=ANSWERS[item_type],
        correct=True,
        confidence=0.75,
        hints_used=1,
        response_time_ms=8400,
        answered_at=datetime(2026, 12, 1, 9, 30, 5, 123000, tzinfo=UTC),
        class_id=3,
        class_name="Year 8 maths",
        session_id=11,
    )
    fields.update(overrides)
    return xapi.AttemptRecord(**fields)


def errors(statement: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(statement)]


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("item_type", sorted(ITEMS))
@pytest.mark.parametrize("correct", [True, False])
def test_every_item_type_gives_a_valid_statement(item_type, correct):
    statement = xapi.statement_for_attempt(site=SITE, attempt=_attempt(item_type, correct=correct))
    assert errors(statement) == []
    result = statement["result"]
    assert result["success"] is correct and result["score"]["scaled"] == (1.0 if correct else 0.0)
    assert result["score"]["min"] <= result["score"]["raw"] <= result["score"]["max"]  # beyond JSON Schema
    expected = {"multiple_choice": "choice", "numeric": "numeric"}.get(item_type, "fill-in")
    assert statement["object"]["definition"]["interactionType"] == expected


def test_a_statement_carries_what_an_lrs_reader_needs():
    s = xapi.statement_for_attempt(site=SITE, attempt=_attempt("numeric"))
    assert s["version"] == "1.0.3"
    assert s["verb"] == {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}}
    assert s["actor"] == {
        "objectType": "Agent",
        "account": {"homePage": "https://metis.example.org/organisations/alpha", "name": "sis-07"},
    }
    assert s["object"]["id"] == "https://metis.example.org/xapi/activities/courses/arith/items/six-sevens"
    assert s["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
    assert "correctResponsesPattern" not in s["object"]["definition"]  # the API never reveals answers
    assert s["result"]["response"] == "42"
    assert s["result"]["duration"] == "PT8.4S"
    assert s["result"]["extensions"] == {CONFIDENCE: 0.75, HINTS: 1}
    grouping = s["context"]["contextActivities"]["grouping"]
    assert [g["id"] for g in grouping] == [
        "https://metis.example.org/xapi/activities/courses/arith",
        "https://metis.example.org/xapi/activities/classes/3",
    ]
    assert grouping[0]["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
    assert s["context"]["platform"] == "Metis" and s["context"]["language"] == "en"
    assert s["timestamp"] == "2026-12-01T09:30:05.123Z"


def test_a_choice_answer_is_sent_as_the_choice_id():
    s = xapi.statement_for_attempt(site=SITE, attempt=_attempt("multiple_choice", answer="they are equal"))
    assert [c["id"] for c in s["object"]["definition"]["choices"]] == ["choice-0", "choice-1", "choice-2"]
    assert s["object"]["definition"]["choices"][2]["description"] == {"en": "they are equal"}
    assert s["result"]["response"] == "choice-2"
    edited = xapi.statement_for_attempt(site=SITE, attempt=_attempt("multiple_choice", answer="an old option"))
    assert edited["result"]["response"] == "an old option"


def test_an_ingested_attempt_has_the_course_but_no_class_and_no_registration():
    s = xapi.statement_for_attempt(
        site=SITE, attempt=_attempt(class_id=None, class_name="", session_id=None, response_time_ms=None)
    )
    assert errors(s) == []
    assert [g["definition"]["type"] for g in s["context"]["contextActivities"]["grouping"]] == [xapi.TYPE_COURSE]
    assert "registration" not in s["context"] and "duration" not in s["result"]


def test_ids_are_deterministic_per_attempt_and_per_site():
    first = xapi.statement_for_attempt(site=SITE, attempt=_attempt())
    assert xapi.statement_for_attempt(site=SITE, attempt=_attempt())["id"] == first["id"]
    assert xapi.statement_for_attempt(site=SITE, attempt=_attempt(attempt_id=18))["id"] != first["id"]
    other_site = xapi.XapiSite(base_url=SITE.base_url, namespace=uuid.uuid4())
    assert xapi.statement_for_attempt(site=other_site, attempt=_attempt())["id"] != first["id"]
    assert uuid.UUID(first["id"]).version == 5


def test_a_student_without_external_id_gets_an_opaque_stable_name():
    s = xapi.statement_for_attempt(site=SITE, attempt=_attempt(student_external_id=""))
    name = s["actor"]["account"]["name"]
    assert name.startswith("metis-") and uuid.UUID(name.removeprefix("metis-"))  # no username, name or row id
    assert (
        name
        == xapi.statement_for_attempt(site=SITE, attempt=_attempt(student_external_id="", attempt_id=99))["actor"][
            "account"
        ]["name"]
    )
    assert (
        name
        != xapi.statement_for_attempt(site=SITE, attempt=_attempt(student_external_id="", student_id=6))["actor"][
            "account"
        ]["name"]
    )


@pytest.mark.parametrize(
    "ms, expected",
    [
        (0, "PT0S"),
        (8400, "PT8.4S"),
        (1234, "PT1.23S"),
        (60_000, "PT1M"),
        (65_250, "PT1M5.25S"),
        (3_723_000, "PT1H2M3S"),
    ],
)
def test_durations_are_iso_8601(ms, expected):
    assert xapi.iso_duration(ms) == expected
    assert errors({**xapi.statement_for_attempt(site=SITE, attempt=_attempt(response_time_ms=ms))}) == []


def test_timestamps_keep_their_offset_and_refuse_naive_datetimes():
    plus_two = datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert xapi.iso_timestamp(plus_two) == "2026-12-01T11:00:00.000+02:00"
    with pytest.raises(ValueError, match="timezone"):
        xapi.iso_timestamp(datetime(2026, 12, 1, 11, 0))


def _tamper(path: str, value=None, delete: bool = False) -> dict:
    statement = copy.deepcopy(xapi.statement_for_attempt(site=SITE, attempt=_attempt("multiple_choice")))
    *parents, last = path.split(".")
    node = statement
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if delete:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return statement


@pytest.mark.parametrize(
    "path, value, delete",
    [
        ("id", None, True),
        ("actor", None, True),
        ("verb.id", None, True),
        ("object.id", None, True),
        ("id", "not-a-uuid", False),
        ("id", "3f1c8a52-2b8e-4f53-1a57-1d3b0c8e7a11", False),  # not variant 2
        ("actor.objectType", "Person", False),
        ("actor.account.homePage", "metis.example.org", False),
        ("actor.account.name", None, True),
        ("verb.id", "answered", False),
        ("object.id", "items 42", False),
        ("object.objectType", "Activty", False),
        ("object.definition.interactionType", "multiple-choice", False),
        ("object.definition.choices.0.id", "choice 0", False),
        ("result.score.scaled", 1.5, False),
        ("result.score.scaled", -1.01, False),
        ("result.success", "true", False),
        ("result.duration", "8.4 seconds", False),
        ("result.duration", "P", False),
        ("result.duration", "PT", False),
        ("result.extensions", {"confidence": 0.75}, False),
        ("context.registration", "11", False),
        ("context.language", "English please", False),
        ("context.contextActivities.grouping", {"id": "https://x.example/course"}, False),
        ("timestamp", "2026-12-01 09:30:05", False),
        ("timestamp", "2026-12-01T09:30:05", False),  # no timezone
        ("version", "2.0.0", False),
        ("stored_by_metis", True, False),  # an unknown property
    ],
)
def test_a_tampered_statement_fails_validation(path, value, delete):
    assert errors(_tamper(path, value, delete)), f"{path} = {value!r} passed"
