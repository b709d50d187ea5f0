"""QTI 3.0 import (tutor/qti.py, services.items_import_qti, manage.py qti_import): choice and text-entry items
become checker-ready items; anything wrong names the file, item and problem, and saves nothing."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from tests.factories import ItemFactory, SkillFactory
from tutor.answers import check_answer
from tutor.models import Item
from tutor.qti import QtiError, qti_files_read, qti_items_parse

pytestmark = pytest.mark.django_db

NS = 'xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0"'

CHOICE = f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item {NS} identifier="Capital_FR" title="Capital of France" adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="identifier">
    <qti-correct-response><qti-value>ChoiceB</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <p>Look at the <b>map</b>.</p>
    <qti-choice-interaction response-identifier="RESPONSE" shuffle="false" max-choices="1">
      <qti-prompt>What is the capital of France?</qti-prompt>
      <qti-simple-choice identifier="ChoiceA">Lyon</qti-simple-choice>
      <qti-simple-choice identifier="ChoiceB">Paris</qti-simple-choice>
      <qti-simple-choice identifier="ChoiceC">Marseille</qti-simple-choice>
    </qti-choice-interaction>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct"/>
</qti-assessment-item>
"""


def text_entry(identifier: str = "te-1", base_type: str = "string", values: tuple[str, ...] = ("Paris",)) -> str:
    correct = "".join(f"<qti-value>{v}</qti-value>" for v in values)
    return f"""<qti-assessment-item {NS} identifier="{identifier}" title="Fill in">
  <qti-response-declaration identifier="R1" cardinality="single" base-type="{base_type}">
    <qti-correct-response>{correct}</qti-correct-response>
  </qti-response-declaration>
  <qti-item-body>
    <p>The capital of France is <qti-text-entry-interaction response-identifier="R1" expected-length="10"/>.</p>
  </qti-item-body>
</qti-assessment-item>"""


def package(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imsmanifest.xml", '<manifest identifier="m"><resources/></manifest>')
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def skill():
    return SkillFactory(slug="capitals", course__slug="geo")


def run(tmp_path, name: str, data: bytes | str, course: str = "geo", skill: str = "capitals") -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    out = io.StringIO()
    call_command("qti_import", str(path), "--course", course, "--skill", skill, stdout=out)
    return out.getvalue()


def refused(tmp_path, name: str, data: bytes | str, **kwargs: str) -> str:
    before = list(Item.objects.values_list("slug", "prompt", "answer"))
    with pytest.raises(CommandError) as exc:
        run(tmp_path, name, data, **kwargs)
    assert "nothing imported" in str(exc.value)
    assert list(Item.objects.values_list("slug", "prompt", "answer")) == before
    return str(exc.value)


def test_choice_item_becomes_a_multiple_choice_item_the_checker_grades(tmp_path, skill):
    out = run(tmp_path, "capital.xml", CHOICE)
    assert "1 new item(s)" in out and "Capital of France" in out
    item = Item.objects.get(course=skill.course, slug="capital-fr")
    assert item.skill == skill and item.item_type == "multiple_choice"
    assert item.prompt == "Look at the map.\nWhat is the capital of France?"
    assert item.answer == {"choices": ["Lyon", "Paris", "Marseille"], "correct": 1}
    assert check_answer(item.item_type, item.answer, "Paris").correct
    assert check_answer(item.item_type, item.answer, "1").correct
    assert not check_answer(item.item_type, item.answer, "Lyon").correct


def test_text_entry_becomes_text_or_numeric(tmp_path, skill):
    run(tmp_path, "te.xml", text_entry(values=("Paris", "paris city")))
    item = Item.objects.get(slug="te-1")
    assert item.item_type == "text" and item.prompt == "The capital of France is ____."
    assert item.answer == {"accepted": ["Paris", "paris city"]}
    assert check_answer("text", item.answer, " paris ").correct
    assert not check_answer("text", item.answer, "Lyon").correct

    run(tmp_path, "n.xml", text_entry("n-1", "float", ("2.5",)))
    number = Item.objects.get(slug="n-1")
    assert number.item_type == "numeric" and number.answer == {"value": 2.5}
    assert check_answer("numeric", number.answer, "2,5").correct
    assert not check_answer("numeric", number.answer, "25").correct


def test_zip_package_imports_every_item_and_reimport_updates(tmp_path, skill):
    data = package({"items/a.xml": CHOICE, "items/b.xml": text_entry("b"), "test.xml": "<qti-assessment-test/>"})
    assert "2 new item(s)" in run(tmp_path, "bank.zip", data)
    assert set(Item.objects.values_list("slug", flat=True)) == {"capital-fr", "b"}
    assert "0 new item(s), 2 updated" in run(tmp_path, "bank.zip", data)
    assert Item.objects.count() == 2


def test_one_bad_item_in_a_package_saves_nothing_and_names_file_item_and_problem(tmp_path, skill):
    ItemFactory(skill=skill, slug="b", prompt="kept")
    bad = text_entry("Essay_1").replace("qti-text-entry-interaction", "qti-extended-text-interaction")
    message = refused(tmp_path, "bank.zip", package({"a.xml": CHOICE, "b.xml": text_entry("b"), "c.xml": bad}))
    assert 'bank.zip:c.xml: item "Essay_1": qti-extended-text-interaction is not supported' in message
    assert Item.objects.get(slug="b").prompt == "kept"


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<qti-assessment-item identifier='x'><qti-item-body>", "not well-formed XML at line 1"),
        (
            '<!DOCTYPE lol [<!ENTITY lol "lol">]><qti-assessment-item identifier="x">&lol;</qti-assessment-item>',
            "DOCTYPE, entity declarations and external references are not allowed",
        ),
        (
            '<!DOCTYPE x SYSTEM "file:///etc/passwd"><qti-assessment-item identifier="x"/>',
            "DOCTYPE, entity declarations and external references are not allowed",
        ),
        (
            CHOICE.replace("<qti-correct-response><qti-value>ChoiceB</qti-value></qti-correct-response>", ""),
            'item "Capital_FR": response "RESPONSE" has no qti-correct-response with a qti-value',
        ),
        (
            CHOICE.replace("ChoiceB</qti-value>", "ChoiceB</qti-value><qti-value>ChoiceC</qti-value>"),
            "more than one correct choice are not supported",
        ),
        (CHOICE.replace('max-choices="1"', 'max-choices="2"'), "more than one correct choice are not supported"),
        (CHOICE.replace("ChoiceB</qti-value>", "ChoiceZ</qti-value>"), '"ChoiceZ" is not one of the choices'),
        (text_entry("n", "integer", ("2.5",)), 'item "n": the correct response "2.5" is not a valid integer'),
        (CHOICE.replace("Marseille", "Paris"), 'item "Capital_FR": answer.choices[2]: duplicates choices[1]'),
        ("<qti-assessment-test identifier='t'/>", "the root element is <qti-assessment-test>"),
    ],
)
def test_rejections_name_the_problem_and_save_nothing(tmp_path, skill, xml, expected):
    assert expected in refused(tmp_path, "item.xml", xml)


def test_unknown_skill_or_course_is_refused(tmp_path, skill):
    assert 'unknown skill "nope" in course "geo"' in refused(tmp_path, "c.xml", CHOICE, skill="nope")
    assert 'unknown course "nope"' in refused(tmp_path, "c.xml", CHOICE, course="nope")


def test_generated_item_slug_is_not_overwritten(tmp_path, skill):
    ItemFactory(skill=skill, slug="capital-fr", source=Item.Source.GENERATED)
    assert "taken by a generated item" in refused(tmp_path, "c.xml", CHOICE)


def test_duplicate_identifiers_across_files_are_refused():
    with pytest.raises(QtiError, match=r'b.xml: item "te-1": its slug "te-1" is also the slug of item "te-1" in a.xml'):
        qti_items_parse([("a.xml", text_entry().encode()), ("b.xml", text_entry().encode())], skill="s")


def test_bad_zip_and_empty_package():
    with pytest.raises(QtiError, match="not a readable zip file"):
        qti_files_read("x.zip", b"PK\x03\x04 broken")
    with pytest.raises(QtiError, match="holds no item XML files"):
        qti_files_read("x.zip", package({}))


def test_oversized_files_in_a_package_are_refused_before_parsing(monkeypatch):
    monkeypatch.setattr("tutor.qti.MAX_INPUT_BYTES", 500)
    with pytest.raises(QtiError, match="big.xml: file is larger than 500 bytes"):
        qti_files_read("x.zip", package({"big.xml": CHOICE}))
    with pytest.raises(QtiError, match="one.xml: file is larger than 500 bytes"):
        qti_files_read("one.xml", CHOICE.encode())
