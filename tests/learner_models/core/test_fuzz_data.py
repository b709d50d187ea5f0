"""Fuzzing the knowledge-tracing readers (hypothesis): a malformed file gets KTFormatError naming the file
and line, never a crash from deeper down (a decode error, an integer overflow in NumPy, an IndexError)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from learner_models.core.data import KTFormatError, StudentSequence, read_sequences

FORMATS = ["auto", "dkvmn", "akt", "long"]

# Tokens near the real formats, so the fuzzer gets past the first line and into the per-field checks.
_TOKENS = st.sampled_from(
    ["0", "1", "2", "-1", "3", "x", "", " ", "9" * 25, "9" * 5000, "1e3", "nan", "inf", "0.5", "1_0", "٣", "²", "s1"]
)
_LINE = st.lists(_TOKENS, max_size=6).map(",".join)
_HEADER = st.lists(
    st.sampled_from(["student", "skill", "correct", "item", "timestamp", "confidence", "response_time", "hints", "zz"]),
    min_size=1,
    max_size=8,
).map(",".join)
_NEAR_VALID = st.tuples(st.one_of(_HEADER, _LINE), st.lists(_LINE, max_size=12)).map(
    lambda t: "\n".join([t[0], *t[1]]) + "\n"
)
_CONTENT = st.one_of(
    _NEAR_VALID.map(str.encode),
    st.text(max_size=400).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=400),
)


def _read(tmp: Path, content: bytes, fmt: str) -> None:
    path = tmp / "data.csv"
    path.write_bytes(content)
    try:
        sequences = read_sequences(path, fmt)
    except KTFormatError as exc:
        assert exc.path == str(path) and exc.line >= 1 and exc.problem
        assert str(path) in str(exc)
    else:
        assert sequences and all(isinstance(s, StudentSequence) and len(s) > 0 for s in sequences)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_CONTENT, fmt=st.sampled_from(FORMATS))
@example(content=b"3\n1,2,3\n1,0,1\n", fmt="auto")
@example(content=b"1\n99999999999999999999\n1\n", fmt="dkvmn")
@example(content=b"1,s1\n99999999999999999999\n1\n1\n", fmt="akt")
@example(content=b"student,skill,correct\ns1,99999999999999999999,1\n", fmt="long")
@example(content=b"\xff\xfe\x00garbage", fmt="auto")
@example(content=b"student,skill,correct\n\xff,1,1\n", fmt="long")
def test_a_malformed_file_is_refused_naming_file_and_line(tmp_path_factory, content, fmt):
    _read(tmp_path_factory.mktemp("kt"), content, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_file_is_refused(tmp_path, fmt):
    _read(tmp_path, b"", fmt)
