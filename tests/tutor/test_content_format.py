"""The metis-content/1 format (pure Python: no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tutor.content_format import (
    ContentError,
    ContentSpec,
    CourseSpec,
    ItemSpec,
    SkillSpec,
    dump_content,
    parse_content,
)

DEMO_FILE = Path(__file__).resolve().parents[2] / "content" / "demo-authored.yaml"

VALID = """\
format: metis-content/1
course: {slug: maths, title: Maths, description: Demo}
skills:
  - {slug: simplify-fractions, name: Simplifying fractions}
  - slug: fraction-addition
    name: Adding fractions
    prerequisites: [simplify-fractions]
    confusable_with: [ratios]
  - {slug: ratios, name: Ratios, confusable_with: [fraction-addition]}
items:
  - slug: fa-001
    skill: fraction-addition
    type: fraction
    prompt: "1/4 + 1/2?"
    answer: {value: "3/4", equivalent: true}
    hints: [Use a common denominator.]
    solution: 1/4 + 2/4 = 3/4.
    difficulty: 0.4
  - slug: fa-002
    skill: ratios
    type: numeric
    prompt: Share 10 in the ratio 2:3. Larger share?
    answer: {value: 6, tolerance: 0}
"""


def errors_of(text: str, **kwargs) -> list[str]:
    with pytest.raises(ContentError) as exc_info:
        parse_content(text, **kwargs)
    assert exc_info.value.errors
    return exc_info.value.errors


def test_parse_valid_yaml():
    spec = parse_content(VALID)
    assert spec.course == CourseSpec("maths", "Maths", "Demo")
    assert spec.skills[1] == SkillSpec(
        "fraction-addition", "Adding fractions", "", ("simplify-fractions",), ("ratios",)
    )
    assert spec.items[0].hints == ("Use a common denominator.",)
    assert spec.items[1] == ItemSpec(
        "fa-002", "ratios", "numeric", "Share 10 in the ratio 2:3. Larger share?", {"value": 6, "tolerance": 0}
    )
    assert spec.items[1].difficulty == 0.5 and spec.items[1].solution == ""


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip(fmt):
    spec = parse_content(VALID)
    text = dump_content(spec, fmt=fmt)
    assert parse_content(text) == spec
    if fmt == "json":
        assert json.loads(text)["format"] == "metis-content/1"


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_demo_file_with_multiline_and_unicode(fmt):
    spec = parse_content(DEMO_FILE.read_text(encoding="utf-8"), filename=str(DEMO_FILE))
    assert {i.type for i in spec.items} == {"multiple_choice", "numeric", "fraction", "expression", "text"}
    assert parse_content(dump_content(spec, fmt=fmt)) == spec


def test_round_trip_of_constructed_spec():
    spec = ContentSpec(
        course=CourseSpec("c", "Course: with colon", "line one\nline two\n"),
        skills=(SkillSpec("a", "A"), SkillSpec("b", "B", prerequisites=("a",))),
        items=(ItemSpec("i-1", "b", "text", "- starts with dash", {"accepted": ["yes", "no"]}, ("h",), "s", 1.0),),
    )
    assert parse_content(dump_content(spec)) == spec
    assert parse_content(dump_content(spec, fmt="json")) == spec


def test_json_input_with_same_structure():
    spec = parse_content(VALID)
    as_json = json.dumps(json.loads(dump_content(spec, fmt="json")))
    assert parse_content(as_json) == spec


def test_errors_name_item_and_field():
    text = VALID.replace("answer: {value: 6, tolerance: 0}", "answer: {value: 6, tolerance: -1}")
    assert errors_of(text) == ['items[1] (slug "fa-002"): field "answer.tolerance": must be a number >= 0']


def test_unknown_prerequisite_names_skill_and_field():
    text = VALID.replace("prerequisites: [simplify-fractions]", "prerequisites: [simplify-fraction]")
    assert errors_of(text) == [
        'skills[1] (slug "fraction-addition"): field "prerequisites": unknown skill "simplify-fraction"'
    ]


def test_known_skill_slugs_allow_references_to_existing_skills():
    text = VALID.replace("prerequisites: [simplify-fractions]", "prerequisites: [from-db]").replace(
        "skill: ratios", "skill: also-from-db"
    )
    assert len(errors_of(text)) == 2
    spec = parse_content(text, known_skill_slugs={"from-db", "also-from-db"})
    assert spec.skills[1].prerequisites == ("from-db",)


def test_all_errors_are_collected():
    text = """\
format: metis-content/2
course: {slug: Maths!, title: ""}
extra: 1
skills:
  - {slug: a, name: A, prerequisites: [b]}
  - {slug: b, name: B, prerequisites: [a]}
  - {slug: b, name: Again, colour: red}
  - just a string
items:
  - {slug: x, skill: a, type: essay, prompt: P, answer: {}}
  - {slug: x, skill: nope, type: numeric, prompt: "", answer: {value: nan}, difficulty: 2, hints: [1]}
  - {slug: y, skill: a, type: multiple_choice, prompt: P, answer: {choices: [a, b], correct: 5}}
  - {slug: z, skill: a, type: expression, prompt: P, answer: {value: "__import__('os')", variables: [x]}}
  - {skill: a, type: text, prompt: P, answer: {accepted: [no]}}
"""
    errors = errors_of(text)
    expected_fragments = [
        'field "format": must be "metis-content/1"',
        'course: field "slug": "Maths!" is not a valid slug',
        'course: field "title": must not be empty',
        'field "extra": unknown field',
        'skills[2] (slug "b"): field "slug": duplicate skill slug',
        'skills[2] (slug "b"): field "colour": unknown field',
        "skills[3]: must be a mapping",
        "prerequisite cycle: a -> b -> a",
        'items[0] (slug "x"): field "type": must be one of',
        'items[1] (slug "x"): field "slug": duplicate item slug (also items[0])',
        'items[1] (slug "x"): field "skill": unknown skill "nope"',
        'items[1] (slug "x"): field "prompt": must not be empty',
        'items[1] (slug "x"): field "answer.value": must be a finite number',
        'items[1] (slug "x"): field "difficulty": must be a number between 0 and 1',
        'items[1] (slug "x"): field "hints[0]": must be non-empty text',
        'items[2] (slug "y"): field "answer.correct": must be between 0 and 1',
        'items[3] (slug "z"): field "answer.value": cannot read expression',
        'items[4]: field "slug": is required',
        'items[4]: field "answer.accepted[0]": must be non-empty text',
    ]
    for fragment in expected_fragments:
        assert any(fragment in e for e in errors), (fragment, errors)


def test_content_error_message_includes_filename_and_every_error():
    with pytest.raises(ContentError) as exc_info:
        parse_content("format: metis-content/1\ncourse: {slug: c}\n", filename="course.yaml")
    assert str(exc_info.value).startswith("course.yaml: 1 problem")
    assert 'course: field "title": is required' in str(exc_info.value)


def test_yaml_syntax_error_has_line_number():
    text = "format: metis-content/1\ncourse:\n  slug: c\n  title: [unclosed\nskills: []\n"
    (error,) = errors_of(text)
    assert error.startswith("YAML syntax error at line ")
    assert "line 5" in error or "line 4" in error


def test_json_syntax_error_has_line_number():
    (error,) = errors_of('{\n  "format": "metis-content/1",\n  "course": {,}\n}')
    assert error.startswith("JSON syntax error at line 3")


def test_duplicate_keys_are_rejected():
    (error,) = errors_of("format: metis-content/1\ncourse: {slug: a, title: A}\ncourse: {slug: b, title: B}\n")
    assert "duplicate key" in error and "line 3" in error
    (error,) = errors_of('{"format": "metis-content/1", "format": "x", "course": {}}')
    assert "duplicate key" in error


def test_yaml_is_loaded_safely():
    errors = errors_of("format: metis-content/1\ncourse: !!python/object/apply:os.system ['echo hacked']\n")
    assert "YAML" in errors[0]
    errors = errors_of("a: &x [1, 2]\nb: *x\n")
    assert "aliases" in errors[0]


def test_top_level_must_be_mapping():
    assert "must be a mapping" in errors_of("- 1\n- 2\n")[0]
    assert "must be a mapping" in errors_of("")[0]


def test_self_reference_and_longer_cycle():
    text = """\
format: metis-content/1
course: {slug: c, title: C}
skills:
  - {slug: a, name: A, prerequisites: [c]}
  - {slug: b, name: B, prerequisites: [a]}
  - {slug: c, name: C, prerequisites: [b], confusable_with: [c]}
"""
    errors = errors_of(text)
    assert any("prerequisite cycle: a -> c -> b -> a" in e for e in errors), errors
    assert any('skills[2] (slug "c"): field "confusable_with": a skill cannot refer to itself' in e for e in errors)


def test_dump_rejects_unknown_format():
    with pytest.raises(ValueError):
        dump_content(parse_content(VALID), fmt="xml")  # type: ignore[arg-type]
