"""Item generators for the demo course (pure Python: no database)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from tutor.answers import ITEM_TYPES, check_answer, correct_answer_display, validate_answer_spec
from tutor.content_format import SLUG_RE, parse_content
from tutor.generators import DEMO_COURSE, GENERATORS, generate_item

SKILL_SLUGS = [s["slug"] for s in DEMO_COURSE["skills"]]
ITEM_KEYS = {"slug", "skill", "type", "prompt", "answer", "hints", "solution", "difficulty"}


def correct_response(item: dict) -> str:
    spec = item["answer"]
    return {
        "multiple_choice": lambda: spec["choices"][spec["correct"]],
        "numeric": lambda: str(spec["value"]),
        "fraction": lambda: str(spec["value"]),
        "expression": lambda: spec["value"],
        "text": lambda: spec["accepted"][0],
    }[item["type"]]()


def wrong_response(item: dict) -> str:
    spec = item["answer"]
    if item["type"] == "multiple_choice":
        return spec["choices"][(spec["correct"] + 1) % len(spec["choices"])]
    if item["type"] == "numeric":
        return str(spec["value"] + spec.get("tolerance", 0) + 1)
    if item["type"] == "fraction":
        return str(Fraction(spec["value"]) + Fraction(1, 7))
    if item["type"] == "expression":
        return f"({spec['value']}) + 1"
    return {"greater": "less", "less": "greater"}.get(spec["accepted"][0], "zzz")


def test_demo_course_shape():
    assert len(SKILL_SLUGS) >= 8 and len(set(SKILL_SLUGS)) == len(SKILL_SLUGS)
    assert set(GENERATORS) == set(SKILL_SLUGS)
    by_slug = {s["slug"]: s for s in DEMO_COURSE["skills"]}
    for skill in DEMO_COURSE["skills"]:
        assert set(skill) == {"slug", "name", "description", "prerequisites", "confusable_with"}
        for ref in skill["prerequisites"] + skill["confusable_with"]:
            assert ref in by_slug and ref != skill["slug"]
        for other in skill["confusable_with"]:  # confusable pairs are symmetric
            assert skill["slug"] in by_slug[other]["confusable_with"]
    assert "fraction-multiplication" in by_slug["fraction-addition"]["confusable_with"]
    assert "two-step-equations" in by_slug["one-step-equations"]["confusable_with"]
    assert "ratios" in by_slug["percentages"]["confusable_with"]
    assert "simplify-fractions" in by_slug["fraction-addition"]["prerequisites"]


@pytest.mark.parametrize("skill", SKILL_SLUGS)
def test_generated_items_are_valid_and_answerable(skill):
    rng = random.Random(f"metis-{skill}")
    seen: dict[str, dict] = {}
    for _ in range(50):
        item = generate_item(skill, rng)
        assert set(item) == ITEM_KEYS
        assert item["skill"] == skill and item["slug"].startswith(skill + "-")
        assert SLUG_RE.fullmatch(item["slug"]) and len(item["slug"]) <= 100
        assert item["type"] in ITEM_TYPES
        assert validate_answer_spec(item["type"], item["answer"]) == []
        assert item["prompt"].strip() and item["solution"].strip()
        assert 1 <= len(item["hints"]) <= 3 and all(h.strip() for h in item["hints"])
        assert 0 <= item["difficulty"] <= 1
        assert correct_answer_display(item["type"], item["answer"])
        right = check_answer(item["type"], item["answer"], correct_response(item))
        assert right.correct, (item, right)
        wrong = check_answer(item["type"], item["answer"], wrong_response(item))
        assert not wrong.correct, (item, wrong)
        # The same slug always means the same item.
        assert seen.setdefault(item["slug"], item) == item


def test_same_seed_same_items():
    a = [generate_item(s, random.Random(7)) for s in SKILL_SLUGS]
    b = [generate_item(s, random.Random(7)) for s in SKILL_SLUGS]
    assert a == b


def test_item_types_are_mixed():
    rng = random.Random(3)
    types = {generate_item(s, rng)["type"] for s in SKILL_SLUGS for _ in range(20)}
    assert types == set(ITEM_TYPES)


def test_simplify_fractions_rejects_unsimplified_answer():
    item = generate_item("simplify-fractions", random.Random(1))
    unsimplified = item["prompt"].split()[1]  # "Write 6/8 in ..."
    result = check_answer("fraction", item["answer"], unsimplified)
    assert not result.correct and result.feedback


def test_expand_brackets_rejects_the_question_itself():
    rng = random.Random(5)
    for _ in range(20):
        item = generate_item("expand-brackets", rng)
        question = item["prompt"].removeprefix("Expand ").split(".")[0]
        assert not check_answer("expression", item["answer"], question).correct


def test_unknown_skill():
    with pytest.raises(ValueError):
        generate_item("calculus", random.Random(0))


def test_generated_course_is_valid_content():
    import json

    rng = random.Random(11)
    items = [generate_item(s, rng) for s in SKILL_SLUGS for _ in range(5)]
    unique = list({i["slug"]: i for i in items}.values())
    doc = {
        "format": "metis-content/1",
        "course": {k: DEMO_COURSE[k] for k in ("slug", "title", "description")},
        "skills": DEMO_COURSE["skills"],
        "items": unique,
    }
    spec = parse_content(json.dumps(doc))
    assert len(spec.skills) == len(SKILL_SLUGS) and len(spec.items) == len(unique)
