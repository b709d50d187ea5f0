"""Item generators for the demo course (pure Python: no database)."""

from __future__ import annotations

import ast
import functools
import itertools
import math
import operator
import random
import re
from fractions import Fraction

import pytest

from tutor import generators
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


# --------------------------------------------------------------------------
# Worked solutions and hints must say something, and say it correctly.
# --------------------------------------------------------------------------

SEEDS = range(500)
_MATH_CHARS = frozenset("0123456789x/×÷+-−()²^*%. ")
_CLAUSE_SPLIT = re.compile(r"[:;,?]|\.(?=\s|$)|\b(?:and|so|then)\b", re.IGNORECASE)
# Renderings that say nothing or are not how the sum is written.
_EMPTY_RENDERINGS = {
    "a coefficient or factor of 1 written out (1x, -1(...))": re.compile(r"(?<![\w./])-?1(?=[x(])"),
    "a sign straight after an operator (+ -3, --3)": re.compile(r"[+\-−×÷]\s*[+\-−]\s*[\dx(]"),
    "a zero operand (x + 0, 0 × 4)": re.compile(r"(?<![\w./])0\s*[+\-−×÷]|[+\-−×÷]\s*\(?0\)?(?![\w./])"),
    "a plural for one part": re.compile(r"(?<![\w./])1 parts\b"),
}


@functools.cache
def _items(skill: str) -> tuple[dict, ...]:
    return tuple(generate_item(skill, random.Random(seed)) for seed in SEEDS)


def _texts(item: dict) -> list[str]:
    return [item["prompt"], *item["hints"], item["solution"]]


def _tail(text: str) -> str:
    """The run of maths characters that ends ``text`` (the left side of an "=")."""
    i = len(text)
    while i and text[i - 1] in _MATH_CHARS:
        i -= 1
    return text[i:].strip()


def _head(text: str) -> str:
    """The run of maths characters that starts ``text`` (the right side of an "=")."""
    i = 0
    while i < len(text) and text[i] in _MATH_CHARS:
        i += 1
    return text[:i].strip()


def _equations(text: str) -> list[tuple[str, str]]:
    """Every ``a = b`` in ``text``, chains ``a = b = c`` giving (a, b) and (b, c)."""
    pairs = []
    for clause in _CLAUSE_SPLIT.split(text):
        sides = clause.split("=")
        pairs += [(_tail(left), _head(right)) for left, right in itertools.pairwise(sides)]
    return pairs


def _evaluate(side: str, x: Fraction) -> Fraction:
    """Exact value of a rendered sum such as ``3/4 × 2``, ``-2(x + 3)`` or ``5²``."""
    source = side.replace("×", "*").replace("÷", "/").replace("−", "-").replace("²", "**2")
    source = re.sub(r"(\d|\))(?=[x(])", r"\1*", source)
    source = re.sub(r"(x)(?=[\d(x])", r"\1*", source)
    if not re.fullmatch(r"[\dx+\-*/(). ]+", source):
        raise ValueError(side)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return Fraction(str(node.value))
        if isinstance(node, ast.Name) and node.id == "x":
            return x
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                   ast.Div: operator.truediv, ast.Pow: operator.pow}  # fmt: skip
            return ops[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(side)

    return ev(ast.parse(source, mode="eval"))


def _stated_answer(item: dict) -> str:
    """What the worked solution gives as the answer: the right side of its last "="."""
    solution = item["solution"].split("Check:")[0]
    if item["type"] == "text":
        return re.search(r"\bso \S+ is (\w+) than\b", solution).group(1)
    return _head(_CLAUSE_SPLIT.split(solution.rsplit("=", 1)[1])[0])


def _problems(skill: str, check) -> list[str]:
    found = []
    for item in _items(skill):
        for problem in check(item):
            found.append(f"{item['slug']}: {problem}")
    return found


def test_every_generator_is_checked():
    gen_functions = {f for name, f in vars(generators).items() if name.startswith("gen_") and callable(f)}
    assert gen_functions == set(GENERATORS.values())


@pytest.mark.parametrize("skill", SKILL_SLUGS)
def test_no_step_is_an_identity(skill):
    """No "6/7 = 6/7": a step whose two sides are the same says nothing."""

    def check(item):
        for text in _texts(item):
            for left, right in _equations(text):
                if left and "".join(left.split()) == "".join(right.split()):
                    yield f"{left} = {right} in {text!r}"

    problems = _problems(skill, check)
    assert not problems, f"{len(problems)} identities, e.g.\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("skill", SKILL_SLUGS)
def test_every_stated_sum_is_true(skill):
    """Each "a = b" between two sums (in the prompt, the hints or the solution) holds exactly."""

    def check(item):
        for text in _texts(item):
            text = re.sub(r"(\d+)% of (\d+)", r"(\1/100 × \2)", text)
            for left, right in _equations(text):
                if not left or not right or ("x" in left) != ("x" in right):
                    continue  # an equation to solve (3x = 12), not a claim that two sums agree
                try:
                    holds = all(_evaluate(left, x) == _evaluate(right, x) for x in (Fraction(7, 3), Fraction(-2)))
                except (ValueError, SyntaxError, ZeroDivisionError, KeyError):
                    yield f"cannot read {left} = {right} in {text!r}"
                    continue
                if not holds:
                    yield f"{left} = {right} is false in {text!r}"
            for a, b, hcf in re.findall(r"HCF of (\d+) and (\d+) is (\d+)", text):
                if math.gcd(int(a), int(b)) != int(hcf):
                    yield f"the HCF of {a} and {b} is not {hcf}"
            for a, b, lcd in re.findall(r"lowest common denominator of (\d+) and (\d+) is (\d+)", text):
                if math.lcm(int(a), int(b)) != int(lcd):
                    yield f"the lowest common denominator of {a} and {b} is not {lcd}"

    problems = _problems(skill, check)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("skill", SKILL_SLUGS)
def test_no_empty_or_odd_renderings(skill):
    """No "1x", "-1(x + 3)", "+ -3", "--3", "x + 0" or "1 parts" anywhere a learner reads."""

    def check(item):
        shown = correct_answer_display(item["type"], item["answer"])
        for text in [*_texts(item), shown]:
            for what, pattern in _EMPTY_RENDERINGS.items():
                if match := pattern.search(text):
                    yield f"{what}: {match.group()!r} in {text!r}"

    problems = _problems(skill, check)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("skill", SKILL_SLUGS)
def test_solution_ends_with_the_items_answer(skill):
    def check(item):
        stated = _stated_answer(item)
        if item["type"] == "multiple_choice":
            ok = stated == correct_answer_display(item["type"], item["answer"])
        else:
            ok = check_answer(item["type"], item["answer"], stated).correct
        if not ok:
            yield f"the solution gives {stated!r}, the answer is {correct_answer_display(item['type'], item['answer'])!r}"

    problems = _problems(skill, check)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("skill", ["fraction-addition", "fraction-multiplication"])
def test_fraction_solutions_say_whether_the_result_simplifies(skill):
    def check(item):
        if "Simplify" not in item["solution"] and "simplest form" not in item["solution"]:
            yield f"neither simplified nor said to be in simplest form: {item['solution']!r}"

    problems = _problems(skill, check)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:10])


def test_negative_number_hints_fit_the_sign():
    """A hint about adding or subtracting a negative number only when the number is negative."""

    def check(item):
        m = re.fullmatch(r"Work out (-?\d+) ([+-]) \(?(-?\d+)\)?\.", item["prompt"])
        about_negative = re.match(r"(?:Adding|Subtracting) a negative number", item["hints"][0])
        if m and about_negative and int(m.group(3)) > 0:
            yield f"{item['hints'][0]!r} for {item['prompt']!r}"

    problems = _problems("negative-numbers", check)
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:10])
