"""Fuzzing the content import (hypothesis): a malformed file gets ContentError / a CommandError listing its
problems, and nothing of it is imported, not even the valid part before the fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from tutor import content as content_service
from tutor.content_format import ContentError, ContentSpec, parse_content
from tutor.models import Course, Item, Skill

DEMO = (Path(__file__).resolve().parents[2] / "content" / "demo-authored.yaml").read_text(encoding="utf-8")
LINES = DEMO.splitlines()


def _parse(text: str) -> None:
    try:
        spec = parse_content(text, filename="fuzz.yaml")
    except ContentError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
    else:
        assert isinstance(spec, ContentSpec)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=500))
def test_any_text_is_parsed_or_refused_with_a_list_of_problems(text):
    _parse(text)


_LINE = st.sampled_from(
    [
        "",
        "  - slug: x",
        "    type: expression",
        "    answer: {value: '9^9^9', variables: [x]}",
        "    answer: {value: '(((((((((((((((((((((((x', variables: [x]}",
        "    answer: [1, 2]",
        "    prerequisites: [expand-brackets]",
        "skills: 3",
        "items: {}",
        "&a [*a, *a, *a]",
        "x: !!python/object/apply:os.system ['true']",
        "    difficulty: .nan",
        "    hints: ~",
        "\t- tab",
        "format: metis-content/2",
        "course: {slug: 'Bad Slug', title: ''}",
        "  - slug: authored-simplify-12-18",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    cut=st.integers(0, len(LINES)),
    drop=st.sets(st.integers(0, len(LINES) - 1), max_size=3),
    inserts=st.lists(st.tuples(st.integers(0, len(LINES)), _LINE), max_size=3),
)
def test_a_damaged_course_file_is_parsed_or_refused_with_a_list_of_problems(cut, drop, inserts):
    lines = [ln for n, ln in enumerate(LINES) if n not in drop][:cut]
    for at, line in inserts:
        lines.insert(min(at, len(lines)), line)
    _parse("\n".join(lines) + "\n")


def _counts() -> tuple[int, int, int]:
    return Course.objects.count(), Skill.objects.count(), Item.objects.count()


BROKEN = {
    "cut mid-item": "\n".join(LINES[:60]) + "\n  - slug: half\n    skill: percentages\n    type: numeric\n",
    "a bad last item": DEMO + "  - slug: zz\n    skill: percentages\n    type: expression\n"
    "    prompt: p\n    answer: {value: '9^9^9', variables: [x]}\n",
    "an unknown prerequisite": DEMO.replace("prerequisites: [simplify-fractions]", "prerequisites: [nowhere]"),
    "a duplicate key": DEMO.replace("format: metis-content/1", "format: metis-content/1\nformat: metis-content/1"),
    "a python tag": DEMO + "x: !!python/object/apply:os.system ['true']\n",
    "binary": "\x00\x01\x02 not yaml",
}


@pytest.mark.django_db
@pytest.mark.parametrize("damage", sorted(BROKEN))
def test_the_import_command_refuses_a_broken_file_and_imports_nothing(tmp_path, damage):
    path = tmp_path / "course.yaml"
    path.write_text(BROKEN[damage], encoding="utf-8")
    before = _counts()
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("content_import", str(path))
    assert _counts() == before


@pytest.mark.django_db
def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "course.yaml"
    path.write_bytes(DEMO.encode("utf-16"))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("content_import", str(path))
    assert _counts() == (0, 0, 0)


@pytest.mark.django_db
def test_a_failure_while_writing_leaves_nothing_half_imported(tmp_path, monkeypatch):
    """Validation passed, then the database failed on the fifth item: the course, its skills and the first
    four items are rolled back with it."""
    real = Item.objects.update_or_create
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(Item.objects, "update_or_create", failing)
    spec = parse_content(DEMO)
    with pytest.raises(RuntimeError):
        content_service.content_import(spec=spec)
    assert _counts() == (0, 0, 0)
    monkeypatch.setattr(Item.objects, "update_or_create", real)
    content_service.content_import(spec=spec)
    assert _counts() == (1, len(spec.skills), len(spec.items))
