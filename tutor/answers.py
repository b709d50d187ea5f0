"""Answer checking for Metis item types.

Pure Python (no Django). The public API is:

* ``ITEM_TYPES`` – the supported item types.
* ``check_answer(item_type, answer_spec, response) -> CheckResult``
* ``validate_answer_spec(item_type, spec) -> list[(field, message)]``
* ``correct_answer_display(item_type, spec) -> str``
* ``InvalidAnswer`` – the student's input could not be interpreted; it is *not*
  graded and ``.message`` is a short, friendly message to show them.

Student text is never evaluated. Expressions are tokenised and parsed by a small
recursive-descent parser in this module that builds sympy objects directly, with
bounds on length, nesting depth, exponents, degree and number size.
See ``docs/content-format.md`` for what each checker accepts.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

__all__ = [
    "ITEM_TYPES",
    "CheckResult",
    "InvalidAnswer",
    "check_answer",
    "correct_answer_display",
    "response_display",
    "validate_answer_spec",
]

ITEM_TYPES = ("multiple_choice", "numeric", "fraction", "expression", "text")

MAX_RESPONSE_LENGTH = 500  # any item type
MAX_NUMBER_LENGTH = 40  # numeric / fraction responses
MAX_EXPRESSION_LENGTH = 200
MAX_NESTING = 20  # brackets + unary signs + exponents, combined
MAX_EXPONENT = 10  # |n| in x^n
MAX_DEGREE = 24  # upper bound on the degree of the parsed rational function
MAX_CONSTANT_BITS = 1024  # numerator/denominator size of a constant power
MAX_VARIABLES = 4
_CANCEL_DEGREE_LIMIT = 12  # above this, only the exact spot check is used
_SPOT_CHECK_POINTS = 8
_SPOT_CHECK_SEED = 20_240_601  # fixed so that grading is reproducible


class InvalidAnswer(ValueError):
    """The response cannot be interpreted; ask the student again."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckResult:
    correct: bool
    #: The response in canonical form; for multiple choice, the chosen option itself (never its position).
    normalized: str
    #: Optional extra feedback, e.g. "Equal value, but not in simplest form."
    feedback: str = ""


# --------------------------------------------------------------------------
# Shared normalisation helpers
# --------------------------------------------------------------------------

_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4",
    "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "⁻": "-",
}  # fmt: skip
_CHAR_MAP = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u2010": "-",
    "\u2011": "-",
    "\u00d7": "*",  # multiplication sign
    "\u00b7": "*",  # middle dot
    "\u22c5": "*",  # dot operator
    "\u2217": "*",
    "\u00f7": "/",  # division sign
    "\u2044": "/",  # fraction slash
    "\u2215": "/",  # division slash
}
_TRAILING_PUNCTUATION = ".,;:!?"


def _require_text(response: Any) -> str:
    if not isinstance(response, str) or not response.strip():
        raise InvalidAnswer("Enter an answer.")
    if len(response) > MAX_RESPONSE_LENGTH:
        raise InvalidAnswer("That answer is too long.")
    return response


def _normalize_symbols(text: str) -> str:
    """NFKC-normalise maths input without letting NFKC change its meaning.

    Superscript digits become ``^n`` (NFKC would turn ``x²`` into ``x2``) and
    vulgar fractions such as ``½`` become `` 1/2`` (so ``1½`` is ``1 1/2``).
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _SUPERSCRIPTS:
            j = i
            while j < len(text) and text[j] in _SUPERSCRIPTS:
                j += 1
            power = "".join(_SUPERSCRIPTS[c] for c in text[i:j])
            out.append("^" + power if power.isdigit() else "^(" + power + ")")
            i = j
            continue
        decomposed = unicodedata.normalize("NFKC", ch)
        if "\u2044" in decomposed and len(decomposed) > 1:
            out.append(" " + decomposed + " ")
        else:
            out.append(ch)
        i += 1
    text = unicodedata.normalize("NFKC", "".join(out))
    return "".join(_CHAR_MAP.get(c, c) for c in text)


def _collapse_spaces(text: str) -> str:
    return " ".join(text.split())


def _describe_char(ch: str) -> str:
    if ch.isprintable() and not ch.isspace():
        return f"“{ch}”"
    return f"U+{ord(ch):04X}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _to_fraction(value: int | float) -> Fraction:
    # repr() gives the shortest decimal that round-trips, so 0.1 -> 1/10 exactly.
    return Fraction(value) if isinstance(value, int) else Fraction(repr(value))


def _format_fraction_value(value: Fraction) -> str:
    """Exact decimal if it terminates (``3.5``), otherwise ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * (10**places) // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    text = f"{digits[:-places]}.{digits[-places:]}".rstrip("0").rstrip(".")
    return ("-" if value < 0 else "") + text


# --------------------------------------------------------------------------
# Numbers (numeric items)
# --------------------------------------------------------------------------

_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_COMMA_DECIMAL_RE = re.compile(r"([+-]?\d*),(\d+)")
_AMBIGUOUS_COMMA_RE = re.compile(r"[+-]?\d{1,3},\d{3}")
_SIMPLE_FRACTION_RE = re.compile(r"([+-]?\d{1,12})\s*/\s*(\d{1,12})")
_VARIABLE_PREFIX_RE = re.compile(r"[A-Za-z]\s*=\s*(.*)")
_MAX_DECIMAL_EXPONENT = 100

_NUMBER_HELP = "Enter a number such as 3.5"


def _parse_number(text: str, unit: str = "") -> Fraction:
    """Parse a student's number exactly. Raises InvalidAnswer."""
    text = _collapse_spaces(_normalize_symbols(text))
    prefix = _VARIABLE_PREFIX_RE.fullmatch(text)
    if prefix:  # "x = 3"
        text = prefix.group(1)
    if unit and text.endswith(unit):
        text = text[: -len(unit)].rstrip()
    if not text:
        raise InvalidAnswer(_NUMBER_HELP + ".")
    if len(text) > MAX_NUMBER_LENGTH:
        raise InvalidAnswer("That number is too long.")
    text = text.replace(" ", "") if re.fullmatch(r"[+-]\s\d.*", text) else text
    if _DECIMAL_RE.fullmatch(text):
        mantissa, _, exponent = text.lower().partition("e")
        if exponent and abs(int(exponent)) > _MAX_DECIMAL_EXPONENT:
            raise InvalidAnswer("That number is too large.")
        return Fraction(text)
    fraction = _SIMPLE_FRACTION_RE.fullmatch(text)
    if fraction:
        if int(fraction.group(2)) == 0:
            raise InvalidAnswer("You can't divide by zero.")
        return Fraction(int(fraction.group(1)), int(fraction.group(2)))
    if text.count(",") == 1 and "." not in text:
        if _AMBIGUOUS_COMMA_RE.fullmatch(text):
            raise InvalidAnswer(
                "Write the number without a thousands comma (for example 1000), or use a decimal point."
            )
        match = _COMMA_DECIMAL_RE.fullmatch(text)
        if match:
            return Fraction(f"{match.group(1) or '0'}.{match.group(2)}".replace("-.", "-0."))
    lowered = text.lower().lstrip("+-")
    if lowered in {"nan", "inf", "infinity", "∞"}:
        raise InvalidAnswer(_NUMBER_HELP + " (not infinity or NaN).")
    raise InvalidAnswer(_NUMBER_HELP + ".")


# --------------------------------------------------------------------------
# Fractions (fraction items)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ParsedFraction:
    value: Fraction
    form: str  # "integer" | "fraction" | "mixed" | "decimal"
    text: str  # canonical spelling of what was entered
    lowest_terms: bool


_INT_RE = re.compile(r"([+-]?)(\d{1,12})")
_FRAC_RE = re.compile(r"([+-]?)(\d{1,12})/(\d{1,12})")
_MIXED_RE = re.compile(r"([+-]?)(\d{1,12}) (\d{1,12})/(\d{1,12})")
_FRAC_DECIMAL_RE = re.compile(r"([+-]?)(\d{0,12}\.\d{1,12}|\d{1,12}\.)")
_FRACTION_HELP = "Enter a fraction such as 3/4 (or a mixed number such as 1 1/2)."


def _parse_fraction(text: str, *, allow_decimal: bool = True) -> _ParsedFraction:
    text = _collapse_spaces(_normalize_symbols(text))
    text = re.sub(r"\s*/\s*", "/", text)
    text = re.sub(r"^([+-])\s+", r"\1", text)
    if len(text) > MAX_NUMBER_LENGTH:
        raise InvalidAnswer("That answer is too long.")
    sign_text = ""
    if m := _INT_RE.fullmatch(text):
        sign_text, whole = m.group(1), int(m.group(2))
        value = Fraction(whole)
        parsed = _ParsedFraction(value, "integer", str(whole), True)
    elif m := _FRAC_RE.fullmatch(text):
        sign_text, num, den = m.group(1), int(m.group(2)), int(m.group(3))
        if den == 0:
            raise InvalidAnswer("The bottom of a fraction can't be 0.")
        parsed = _ParsedFraction(Fraction(num, den), "fraction", f"{num}/{den}", math.gcd(num, den) == 1 and den != 1)
    elif m := _MIXED_RE.fullmatch(text):
        sign_text, whole, num, den = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        if den == 0:
            raise InvalidAnswer("The bottom of a fraction can't be 0.")
        if num == 0 or num >= den:
            raise InvalidAnswer("In a mixed number the fraction part must be less than 1, e.g. 1 1/2.")
        parsed = _ParsedFraction(
            whole + Fraction(num, den),
            "mixed",
            f"{whole} {num}/{den}",
            math.gcd(num, den) == 1 and whole > 0,
        )
    elif allow_decimal and (m := _FRAC_DECIMAL_RE.fullmatch(text)):
        sign_text, digits = m.group(1), m.group(2)
        value = Fraction(digits if not digits.startswith(".") else "0" + digits)
        parsed = _ParsedFraction(value, "decimal", _format_fraction_value(value), False)
    else:
        raise InvalidAnswer(_FRACTION_HELP)
    if sign_text == "-" and parsed.value != 0:
        return _ParsedFraction(-parsed.value, parsed.form, "-" + parsed.text, parsed.lowest_terms)
    return parsed


def _spec_fraction(value: Any) -> _ParsedFraction:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('must be a fraction written as text, e.g. "3/4", or a whole number')
    try:
        return _parse_fraction(str(value), allow_decimal=False)
    except InvalidAnswer as exc:
        raise ValueError(f'cannot read fraction "{value}": {exc.message}') from None


# --------------------------------------------------------------------------
# Expressions (expression items)
# --------------------------------------------------------------------------

_NAME_RE = re.compile(r"[A-Za-z]{1,10}")
_NUMBER_TOKEN_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_OPERATORS = set("+-*/^()")


@dataclass(frozen=True)
class _Token:
    kind: str  # "num" | "name" | "op"
    text: str
    pos: int


@dataclass(frozen=True)
class _Node:
    expr: sympy.Expr
    degree: int  # upper bound on the degree of the rational function
    text: str  # canonical spelling
    kind: str  # "atom" | "sum" | "product" | "power" | "neg" | "group_sum"
    terms: int = 1  # number of top-level additive terms


def _tokenize(text: str, variables: tuple[str, ...]) -> list[_Token]:
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InvalidAnswer(f"That expression is too long (at most {MAX_EXPRESSION_LENGTH} characters).")
    text = _normalize_symbols(text)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InvalidAnswer(f"That expression is too long (at most {MAX_EXPRESSION_LENGTH} characters).")
    text = text.replace("**", "^")
    allowed = " or ".join(variables) if variables else "no letters"
    by_length = sorted(variables, key=len, reverse=True)
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in _OPERATORS:
            tokens.append(_Token("op", ch, i))
            i += 1
        elif ch in "0123456789.":
            m = _NUMBER_TOKEN_RE.match(text, i)
            if not m:
                raise InvalidAnswer("A decimal point must be followed by digits, e.g. 0.5.")
            if len(m.group()) > 20:
                raise InvalidAnswer("That number is too long.")
            tokens.append(_Token("num", m.group(), i))
            i = m.end()
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < len(text) and text[j].isascii() and text[j].isalpha():
                j += 1
            run = text[i:j]
            k = 0
            while k < len(run):  # split "xy" into x*y when both are variables
                name = next((v for v in by_length if run.startswith(v, k)), None)
                if name is None:
                    shown = run if len(run) <= 15 else run[:15] + "…"
                    raise InvalidAnswer(f"“{shown}” isn't allowed here. The only letters you can use are {allowed}.")
                tokens.append(_Token("name", name, i + k))
                k += len(name)
            i = j
        else:
            raise InvalidAnswer(f"The symbol {_describe_char(ch)} can't be used in an expression.")
    if not tokens:
        raise InvalidAnswer("Enter an expression.")
    return tokens


class _Parser:
    """Recursive-descent parser building sympy objects directly.

    Grammar::

        expr    := term (("+" | "-") term)*
        term    := unary (("*" | "/") unary | <implicit> power)*
        unary   := ("+" | "-") unary | power
        power   := atom ("^" unary)?            # right associative
        atom    := NUMBER | NAME | "(" expr ")"

    Implicit multiplication applies before a name or "(" (``2x``, ``3(x+1)``,
    ``(x+1)(x-1)``, ``xy``).
    """

    def __init__(self, tokens: list[_Token], symbols: dict[str, sympy.Symbol]):
        self.tokens = tokens
        self.symbols = symbols
        self.pos = 0
        self.depth = 0
        self.unexpanded = False  # a bracketed sum was multiplied/raised/negated

    # -- helpers --
    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _peek_op(self, ops: str) -> bool:
        tok = self._peek()
        return tok is not None and tok.kind == "op" and tok.text in ops

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise InvalidAnswer("That expression is nested too deeply.")

    def _check_degree(self, degree: int) -> int:
        if degree > MAX_DEGREE:
            raise InvalidAnswer("That expression is too complicated to check. Try simplifying it.")
        return degree

    def parse(self) -> _Node:
        node = self._expr()
        tok = self._peek()
        if tok is not None:
            if tok.text == ")":
                raise InvalidAnswer("There is a “)” without a matching “(”.")
            raise InvalidAnswer(f"Put an operator such as * or + before “{tok.text}”.")
        return node

    # -- grammar --
    def _expr(self) -> _Node:
        node = self._term()
        if self._peek_op("+-"):
            parts, expr, degree, terms = [node.text], node.expr, node.degree, node.terms
            while self._peek_op("+-"):
                op = self.tokens[self.pos].text
                self.pos += 1
                rhs = self._term()
                expr = sympy.Add(expr, rhs.expr if op == "+" else -rhs.expr)
                degree = max(degree, rhs.degree)
                terms += rhs.terms if rhs.kind == "sum" else 1
                parts.append(f"{op} {rhs.text}")
            node = _Node(expr, degree, " ".join(parts), "sum", terms)
        return node

    def _multiplicand(self, node: _Node) -> None:
        if node.kind == "group_sum":
            self.unexpanded = True

    def _term(self) -> _Node:
        node = self._unary()
        nxt = self._peek()
        if not (self._peek_op("*/(") or (nxt is not None and nxt.kind in ("name", "num"))):
            return node
        expr, degree, text = node.expr, node.degree, node.text
        self._multiplicand(node)
        while True:
            tok = self._peek()
            if tok is None:
                break
            if tok.kind == "op" and tok.text in "*/":
                self.pos += 1
                if self._peek() is None:
                    raise InvalidAnswer(f"Something is missing after “{tok.text}”.")
                rhs = self._unary()
                if tok.text == "*":
                    self._multiplicand(rhs)
                    expr = sympy.Mul(expr, rhs.expr)
                else:
                    if rhs.expr.is_zero:
                        raise InvalidAnswer("You can't divide by zero.")
                    expr = sympy.Mul(expr, sympy.Pow(rhs.expr, -1))
                text = f"{text}{tok.text}{rhs.text}"
            elif tok.kind == "name" or (tok.kind == "op" and tok.text == "("):
                rhs = self._power()
                self._multiplicand(rhs)
                expr = sympy.Mul(expr, rhs.expr)
                text = f"{text}*{rhs.text}"
            elif tok.kind == "num":
                raise InvalidAnswer(f"Put an operator such as * or + before “{tok.text}”.")
            else:
                break
            degree = self._check_degree(degree + rhs.degree)
        return _Node(expr, degree, text, "product")

    def _unary(self) -> _Node:
        if self._peek_op("+-"):
            op = self.tokens[self.pos].text
            self.pos += 1
            self._enter()
            operand = self._unary()
            self.depth -= 1
            if op == "+":
                return _Node(operand.expr, operand.degree, "+" + operand.text, operand.kind, operand.terms)
            self._multiplicand(operand)
            return _Node(-operand.expr, operand.degree, "-" + operand.text, "neg")
        return self._power()

    def _power(self) -> _Node:
        base = self._atom()
        if not self._peek_op("^"):
            return base
        self.pos += 1
        self._enter()
        if self._peek() is None:
            raise InvalidAnswer("Something is missing after “^”.")
        exponent = self._unary()
        self.depth -= 1
        exp = exponent.expr
        if exponent.degree != 0 or not exp.is_Integer:
            raise InvalidAnswer("Exponents must be whole numbers, e.g. x^2.")
        n = int(exp)
        if abs(n) > MAX_EXPONENT:
            raise InvalidAnswer(f"Exponents can be at most {MAX_EXPONENT}.")
        b = base.expr
        if b.is_zero and n < 0:
            raise InvalidAnswer("You can't divide by zero.")
        if b.is_Rational:
            bits = max(abs(b.p).bit_length(), b.q.bit_length()) * abs(n)
            if bits > MAX_CONSTANT_BITS:
                raise InvalidAnswer("That number is too large.")
        self._multiplicand(base)
        degree = self._check_degree(base.degree * abs(n))
        return _Node(sympy.Pow(b, n), degree, f"{base.text}^{exponent.text}", "power")

    def _atom(self) -> _Node:
        tok = self._peek()
        if tok is None:
            raise InvalidAnswer("The expression ends too early.")
        if tok.kind == "num":
            self.pos += 1
            return _Node(sympy.Rational(tok.text), 0, tok.text, "atom")
        if tok.kind == "name":
            self.pos += 1
            return _Node(self.symbols[tok.text], 1, tok.text, "atom")
        if tok.text == "(":
            self.pos += 1
            self._enter()
            if self._peek_op(")"):
                raise InvalidAnswer("There is nothing inside “( )”.")
            inner = self._expr()
            if not self._peek_op(")"):
                raise InvalidAnswer("A “(” is missing its “)”.")
            self.pos += 1
            self.depth -= 1
            kind = "group_sum" if inner.kind in ("sum", "group_sum") else "atom"
            return _Node(inner.expr, inner.degree, f"({inner.text})", kind, inner.terms)
        if tok.text == ")":
            raise InvalidAnswer("There is a “)” without a matching “(”.")
        raise InvalidAnswer(f"Something is missing before “{tok.text}”.")


def _parse_expression(text: str, variables: tuple[str, ...]) -> tuple[_Node, bool]:
    """Return (node, unexpanded). Raises InvalidAnswer; never evaluates text."""
    symbols = {name: sympy.Symbol(name) for name in variables}
    parser = _Parser(_tokenize(text, variables), symbols)
    node = parser.parse()
    return node, parser.unexpanded


def _spot_check(diff: sympy.Expr, symbols: list[sympy.Symbol]) -> bool | None:
    """Exact evaluation of ``diff`` at pseudo-random rational points.

    Returns False if any point gives a non-zero value, True if enough points
    give zero, None if too few points were defined.
    """
    rng = random.Random(_SPOT_CHECK_SEED)
    defined = 0
    for _ in range(_SPOT_CHECK_POINTS * 3):
        point = {s: sympy.Rational(rng.randint(-997, 997), rng.randint(1, 89)) for s in symbols}
        value = diff.xreplace(point)
        if not value.is_Rational:  # zoo / nan: the point is outside the domain
            continue
        if value != 0:
            return False
        defined += 1
        if defined >= _SPOT_CHECK_POINTS:
            return True
    return None if defined < 3 else True


def _expressions_equivalent(a: _Node, b: _Node, variables: tuple[str, ...]) -> bool:
    diff = a.expr - b.expr
    if diff == 0:
        return True
    symbols = [sympy.Symbol(v) for v in variables]
    spot = _spot_check(diff, symbols)
    if spot is False:
        return False
    limit = _CANCEL_DEGREE_LIMIT if len(variables) <= 2 else _CANCEL_DEGREE_LIMIT // 2
    if max(a.degree, b.degree) <= limit:
        # Our grammar only builds rational functions, for which cancel() is an
        # exact (and bounded) form of simplify(a - b) == 0.
        return sympy.cancel(sympy.together(diff)) == 0
    return bool(spot)


def _expression_variables(spec: dict) -> tuple[str, ...]:
    return tuple(spec.get("variables", ()))


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------


def normalize_text(text: str, *, case_sensitive: bool = False) -> str:
    """NFKC, trim, collapse whitespace, strip trailing punctuation, casefold."""
    text = _collapse_spaces(unicodedata.normalize("NFKC", text))
    text = text.rstrip(_TRAILING_PUNCTUATION + " ")
    return text if case_sensitive else text.casefold()


# --------------------------------------------------------------------------
# Spec validation
# --------------------------------------------------------------------------

_SPEC_FIELDS = {
    "multiple_choice": ({"choices", "correct"}, set()),
    "numeric": ({"value"}, {"tolerance", "unit"}),
    "fraction": ({"value"}, {"equivalent"}),
    "expression": ({"value", "variables"}, {"form"}),
    "text": ({"accepted"}, {"case_sensitive"}),
}
EXPRESSION_FORMS = ("any", "expanded")


def validate_answer_spec(item_type: str, spec: Any) -> list[tuple[str, str]]:
    """Return ``(field, message)`` problems with an answer spec (empty if valid).

    ``field`` is relative to the spec (``"tolerance"``, ``"choices[2]"``); an
    empty field means the spec as a whole.
    """
    if item_type not in ITEM_TYPES:
        return [("", f'unknown item type "{item_type}" (expected one of: {", ".join(ITEM_TYPES)})')]
    if not isinstance(spec, dict):
        return [("", "must be a mapping of answer fields")]
    required, optional = _SPEC_FIELDS[item_type]
    problems: list[tuple[str, str]] = []
    for key in sorted(required - spec.keys()):
        problems.append((key, "is required"))
    for key in sorted(set(spec) - required - optional, key=str):
        problems.append(
            (str(key), f"unknown field for {item_type} answers (allowed: {', '.join(sorted(required | optional))})")
        )
    validator = globals()[f"_validate_{item_type}"]
    problems.extend(validator(spec))
    return problems


def _validate_multiple_choice(spec: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    choices = spec.get("choices")
    if "choices" in spec:
        if not isinstance(choices, list) or len(choices) < 2:
            problems.append(("choices", "must be a list of at least 2 choices"))
            choices = None
        else:
            seen: dict[str, int] = {}
            for i, choice in enumerate(choices):
                if not isinstance(choice, str) or not choice.strip():
                    problems.append((f"choices[{i}]", "must be non-empty text"))
                    continue
                key = normalize_text(choice)
                if key in seen:
                    problems.append((f"choices[{i}]", f"duplicates choices[{seen[key]}]"))
                seen.setdefault(key, i)
    if "correct" in spec:
        correct = spec["correct"]
        if isinstance(correct, bool) or not isinstance(correct, int):
            problems.append(("correct", "must be the index (0-based whole number) of the correct choice"))
        elif isinstance(choices, list) and not 0 <= correct < len(choices):
            problems.append(("correct", f"must be between 0 and {len(choices) - 1}"))
    return problems


def _validate_numeric(spec: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if "value" in spec and not _is_number(spec["value"]):
        hint = " (YAML reads 1e3 as text: write 1000 or 1.0e+3)" if _looks_numeric(spec["value"]) else ""
        problems.append(("value", "must be a finite number" + hint))
    if "tolerance" in spec:
        tol = spec["tolerance"]
        if not _is_number(tol) or tol < 0:
            problems.append(("tolerance", "must be a number >= 0"))
    if "unit" in spec:
        unit = spec["unit"]
        if not isinstance(unit, str) or not unit.strip() or len(unit) > 20 or unit != unit.strip():
            problems.append(("unit", 'must be short text without surrounding spaces, e.g. "%" or "cm"'))
    return problems


def _looks_numeric(value: Any) -> bool:
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False


def _validate_fraction(spec: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    equivalent = spec.get("equivalent", True)
    if not isinstance(equivalent, bool):
        problems.append(("equivalent", "must be true or false"))
        equivalent = True
    if "value" in spec:
        try:
            parsed = _spec_fraction(spec["value"])
        except ValueError as exc:
            problems.append(("value", str(exc)))
        else:
            if not equivalent and not parsed.lowest_terms:
                problems.append(("value", "must be in simplest form when equivalent is false"))
    return problems


def _validate_expression(spec: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    variables = spec.get("variables")
    variables_ok = False
    if "variables" in spec:
        if not isinstance(variables, list) or len(variables) > MAX_VARIABLES:
            problems.append(("variables", f"must be a list of at most {MAX_VARIABLES} variable names"))
        else:
            variables_ok = True
            for i, name in enumerate(variables):
                if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
                    problems.append((f"variables[{i}]", "must be a name made of 1-10 ASCII letters, e.g. x"))
                    variables_ok = False
            if variables_ok and len(set(variables)) != len(variables):
                problems.append(("variables", "must not repeat a name"))
                variables_ok = False
    if "form" in spec and spec["form"] not in EXPRESSION_FORMS:
        problems.append(("form", f"must be one of: {', '.join(EXPRESSION_FORMS)}"))
    if "value" in spec:
        value = spec["value"]
        if _is_number(value) and not isinstance(value, float):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            problems.append(("value", 'must be an expression written as text, e.g. "2*x + 3"'))
        elif variables_ok:
            try:
                _parse_expression(value, tuple(variables or ()))
            except InvalidAnswer as exc:
                problems.append(("value", f'cannot read expression "{value}": {exc.message}'))
    return problems


def _validate_text(spec: dict) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if "case_sensitive" in spec and not isinstance(spec["case_sensitive"], bool):
        problems.append(("case_sensitive", "must be true or false"))
    if "accepted" in spec:
        accepted = spec["accepted"]
        if not isinstance(accepted, list) or not accepted:
            problems.append(("accepted", "must be a non-empty list of accepted answers"))
        else:
            for i, answer in enumerate(accepted):
                if not isinstance(answer, str) or not normalize_text(answer):
                    hint = " (in YAML, quote words like yes/no/on/off)" if isinstance(answer, bool) else ""
                    problems.append((f"accepted[{i}]", "must be non-empty text" + hint))
    return problems


def _require_valid(item_type: str, spec: Any) -> None:
    problems = validate_answer_spec(item_type, spec)
    if problems:
        detail = "; ".join(f"{field or 'answer'}: {msg}" for field, msg in problems)
        raise ValueError(f"invalid {item_type} answer spec: {detail}")


# --------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------


def check_answer(item_type: str, answer_spec: dict, response: str) -> CheckResult:
    """Grade ``response`` (for multiple choice: an option's 0-based position or its text).

    Raises InvalidAnswer if the response cannot be interpreted (do not grade;
    show ``exc.message``) and ValueError if the spec itself is invalid.
    """
    _require_valid(item_type, answer_spec)
    response = _require_text(response)
    return globals()[f"_check_{item_type}"](answer_spec, response)


def _check_multiple_choice(spec: dict, response: str) -> CheckResult:
    # The option's text wins over its position: with options "-11", "-2", "5", "6", "6" is the fourth
    # option, never position 6. Options are unique after normalisation (validate_answer_spec), so a
    # text match is unambiguous; a bare position is accepted only when no option reads that way.
    choices = spec["choices"]
    text = response.strip()
    wanted = normalize_text(text)
    matches = [i for i, c in enumerate(choices) if normalize_text(c) == wanted]
    if matches:
        index = matches[0]
    elif text.isascii() and text.isdigit() and len(text) < 6 and int(text) < len(choices):
        index = int(text)
    else:
        raise InvalidAnswer("Choose one of the options.")
    return CheckResult(index == spec["correct"], choices[index])


def _check_numeric(spec: dict, response: str) -> CheckResult:
    value = _parse_number(response, spec.get("unit", ""))
    target = _to_fraction(spec["value"])
    tolerance = _to_fraction(spec.get("tolerance", 0))
    return CheckResult(abs(value - target) <= tolerance, _format_fraction_value(value))


def _check_fraction(spec: dict, response: str) -> CheckResult:
    target = _spec_fraction(spec["value"]).value
    parsed = _parse_fraction(response)
    if parsed.value != target:
        return CheckResult(False, parsed.text)
    if spec.get("equivalent", True):
        return CheckResult(True, parsed.text)
    if parsed.form == "decimal":
        return CheckResult(False, parsed.text, "Right value, but write it as a fraction.")
    if not parsed.lowest_terms:
        return CheckResult(False, parsed.text, "Right value, but it is not in simplest form.")
    return CheckResult(True, parsed.text)


def _check_expression(spec: dict, response: str) -> CheckResult:
    variables = _expression_variables(spec)
    expected, _ = _parse_expression(str(spec["value"]), variables)
    node, unexpanded = _parse_expression(response, variables)
    if not _expressions_equivalent(node, expected, variables):
        return CheckResult(False, node.text)
    if spec.get("form", "any") == "expanded":
        expected_terms = len(sympy.Add.make_args(sympy.expand(expected.expr)))
        if unexpanded:
            return CheckResult(False, node.text, "Equivalent, but the brackets are not expanded.")
        if node.terms > expected_terms:
            return CheckResult(False, node.text, "Equivalent, but collect the like terms.")
    return CheckResult(True, node.text)


def _check_text(spec: dict, response: str) -> CheckResult:
    case_sensitive = spec.get("case_sensitive", False)
    given = normalize_text(response, case_sensitive=case_sensitive)
    if not given:
        raise InvalidAnswer("Enter an answer.")
    accepted = {normalize_text(a, case_sensitive=case_sensitive) for a in spec["accepted"]}
    return CheckResult(given in accepted, given)


# --------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------


def response_display(item_type: str, result: CheckResult, response: str) -> str:
    """What the student answered, as stored and shown back to them: a multiple-choice option's text
    (the form sends its position), otherwise the response as typed."""
    return result.normalized if item_type == "multiple_choice" else response.strip()


def correct_answer_display(item_type: str, spec: dict) -> str:
    """Human-readable correct answer for feedback. ValueError on a bad spec."""
    _require_valid(item_type, spec)
    if item_type == "multiple_choice":
        return spec["choices"][spec["correct"]]
    if item_type == "numeric":
        text = _format_fraction_value(_to_fraction(spec["value"])) + spec.get("unit", "")
        tolerance = spec.get("tolerance", 0)
        if tolerance:
            text += f" (± {_format_fraction_value(_to_fraction(tolerance))})"
        return text
    if item_type == "fraction":
        return _spec_fraction(spec["value"]).text
    if item_type == "expression":
        return re.sub(r"(\d)\*(?=[A-Za-z(])", r"\1", _collapse_spaces(str(spec["value"])))
    return spec["accepted"][0].strip()
