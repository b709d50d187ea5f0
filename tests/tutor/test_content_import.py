"""content_import / content_export: validation names the item and field; any error imports nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tutor.content_format import parse_content
from tutor.models import Course, Item, Skill

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "content" / "demo-authored.yaml"


def test_import_example_then_export_round_trips(tmp_path, capsys):
    call_command("content_import", str(EXAMPLE))
    spec = parse_content(EXAMPLE.read_text())
    course = Course.objects.get(slug=spec.course.slug)
    assert Item.objects.filter(course=course).count() == len(spec.items)
    assert {i.item_type for i in Item.objects.all()} == {"multiple_choice", "numeric", "fraction", "expression", "text"}
    out = tmp_path / "out.yaml"
    call_command("content_export", spec.course.slug, "-o", str(out))
    exported = parse_content(out.read_text())
    assert exported.course == spec.course
    assert {i.slug: i for i in exported.items} == {i.slug: i for i in spec.items}
    # Importing the export again changes nothing.
    call_command("content_import", str(out))
    assert Item.objects.filter(course=course).count() == len(spec.items)


def test_a_file_with_one_bad_item_imports_nothing(tmp_path):
    text = EXAMPLE.read_text()
    call_command("content_import", str(EXAMPLE))
    before = (Course.objects.count(), Skill.objects.count(), Item.objects.count(), list(Item.objects.values("prompt")))
    bad = tmp_path / "bad.yaml"
    spec = parse_content(text)
    bad_slug = spec.items[-1].slug
    # Rename the course (so everything would be new) and break the last item's tolerance.
    broken = text.replace(spec.course.slug, spec.course.slug + "-copy", 1)
    broken += f"""  - slug: {bad_slug}-broken
    skill: {spec.items[0].skill}
    type: numeric
    prompt: "2 + 2"
    answer: {{value: 4, tolerance: -1}}
"""
    bad.write_text(broken)
    with pytest.raises(CommandError) as exc:
        call_command("content_import", str(bad))
    message = str(exc.value)
    assert f"{bad_slug}-broken" in message and "tolerance" in message and "nothing imported" in message
    after = (Course.objects.count(), Skill.objects.count(), Item.objects.count(), list(Item.objects.values("prompt")))
    assert after == before


def test_unknown_course_export_names_it():
    with pytest.raises(CommandError, match="no course 'nope'"):
        call_command("content_export", "nope")
