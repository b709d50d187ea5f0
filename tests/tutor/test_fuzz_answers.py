"""Fuzzing the answer checker (hypothesis): whatever a student types, the checker grades it or raises
InvalidAnswer with a message, in bounded time; whatever an author writes as a spec, validation lists problems.

No Django needed: ``tutor.answers`` is pure Python. Time is CPU time of this process, so a busy machine does
not make the bound flaky.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tutor.answers import CheckResult, InvalidAnswer, check_answer, validate_answer_spec

BOUND_S = 1.0  # CPU seconds for one answer, the worst case included

SPECS = {
    "expression": [
        {"value": "x^2 + 2*x + 1", "variables": ["x"]},
        {"value": "(a+b)^2", "variables": ["a", "b"], "form": "expanded"},
        {"value": "1/(x-1) + y", "variables": ["x", "y"]},
    ],
    "numeric": [{"value": 42, "tolerance": 0}, {"value": 0.1, "tolerance": 0.01, "unit": "m"}],
    "fraction": [{"value": "3/4"}, {"value": "-7/3", "equivalent": False}],
    "multiple_choice": [{"choices": ["6", "-2", "five"], "correct": 0}],
    "text": [{"accepted": ["photosynthesis", "Light"], "case_sensitive": False}],
}
CASES = [(kind, spec) for kind, specs in SPECS.items() for spec in specs]

NASTY = [
    "9**9**9",
    "9^9^9",
    "9^9^9^9^9^9",
    "x^10^10",
    "(x+1)^10^10",
    "2^1000000",
    "x^(9^9)",
    "(" * 5000 + "x" + ")" * 5000,
    "-" * 10000 + "x",
    "x" + "^x" * 100,
    "((((((((((((((((((((((x))))))))))))))))))))))",
    "x*" * 99 + "x",
    "(x+1)*" * 30 + "1",
    "(x+y+a+b)^10*(x-y)^10",
    "1/(x-x)",
    "0^-1",
    "0^0",
    "x/0",
    "1" * 10_000,
    "9" * 39,
    "1e999999",
    "1e-999999",
    "nan",
    "inf",
    "-0",
    "٣٤",
    "²",
    "½",
    "x\u200b+1",
    "\x00",
    "𝑥^2",
    "x²+1",
    "1/2/3/4/5/6/7/8/9/10",
    " " * 600,
    "x" * 501,
    "__import__('os').system('true')",
    "lambda: 1",
    "sqrt(-1)",
    "e^(i*pi)",
    "3 1/2",
    "-3 -1/2",
    "1/0 1/0",
    "1,000,000.5",
]


def _timed(kind: str, spec: dict, response: str) -> float:
    start = time.process_time()
    try:
        result = check_answer(kind, spec, response)
    except InvalidAnswer as exc:
        assert exc.message.strip(), "InvalidAnswer must carry a message to show"
    else:
        assert isinstance(result, CheckResult)
    return time.process_time() - start


@pytest.mark.parametrize("response", NASTY)
@pytest.mark.parametrize(("kind", "spec"), CASES, ids=[f"{k}-{n}" for n, (k, _) in enumerate(CASES)])
def test_nasty_answers_are_graded_or_refused_quickly(kind, spec, response):
    assert _timed(kind, spec, response) < BOUND_S


_ATOMS = st.sampled_from(["x", "y", "a", "b", "1", "2", "9", "0", "10", "0.5", "99999999", "z", "pi"])
_EXPRESSIONS = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(list("+-*/^") + ["**", " ", ""]), inner).map("".join),
        inner.map(lambda e: f"({e})"),
        inner.map(lambda e: f"-{e}"),
    ),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind_spec=st.sampled_from(CASES), response=st.one_of(st.text(max_size=600), _EXPRESSIONS))
@example(kind_spec=CASES[0], response="9^9^9^9")
def test_any_text_is_graded_or_refused_quickly(kind_spec, response):
    kind, spec = kind_spec
    assert _timed(kind, spec, response) < BOUND_S


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.text(max_size=300), _EXPRESSIONS), variables=st.lists(st.text(max_size=3), max_size=6))
@example(value="9^9^9", variables=["x"])
@example(value="(" * 3000, variables=["x"])
def test_an_authored_expression_spec_is_validated_not_crashed_on(value, variables):
    """Content import validates authored specs with the same parser: a bad one is a listed problem."""
    start = time.process_time()
    problems = validate_answer_spec("expression", {"value": value, "variables": variables})
    assert all(isinstance(field, str) and message for field, message in problems)
    assert time.process_time() - start < BOUND_S


@settings(max_examples=200, deadline=None)
@given(
    spec=st.dictionaries(
        st.sampled_from(["value", "tolerance", "unit", "choices", "correct", "accepted", "variables", "form", "zz"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.lists(st.text())),
        max_size=5,
    ),
    kind=st.sampled_from(sorted(SPECS)),
)
def test_any_spec_shape_is_validated_not_crashed_on(spec, kind):
    problems = validate_answer_spec(kind, spec)
    assert all(isinstance(field, str) and message for field, message in problems)
