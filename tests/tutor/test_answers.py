"""Answer checking (pure Python: no database)."""

from __future__ import annotations

import time

import pytest

from tutor.answers import (
    ITEM_TYPES,
    CheckResult,
    InvalidAnswer,
    check_answer,
    correct_answer_display,
    validate_answer_spec,
)

MC = {"choices": ["Paris", "Rome", "Oslo"], "correct": 1}
NUM = {"value": 3.5, "tolerance": 0.1}
FRAC_EQ = {"value": "3/4", "equivalent": True}
FRAC_SIMPLEST = {"value": "3/4", "equivalent": False}
EXPR = {"value": "2*x + 3", "variables": ["x"]}
TEXT = {"accepted": ["photosynthesis", "photo synthesis"], "case_sensitive": False}


def is_correct(item_type: str, spec: dict, response: str) -> bool:
    return check_answer(item_type, spec, response).correct


def assert_invalid(item_type: str, spec: dict, response: str) -> str:
    with pytest.raises(InvalidAnswer) as exc_info:
        check_answer(item_type, spec, response)
    assert isinstance(exc_info.value.message, str) and exc_info.value.message
    return exc_info.value.message


# --- general -----------------------------------------------------------------


def test_item_types():
    assert ITEM_TYPES == ("multiple_choice", "numeric", "fraction", "expression", "text")


@pytest.mark.parametrize(
    "item_type,spec",
    [("multiple_choice", MC), ("numeric", NUM), ("fraction", FRAC_EQ), ("expression", EXPR), ("text", TEXT)],
)
@pytest.mark.parametrize("response", ["", "   ", None, "x" * 5000])
def test_empty_or_huge_input_is_invalid_for_every_type(item_type, spec, response):
    assert_invalid(item_type, spec, response)


def test_result_is_frozen_dataclass():
    result = check_answer("numeric", NUM, "3.5")
    assert result == CheckResult(True, "3.5")
    with pytest.raises(AttributeError):
        result.correct = False  # type: ignore[misc]


def test_bad_spec_raises_value_error_not_invalid_answer():
    with pytest.raises(ValueError) as exc_info:
        check_answer("numeric", {"value": "three"}, "3")
    assert not isinstance(exc_info.value, InvalidAnswer)
    with pytest.raises(ValueError):
        check_answer("essay", {}, "anything")


# --- multiple choice -----------------------------------------------------------


def test_multiple_choice_by_index_and_text():
    assert is_correct("multiple_choice", MC, "1")
    assert not is_correct("multiple_choice", MC, "0")
    assert is_correct("multiple_choice", MC, "  rome. ")
    result = check_answer("multiple_choice", MC, "Oslo")
    assert (result.correct, result.normalized) == (False, "Oslo")


@pytest.mark.parametrize("response", ["3", "-1", "99999999999", "Berlin", "1.0"])
def test_multiple_choice_malformed(response):
    assert_invalid("multiple_choice", MC, response)


# --- numeric ------------------------------------------------------------------


@pytest.mark.parametrize(
    "response,normalized",
    [
        ("3.5", "3.5"),
        ("3,5", "3.5"),
        (" +3.50 ", "3.5"),
        ("7/2", "3.5"),
        ("x = 3.5", "3.5"),
        ("35e-1", "3.5"),
        ("3.45", "3.45"),
    ],
)
def test_numeric_accepts(response, normalized):
    assert check_answer("numeric", NUM, response) == CheckResult(True, normalized)


def test_numeric_tolerance_edge_is_inclusive_and_exact():
    assert is_correct("numeric", NUM, "3.6")  # |3.6 - 3.5| == 0.1 exactly (no float error)
    assert is_correct("numeric", NUM, "3.4")
    assert not is_correct("numeric", NUM, "3.6000001")
    assert not is_correct("numeric", NUM, "3.3999999")


def test_numeric_default_tolerance_is_zero_and_forms():
    spec = {"value": 1000}
    assert is_correct("numeric", spec, "1e3")
    assert is_correct("numeric", spec, "1000.0")
    assert not is_correct("numeric", spec, "1000.001")
    assert is_correct("numeric", {"value": -2}, "−2")  # unicode minus
    assert is_correct("numeric", {"value": 0.1}, "0.1")


def test_numeric_unit():
    spec = {"value": 25, "unit": "%"}
    assert is_correct("numeric", spec, "25%")
    assert is_correct("numeric", spec, "25 %")
    assert is_correct("numeric", spec, "25")
    assert correct_answer_display("numeric", spec) == "25%"
    assert_invalid("numeric", {"value": 25}, "25%")


@pytest.mark.parametrize(
    "response", ["nan", "NaN", "inf", "-inf", "Infinity", "three", "1,000", "1e999", "0x10", "1/0", "3..5", "1_000"]
)
def test_numeric_malformed(response):
    message = assert_invalid("numeric", NUM, response)
    assert "number" in message.lower() or "zero" in message.lower() or "comma" in message.lower()


# --- fraction -----------------------------------------------------------------


@pytest.mark.parametrize("response", ["3/4", "6/8", "0.75", " 3 / 4 ", "75/100", ".75"])
def test_fraction_equivalent_on(response):
    assert is_correct("fraction", FRAC_EQ, response)


def test_fraction_equivalent_off_requires_simplest_form_but_grades_others():
    assert is_correct("fraction", FRAC_SIMPLEST, "3/4")
    unsimplified = check_answer("fraction", FRAC_SIMPLEST, "6/8")
    assert (unsimplified.correct, unsimplified.normalized) == (False, "6/8")
    assert "simplest" in unsimplified.feedback
    assert not is_correct("fraction", FRAC_SIMPLEST, "0.75")
    assert not is_correct("fraction", FRAC_SIMPLEST, "2/3")


def test_mixed_numbers():
    spec = {"value": "3/2", "equivalent": True}
    assert check_answer("fraction", spec, "1 1/2") == CheckResult(True, "1 1/2")
    assert is_correct("fraction", spec, "1½")
    assert is_correct("fraction", spec, "1.5")
    assert is_correct("fraction", {"value": "3/2", "equivalent": False}, "1 1/2")
    assert is_correct("fraction", {"value": "3/2", "equivalent": False}, "3/2")
    assert not is_correct("fraction", {"value": "3/2", "equivalent": False}, "1 2/4")
    assert is_correct("fraction", {"value": "-3/2"}, "-1 1/2")
    assert correct_answer_display("fraction", {"value": "1 1/2"}) == "1 1/2"


def test_fraction_whole_numbers():
    assert is_correct("fraction", {"value": "2", "equivalent": False}, "2")
    assert not is_correct("fraction", {"value": "2", "equivalent": False}, "4/2")
    assert is_correct("fraction", {"value": 2}, "4/2")


@pytest.mark.parametrize("response", ["3/0", "1 5/4", "three quarters", "3/4/5", "3/-4", "1e3", "x/4", "1 -1/2"])
def test_fraction_malformed(response):
    assert_invalid("fraction", FRAC_EQ, response)


# --- expression ---------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        "2*x + 3",
        "2x+3",
        "3 + 2x",
        "x + x + 3",
        "2(x + 1) + 1",
        "(4x + 6)/2",
        "2·x + 3",
        "2 × x + 3",
        "ｘ+ｘ+3",
        "2**1*x+3",
    ],
)
def test_expression_equivalent(response):
    assert is_correct("expression", EXPR, response)


@pytest.mark.parametrize("response", ["2x + 4", "x^2 + 3", "2x", "3x + 2", "2/x + 3", "(2x + 3)^2"])
def test_expression_not_equivalent(response):
    assert not is_correct("expression", EXPR, response)


def test_expression_normalized_makes_implicit_multiplication_explicit():
    assert check_answer("expression", EXPR, "2x+3").normalized == "2*x + 3"
    assert check_answer("expression", EXPR, "2x²+3").normalized == "2*x^2 + 3"


def test_expression_powers_and_several_variables():
    spec = {"value": "x^2 - y^2", "variables": ["x", "y"]}
    assert is_correct("expression", spec, "(x+y)(x-y)")
    assert is_correct("expression", spec, "(x-y)(y+x)")
    assert is_correct("expression", spec, "x²-y²")
    assert is_correct("expression", spec, "xx - yy")  # implicit multiplication of letters
    assert not is_correct("expression", spec, "(x-y)^2")
    assert is_correct("expression", {"value": "1/x", "variables": ["x"]}, "x^-1")
    assert is_correct("expression", {"value": "(x^2 - 1)/(x - 1)", "variables": ["x"]}, "x + 1")


def test_expression_expanded_form():
    spec = {"value": "3x + 6", "variables": ["x"], "form": "expanded"}
    assert is_correct("expression", spec, "6 + 3x")
    not_expanded = check_answer("expression", spec, "3(x + 2)")
    assert not not_expanded.correct and "expanded" in not_expanded.feedback
    not_collected = check_answer("expression", spec, "x + 2x + 6")
    assert not not_collected.correct and "like terms" in not_collected.feedback
    assert not is_correct("expression", spec, "-(-3x - 6)")
    assert is_correct("expression", {"value": "3x + 6", "variables": ["x"]}, "3(x + 2)")


HOSTILE = [
    "__import__('os').system('echo hacked')",
    "lambda: 1",
    "x.__class__",
    "exec('1')",
    "eval",
    "os.system",
    "x; import os",
    "x\x00",
    "x\u202e+1",  # bidi override
    "ｘ.__class__",
    "[x]",
    "{x}",
    "x == 2",
    "x & 1",
    "x" * 10_000,
    "(" * 5000 + "x" + ")" * 5000,
    "(" * 30 + "x" + ")" * 30,
    "-" * 60 + "x",
    "x^99999",
    "9^9^9",
    "(9^9)^9^9",
    "((2^10)^10)^10",
    "x^x",
    "x^(1/2)",
    "x^0.5",
    "1/0",
    "x/(x - x)",
    "0^-1",
    "2x^",
    "()",
    "(x",
    "x)",
    "2 3",
    "y + 1",
    "X + 1",
    "sin(x)",
    "pi*x",
    "E",
    "1e5",
    "\\frac{1}{2}",
    "x'",
    '"x"',
    "x # comment",
    "x\n+1;",
    "x^(" * 20 + "2" + ")" * 20,
    "x*" * 60 + "x",
    "(x+1)^10*(x+2)^10*(x+3)^10",
    "x⁹⁹⁹⁹⁹",
    "x⁻",
    "٣x",  # Arabic-Indic digit
    "𝟐x",  # mathematical bold digit: NFKC makes it 2x, which is fine, but must not crash
]


@pytest.mark.parametrize("response", HOSTILE)
def test_hostile_expression_input_never_crashes_or_executes(response, monkeypatch):
    import builtins

    def forbidden(*args, **kwargs):
        raise AssertionError("student text must never be evaluated")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    start = time.perf_counter()
    try:
        result = check_answer("expression", EXPR, response)
    except InvalidAnswer as exc:
        assert exc.message
    else:
        assert isinstance(result, CheckResult)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    "response",
    ["__import__('os')", "lambda: 1", "x.__class__", "x" * 10_000, "(" * 100 + "x" + ")" * 100, "9^9^9", "x^99999"],
)
def test_hostile_expression_input_is_invalid(response):
    assert_invalid("expression", EXPR, response)


def test_expression_messages_are_friendly():
    assert "x" in assert_invalid("expression", EXPR, "y + 1")
    assert "too long" in assert_invalid("expression", EXPR, "x+" * 150 + "x")
    assert "nested" in assert_invalid("expression", EXPR, "(" * 30 + "x" + ")" * 30)
    assert "Exponent" in assert_invalid("expression", EXPR, "x^99999")
    assert "zero" in assert_invalid("expression", EXPR, "1/0")


# --- text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        "photosynthesis",
        "  Photosynthesis. ",
        "PHOTOSYNTHESIS!",
        "photo   synthesis",
        "ｐｈｏｔｏｓｙｎｔｈｅｓｉｓ",
        "Photosynthesis?!",
    ],
)
def test_text_normalisation(response):
    assert is_correct("text", TEXT, response)


def test_text_wrong_and_normalized():
    result = check_answer("text", TEXT, "  Respiration. ")
    assert result == CheckResult(False, "respiration")


def test_text_case_sensitive():
    spec = {"accepted": ["NaCl"], "case_sensitive": True}
    assert is_correct("text", spec, "NaCl")
    assert not is_correct("text", spec, "nacl")


def test_text_only_punctuation_is_invalid():
    assert_invalid("text", TEXT, " ?! ")


# --- spec validation and display ---------------------------------------------------


@pytest.mark.parametrize(
    "item_type,spec,field",
    [
        ("multiple_choice", {"choices": ["a"], "correct": 0}, "choices"),
        ("multiple_choice", {"choices": ["a", "b"], "correct": 2}, "correct"),
        ("multiple_choice", {"choices": ["a", "b"], "correct": True}, "correct"),
        ("multiple_choice", {"choices": ["a", "A"], "correct": 0}, "choices[1]"),
        ("numeric", {"value": 1, "tolerance": -0.1}, "tolerance"),
        ("numeric", {"value": float("nan")}, "value"),
        ("numeric", {"value": "1e3"}, "value"),
        ("numeric", {"value": 1, "tolerence": 0.1}, "tolerence"),
        ("fraction", {"value": "3/0"}, "value"),
        ("fraction", {"value": 0.75}, "value"),
        ("fraction", {"value": "6/8", "equivalent": False}, "value"),
        ("fraction", {"value": "3/4", "equivalent": "yes"}, "equivalent"),
        ("expression", {"value": "2*x + 3"}, "variables"),
        ("expression", {"value": "2*y", "variables": ["x"]}, "value"),
        ("expression", {"value": "2*x", "variables": ["x_1"]}, "variables[0]"),
        ("expression", {"value": "2*x", "variables": ["x"], "form": "factorised"}, "form"),
        ("text", {"accepted": []}, "accepted"),
        ("text", {"accepted": [False]}, "accepted[0]"),
        ("text", {"accepted": ["a"], "case_sensitive": "no"}, "case_sensitive"),
    ],
)
def test_validate_answer_spec_names_field(item_type, spec, field):
    problems = validate_answer_spec(item_type, spec)
    assert field in [f for f, _ in problems], problems


def test_validate_answer_spec_ok_and_bad_type():
    for item_type, spec in [
        ("multiple_choice", MC),
        ("numeric", NUM),
        ("fraction", FRAC_EQ),
        ("expression", EXPR),
        ("text", TEXT),
    ]:
        assert validate_answer_spec(item_type, spec) == []
    assert validate_answer_spec("essay", {})[0][0] == ""
    assert validate_answer_spec("numeric", [1, 2])[0][0] == ""


def test_correct_answer_display():
    assert correct_answer_display("multiple_choice", MC) == "Rome"
    assert correct_answer_display("numeric", NUM) == "3.5 (± 0.1)"
    assert correct_answer_display("numeric", {"value": 1000.0}) == "1000"
    assert correct_answer_display("fraction", FRAC_EQ) == "3/4"
    assert correct_answer_display("expression", EXPR) == "2x + 3"
    assert correct_answer_display("text", TEXT) == "photosynthesis"
