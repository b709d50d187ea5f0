"""Parameterised item generators for the Metis demo course (middle-school maths).

Pure Python (no Django). ``generate_item(skill_slug, rng)`` returns an item dict
in the authored-content format (see ``docs/content-format.md``). The slug is
derived from the skill and the parameters only, so the same parameters always
give the same slug *and* the same item (choice order included); the ``rng`` is
used only to pick parameters.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction

__all__ = ["DEMO_COURSE", "GENERATORS", "generate_item"]


def _skill(slug, name, description, prerequisites=(), confusable_with=()):
    return {
        "slug": slug,
        "name": name,
        "description": description,
        "prerequisites": list(prerequisites),
        "confusable_with": list(confusable_with),
    }


DEMO_COURSE: dict = {
    "slug": "middle-school-maths",
    "title": "Middle-school maths (demo)",
    "description": "Fractions, percentages, ratios, negative numbers and first steps in algebra.",
    "skills": [
        _skill("simplify-fractions", "Simplifying fractions",
               "Write a fraction in its simplest form by dividing by the highest common factor."),
        _skill("fraction-addition", "Adding fractions",
               "Add two fractions by writing them over a common denominator.",
               ["simplify-fractions"], ["fraction-multiplication"]),
        _skill("fraction-multiplication", "Multiplying fractions",
               "Multiply numerators and denominators, then simplify.",
               ["simplify-fractions"], ["fraction-addition"]),
        _skill("percentages", "Percentages",
               "Find a percentage of an amount and write one amount as a percentage of another.",
               ["fraction-multiplication"], ["ratios"]),
        _skill("ratios", "Sharing in a ratio",
               "Share an amount in a given ratio using the value of one part.",
               ["simplify-fractions"], ["percentages"]),
        _skill("order-of-operations", "Order of operations",
               "Brackets, then powers, then × and ÷, then + and −, working left to right."),
        _skill("negative-numbers", "Negative numbers",
               "Compare, add, subtract and multiply negative numbers."),
        _skill("one-step-equations", "One-step equations",
               "Solve equations such as x + 7 = 12 or 3x = 21 with one inverse operation.",
               ["negative-numbers"], ["two-step-equations"]),
        _skill("two-step-equations", "Two-step equations",
               "Solve equations such as 3x + 4 = 19 by undoing each operation in turn.",
               ["one-step-equations", "order-of-operations"], ["one-step-equations"]),
        _skill("expand-brackets", "Expanding brackets",
               "Multiply every term inside a bracket by the term outside.",
               ["order-of-operations", "negative-numbers"]),
    ],
}  # fmt: skip


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _s(n: int) -> str:
    """Slug-safe integer: -3 -> "m3"."""
    return f"m{-n}" if n < 0 else str(n)


def _p(n: int) -> str:
    """Integer for a prompt, bracketed when negative: -3 -> "(-3)"."""
    return f"({n})" if n < 0 else str(n)


def _frac(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _difficulty(x: float) -> float:
    return round(min(0.95, max(0.05, x)), 2)


def _item(skill, slug_parts, item_type, prompt, answer, hints, solution, difficulty) -> dict:
    return {
        "slug": "-".join([skill, *map(str, slug_parts)]),
        "skill": skill,
        "type": item_type,
        "prompt": prompt,
        "answer": answer,
        "hints": list(hints),
        "solution": solution,
        "difficulty": _difficulty(difficulty),
    }


def _step(left: int, op: str, right: int, result: int) -> str:
    """One arithmetic step, "12 ÷ 3 = 4"; just the result when the left operand is 0 ("0 + 5 = 5" says nothing)."""
    return str(result) if left == 0 else f"{left} {op} {_p(right)} = {result}"


def _linear(a: int, b: int, var: str = "x") -> str:
    """Render a*var + b in the usual way: 3x - 4, -x + 2, x."""
    if a == 0:
        return str(b)
    head = {1: var, -1: f"-{var}"}.get(a, f"{a}{var}")
    if b == 0:
        return head
    return f"{head} {'+' if b > 0 else '-'} {abs(b)}"


# --------------------------------------------------------------------------
# Fractions
# --------------------------------------------------------------------------


def _proper_fraction(rng: random.Random, max_den: int = 10) -> tuple[int, int]:
    den = rng.randint(2, max_den)
    return rng.randint(1, den - 1), den


def gen_simplify_fractions(rng: random.Random) -> dict:
    den = rng.randint(2, 12)
    num = rng.choice([n for n in range(1, den) if math.gcd(n, den) == 1])
    k = rng.randint(2, 6)
    top, bottom = num * k, den * k
    return _item(
        "simplify-fractions", [top, bottom], "fraction",
        f"Write {top}/{bottom} in its simplest form.",
        {"value": f"{num}/{den}", "equivalent": False},
        [
            f"Find the highest common factor (HCF) of {top} and {bottom}.",
            f"The HCF of {top} and {bottom} is {k}.",
            f"Divide the numerator and the denominator by {k}.",
        ],
        f"The HCF of {top} and {bottom} is {k}. {top} ÷ {k} = {num} and {bottom} ÷ {k} = {den}, "
        f"so {top}/{bottom} = {num}/{den}. {num} and {den} have no common factor other than 1, "
        "so this is the simplest form.",
        0.15 + 0.05 * k + 0.02 * den,
    )  # fmt: skip


def gen_fraction_addition(rng: random.Random) -> dict:
    a, b = _proper_fraction(rng)
    c, d = _proper_fraction(rng)
    total = Fraction(a, b) + Fraction(c, d)
    lcd = math.lcm(b, d)
    a2, c2 = a * lcd // b, c * lcd // d
    if b == d:
        common = convert = f"Both fractions already have denominator {lcd}."
        hint = f"Add the numerators, {a} + {c}, and keep the denominator {lcd}."
    else:
        # Rewrite only a fraction not already over the common denominator ("1/4 = 1/4" says nothing).
        common = f"The lowest common denominator of {b} and {d} is {lcd}."
        moved = [(n, den) for n, den in ((a, b), (c, d)) if den != lcd]
        rewrites = " and ".join(f"{n}/{den} = {n * lcd // den}/{lcd}" for n, den in moved)
        convert = f"Write {' and '.join(f'{n}/{den}' for n, den in moved)} over {lcd}: {rewrites}."
        if len(moved) == 1:
            kept = f"{a}/{b}" if b == lcd else f"{c}/{d}"
            convert += f" {kept} already has denominator {lcd}."
        hint = f"{rewrites}. Now add the numerators."
    raw = f"{a2 + c2}/{lcd}"
    simplify = (
        f" {raw} is already in its simplest form."
        if total.denominator == lcd
        else f" Simplify: {raw} = {_frac(total)}."
    )
    return _item(
        "fraction-addition", [a, b, c, d], "fraction",
        f"Work out {a}/{b} + {c}/{d}. Give your answer as a fraction.",
        {"value": _frac(total), "equivalent": True},
        [
            "You can only add fractions when the denominators are the same.",
            common,
            hint,
        ],
        f"{convert} "
        f"Add the numerators and keep the denominator: {a2}/{lcd} + {c2}/{lcd} = {raw}."
        + simplify,
        0.25 + 0.04 * (lcd // max(b, d)) + 0.02 * max(b, d),
    )  # fmt: skip


def gen_fraction_multiplication(rng: random.Random) -> dict:
    a, b = _proper_fraction(rng)
    c, d = _proper_fraction(rng)
    product = Fraction(a, b) * Fraction(c, d)
    raw = f"{a * c}/{b * d}"
    in_lowest_terms = product.denominator == b * d
    simplify = (
        f" {raw} is already in its simplest form." if in_lowest_terms else f" Simplify: {raw} = {_frac(product)}."
    )
    return _item(
        "fraction-multiplication", [a, b, c, d], "fraction",
        f"Work out {a}/{b} × {c}/{d}. Give your answer as a fraction.",
        {"value": _frac(product), "equivalent": True},
        [
            "To multiply fractions you do not need a common denominator.",
            "Multiply the numerators together and the denominators together.",
            f"{a} × {c} = {a * c} and {b} × {d} = {b * d}."
            + (f" {raw} is already in its simplest form." if in_lowest_terms else " Can you simplify?"),
        ],
        f"Multiply the numerators: {a} × {c} = {a * c}. Multiply the denominators: "
        f"{b} × {d} = {b * d}. So {a}/{b} × {c}/{d} = {raw}.{simplify}",
        0.2 + 0.03 * max(b, d) + (0.0 if in_lowest_terms else 0.1),
    )  # fmt: skip


# --------------------------------------------------------------------------
# Percentages and ratios
# --------------------------------------------------------------------------

_PERCENTS = (5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80, 90)


def gen_percentages(rng: random.Random) -> dict:
    pct = rng.choice(_PERCENTS)
    whole = 20 * rng.randint(1, 20)
    part = pct * whole // 100  # exact: pct is a multiple of 5, whole of 20
    if rng.random() < 0.5:
        return _item(
            "percentages", ["of", pct, whole], "numeric",
            f"What is {pct}% of {whole}?",
            {"value": part, "tolerance": 0},
            [
                f"{pct}% means {pct} out of every 100.",
                f"Find 1% of {whole} by dividing by 100, or find 10% by dividing by 10.",
                f"Multiply: {whole} × {pct}/100.",
            ],
            f"{pct}% of {whole} = {pct}/100 × {whole} = {pct * whole}/100 = {part}.",
            0.2 + (0.0 if pct in (10, 50, 25) else 0.2) + whole / 2000,
        )  # fmt: skip
    return _item(
        "percentages", ["what", part, whole], "numeric",
        f"What percentage of {whole} is {part}?",
        {"value": pct, "tolerance": 0, "unit": "%"},
        [
            f"Write it as a fraction first: {part}/{whole}.",
            "To turn a fraction into a percentage, multiply by 100.",
        ],
        f"{part} out of {whole} is {part}/{whole}. {part}/{whole} × 100 = {pct}, so the answer is {pct}%.",
        0.35 + (0.0 if pct in (10, 50, 25) else 0.2) + whole / 2000,
    )  # fmt: skip


def gen_ratios(rng: random.Random) -> dict:
    while True:
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        if a != b and math.gcd(a, b) == 1:
            break
    unit = rng.randint(2, 12)
    total = (a + b) * unit
    who = rng.choice(["ana", "ben"])
    parts = a if who == "ana" else b
    share = parts * unit
    name = who.capitalize()
    # One part needs no multiplying ("1 × 5 = 5") and is not "1 parts".
    has = "1 part" if parts == 1 else f"{parts} parts"
    gets = f"1 part, which is {share}" if parts == 1 else f"{parts} × {unit} = {share}"
    return _item(
        "ratios", [a, b, total, who], "numeric",
        f"Ana and Ben share {total} sweets in the ratio {a}:{b}. How many sweets does {name} get?",
        {"value": share, "tolerance": 0},
        [
            f"Add the parts of the ratio: {a} + {b} = {a + b} parts.",
            f"Find the value of one part: {total} ÷ {a + b}.",
            f"One part is {unit}. {name} has {has}.",
        ],
        f"There are {a} + {b} = {a + b} parts. One part is {total} ÷ {a + b} = {unit}. "
        f"{name} gets {gets} sweets.",
        0.25 + 0.02 * (a + b) + 0.01 * unit,
    )  # fmt: skip


# --------------------------------------------------------------------------
# Order of operations (multiple choice)
# --------------------------------------------------------------------------


def _choices(correct: int, distractors: list[int]) -> tuple[list[str], int]:
    """Four distinct choices in ascending order (so the order depends only on the values)."""
    pool: list[int] = []
    for value in [*distractors, correct + 1, correct - 1, correct + 2, correct + 10]:
        if value != correct and value not in pool:
            pool.append(value)
    values = sorted([correct, *pool[:3]])
    return [str(v) for v in values], values.index(correct)


def gen_order_of_operations(rng: random.Random) -> dict:
    pattern = rng.choice(["add-mul", "bracket", "sub-div", "square"])
    a, b, c = rng.randint(2, 12), rng.randint(2, 9), rng.randint(2, 9)
    if pattern == "add-mul":
        expr, correct = f"{a} + {b} × {c}", a + b * c
        wrong = [(a + b) * c, a * b + c]
        steps = f"Multiply first: {b} × {c} = {b * c}. Then add: {a} + {b * c} = {correct}."
        params = [a, b, c]
    elif pattern == "bracket":
        expr, correct = f"({a} + {b}) × {c}", (a + b) * c
        wrong = [a + b * c, a * (b + c)]
        steps = f"Brackets first: {a} + {b} = {a + b}. Then multiply: {a + b} × {c} = {correct}."
        params = [a, b, c]
    elif pattern == "sub-div":
        d = b * c  # so that d ÷ b is a whole number
        a = a + c  # keep the answer positive
        expr, correct = f"{a} - {d} ÷ {b}", a - c
        wrong = [(a - d) // b if (a - d) % b == 0 else a - d + b, a - d]
        steps = f"Divide first: {d} ÷ {b} = {c}. Then subtract: {a} - {c} = {correct}."
        params = [a, d, b]
    else:
        expr, correct = f"{a} + {b}²", a + b * b
        wrong = [(a + b) ** 2, a + 2 * b]
        steps = f"Powers come before addition: {b}² = {b * b}. Then {a} + {b * b} = {correct}."
        params = [a, b]
    choices, index = _choices(correct, wrong)
    return _item(
        "order-of-operations", [pattern, *params], "multiple_choice",
        f"What is {expr}?",
        {"choices": choices, "correct": index},
        [
            "Remember the order: Brackets, Indices (powers), Division and Multiplication, "
            "Addition and Subtraction.",
            "Do not just work from left to right: find the operation that comes first.",
        ],
        steps,
        {"add-mul": 0.2, "bracket": 0.25, "sub-div": 0.4, "square": 0.45}[pattern] + 0.01 * a,
    )  # fmt: skip


# --------------------------------------------------------------------------
# Negative numbers (text comparison or numeric arithmetic)
# --------------------------------------------------------------------------


def gen_negative_numbers(rng: random.Random) -> dict:
    if rng.random() < 0.4:
        while True:
            a, b = rng.randint(-12, 12), rng.randint(-12, 12)
            if a != b and min(a, b) < 0:
                break
        word, other = ("greater", "less") if a > b else ("less", "greater")
        return _item(
            "negative-numbers", ["compare", _s(a), _s(b)], "text",
            f'Is {a} greater than or less than {b}? Answer "greater" or "less".',
            {
                "accepted": [word, f"{word} than", f"{a} is {word} than {b}"]
                + (["bigger", "more"] if word == "greater" else ["smaller"]),
                "case_sensitive": False,
            },
            [
                "Picture a number line: numbers further to the right are greater.",
                f"Which of {a} and {b} is further to the right on the number line?",
            ],
            f"On a number line {a} is to the {'right' if a > b else 'left'} of {b}, "
            f"so {a} is {word} than {b} (and {b} is {other} than {a}).",
            0.1 + (0.2 if a < 0 and b < 0 else 0.0),
        )  # fmt: skip
    op = rng.choice(["add", "sub", "mul"])
    # No zeros: "-5 + 0" is not a sum about negative numbers, and "-8 × 0" has no sign to work out.
    nonzero = [n for n in range(-12, 13) if n != 0]
    a, b = rng.choice(nonzero), rng.choice(nonzero)
    if a > 0 and b > 0:
        a = -a
    if op == "add":
        result, symbol = a + b, "+"
        hint = (
            "Adding a negative number is the same as subtracting."
            if b < 0
            else "Adding a positive number moves you to the right on the number line."
        )
        why = f"Start at {a} on the number line and move {abs(b)} to the {'right' if b > 0 else 'left'}."
    elif op == "sub":
        result, symbol = a - b, "-"
        hint = (
            "Subtracting a negative number is the same as adding."
            if b < 0
            else "Subtracting a positive number is the same as adding a negative number."
        )
        why = f"{a} - {_p(b)} = {a} + {_p(-b)}."
    else:
        result, symbol = a * b, "×"
        hint = "Same signs give a positive answer; different signs give a negative answer."
        why = f"{abs(a)} × {abs(b)} = {abs(a * b)}, and the signs tell you the answer is " + (
            "positive." if result >= 0 else "negative."
        )
    return _item(
        "negative-numbers", [op, _s(a), _s(b)], "numeric",
        f"Work out {a} {symbol} {_p(b)}.",
        {"value": result, "tolerance": 0},
        [hint, "Use a number line if it helps."],
        f"{why} So {a} {symbol} {_p(b)} = {result}.",
        0.2 + (0.15 if op == "sub" and b < 0 else 0.0) + (0.1 if op == "mul" else 0.0),
    )  # fmt: skip


# --------------------------------------------------------------------------
# Equations (numeric)
# --------------------------------------------------------------------------


def gen_one_step_equations(rng: random.Random) -> dict:
    op = rng.choice(["add", "sub", "mul", "div"])
    x = rng.randint(-10, 15)
    a = rng.randint(2, 12)
    if op == "add":
        b, equation = x + a, f"x + {a} = {x + a}"
        step = f"Subtract {a} from both sides: x = {_step(x + a, '-', a, x)}."
    elif op == "sub":
        b, equation = x - a, f"x - {a} = {x - a}"
        step = f"Add {a} to both sides: x = {_step(x - a, '+', a, x)}."
    elif op == "mul":
        b, equation = a * x, f"{a}x = {a * x}"
        step = f"Divide both sides by {a}: x = {_step(a * x, '÷', a, x)}."
    else:
        b, equation = x, f"x/{a} = {x}"
        x = x * a
        step = f"Multiply both sides by {a}: x = {_step(b, '×', a, x)}."
    return _item(
        "one-step-equations", [op, a, _s(b)], "numeric",
        f"Solve {equation}. What is x?",
        {"value": x, "tolerance": 0},
        [
            "Do the inverse (opposite) operation to get x on its own.",
            "Whatever you do to one side of the equation, do to the other side too.",
        ],
        f"{step} Check: put x = {x} back into {equation}.",
        0.15 + (0.1 if op in ("mul", "div") else 0.0) + (0.1 if x < 0 else 0.0),
    )  # fmt: skip


def gen_two_step_equations(rng: random.Random) -> dict:
    a = rng.randint(2, 9)
    x = rng.randint(-10, 12)
    b = rng.choice([n for n in range(-15, 16) if n != 0])
    c = a * x + b
    equation = f"{_linear(a, b)} = {c}"
    undo = f"Subtract {b} from" if b > 0 else f"Add {-b} to"
    return _item(
        "two-step-equations", [a, _s(b), _s(c)], "numeric",
        f"Solve {equation}. What is x?",
        {"value": x, "tolerance": 0},
        [
            "Undo the operations in reverse order: deal with the number added or subtracted first.",
            f"{undo} both sides: {a}x = {c - b}.",
            f"Now divide both sides by {a}.",
        ],
        f"{undo} both sides: {a}x = {_step(c, '-' if b > 0 else '+', abs(b), c - b)}. "
        f"Divide both sides by {a}: x = {_step(c - b, '÷', a, x)}.",
        0.4 + (0.1 if x < 0 else 0.0) + (0.1 if b < 0 else 0.0) + 0.01 * a,
    )  # fmt: skip


# --------------------------------------------------------------------------
# Expanding brackets (expression)
# --------------------------------------------------------------------------


def gen_expand_brackets(rng: random.Random) -> dict:
    c = rng.choice([n for n in range(-9, 10) if n != 0])
    if rng.random() < 0.25:  # x(x + c) = x^2 + cx
        answer = f"x^2 {'+' if c > 0 else '-'} {abs(c)}*x".replace(" 1*x", " x")
        shown = f"x² {'+' if c > 0 else '-'} {abs(c) if abs(c) != 1 else ''}x"
        inner = _linear(1, c)
        return _item(
            "expand-brackets", ["x", _s(c)], "expression",
            f"Expand x({inner}). Type x² as x^2.",
            {"value": answer, "variables": ["x"], "form": "expanded"},
            [
                "Multiply each term inside the bracket by x.",
                f"x × x = x² and x × {_p(c)} = {_linear(c, 0)}.",
            ],
            f"x × x = x² and x × {_p(c)} = {_linear(c, 0)}. So x({inner}) = {shown}.",
            0.45,
        )  # fmt: skip
    a = rng.choice([n for n in range(-6, 10) if n not in (0, 1)])
    b = rng.randint(1, 5)
    inner = _linear(b, c)
    outer = "-" if a == -1 else str(a)  # -(x + 3), not -1(x + 3)
    expanded = _linear(a * b, a * c)
    x_term = {1: "x", -1: "-x"}.get(a * b, f"{a * b}*x")  # not "-1*x", shown as "-1x"
    answer = f"{x_term} {'+' if a * c > 0 else '-'} {abs(a * c)}"
    return _item(
        "expand-brackets", [_s(a), b, _s(c)], "expression",
        f"Expand {outer}({inner}).",
        {"value": answer, "variables": ["x"], "form": "expanded"},
        [
            f"Multiply each term inside the bracket by {a}.",
            f"{a} × {_linear(b, 0)} = {_linear(a * b, 0)}. Now multiply {a} by {_p(c)}.",
        ],
        f"{a} × {_linear(b, 0)} = {_linear(a * b, 0)} and {a} × {_p(c)} = {a * c}. "
        f"So {outer}({inner}) = {expanded}.",
        0.25 + (0.2 if a < 0 else 0.0) + (0.1 if c < 0 else 0.0) + (0.05 if b > 1 else 0.0),
    )  # fmt: skip


GENERATORS: dict[str, Callable[[random.Random], dict]] = {
    "simplify-fractions": gen_simplify_fractions,
    "fraction-addition": gen_fraction_addition,
    "fraction-multiplication": gen_fraction_multiplication,
    "percentages": gen_percentages,
    "ratios": gen_ratios,
    "order-of-operations": gen_order_of_operations,
    "negative-numbers": gen_negative_numbers,
    "one-step-equations": gen_one_step_equations,
    "two-step-equations": gen_two_step_equations,
    "expand-brackets": gen_expand_brackets,
}


def generate_item(skill_slug: str, rng: random.Random) -> dict:
    """Generate one item for ``skill_slug`` (KeyError-free: ValueError if unknown)."""
    try:
        generator = GENERATORS[skill_slug]
    except KeyError:
        raise ValueError(f'no generator for skill "{skill_slug}"') from None
    return generator(rng)
