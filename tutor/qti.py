"""QTI 3.0 assessment items (1EdTech) → Metis items, through the content format's own validation.

Pure Python (no Django). Supported: ``qti-assessment-item`` with exactly one ``qti-choice-interaction``
(one correct choice) or one ``qti-text-entry-interaction`` (a string, integer or float answer). The XML is
parsed with ``defusedxml`` and any DOCTYPE or entity declaration is refused. ``qti_files_read`` takes a
single XML file or a zip content package (every ``*.xml`` except ``imsmanifest.xml``); ``qti_items_parse``
converts every item or raises ``QtiError`` listing every problem, each naming the file and item identifier.
See ``docs/content-format.md``, "QTI 3.0 import".
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from tutor.content_format import MAX_INPUT_BYTES, MAX_SLUG_LENGTH, ContentError, ItemSpec, parse_item

__all__ = ["QtiError", "QtiItem", "qti_files_read", "qti_items_parse"]

MAX_PACKAGE_FILES = 2000
MAX_PACKAGE_BYTES = 50_000_000  # uncompressed, all files together
MANIFEST = "imsmanifest.xml"
SUPPORTED = ("qti-choice-interaction", "qti-text-entry-interaction")
_BLOCKS = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "blockquote", "pre"}
_SKIPPED = {"qti-rubric-block", "qti-feedback-block", "qti-feedback-inline", "qti-template-block", "script", "style"}
_BLANK = "____"


class QtiError(Exception):
    """The upload cannot be imported; ``.errors`` lists every problem (nothing was saved)."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        count = len(self.errors)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''}, nothing imported:\n"
            + "\n".join(f"  - {e}" for e in self.errors)
        )


@dataclass(frozen=True)
class QtiItem:
    filename: str
    identifier: str
    title: str
    spec: ItemSpec


# --------------------------------------------------------------------------
# Reading the upload
# --------------------------------------------------------------------------


def qti_files_read(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """The XML files of an upload: ``[(name, data)]`` for one XML file, or for each ``*.xml`` in a zip
    package other than its manifest (in name order). Raises ``QtiError`` on a bad or oversized zip."""
    if not data.startswith(b"PK"):
        if len(data) > MAX_INPUT_BYTES:
            raise QtiError([f"{name}: file is larger than {MAX_INPUT_BYTES} bytes"])
        return [(name, data)]
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise QtiError([f"{name}: not a readable zip file ({exc})"]) from None
    with archive:
        entries = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and info.filename.lower().endswith(".xml")
            and info.filename.rsplit("/", 1)[-1].lower() != MANIFEST
            and not info.filename.startswith("__MACOSX/")
        ]
        if len(entries) > MAX_PACKAGE_FILES:
            raise QtiError([f"{name}: more than {MAX_PACKAGE_FILES} XML files in the package"])
        if not entries:
            raise QtiError([f"{name}: the package holds no item XML files (only {MANIFEST}, or nothing)"])
        files: list[tuple[str, bytes]] = []
        total = 0
        for info in sorted(entries, key=lambda i: i.filename):
            label = f"{name}:{info.filename}"
            try:
                with archive.open(info) as handle:  # read at most one byte over the limit: headers can lie
                    content = handle.read(MAX_INPUT_BYTES + 1)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                raise QtiError([f"{label}: cannot read from the package ({exc})"]) from None
            if len(content) > MAX_INPUT_BYTES:
                raise QtiError([f"{label}: file is larger than {MAX_INPUT_BYTES} bytes"])
            total += len(content)
            if total > MAX_PACKAGE_BYTES:
                raise QtiError([f"{name}: the package's XML files together exceed {MAX_PACKAGE_BYTES} bytes"])
            files.append((label, content))
    return files


# --------------------------------------------------------------------------
# XML → item
# --------------------------------------------------------------------------


class _ItemProblem(Exception):
    pass


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _descendants(element: Element, name: str) -> list[Element]:
    return [node for node in element.iter() if _local(node.tag) == name]


def _plain(element: Element, *, skip: frozenset[str] = frozenset()) -> str:
    """The element's text as plain text: blocks on their own lines, a text entry as a blank."""
    parts: list[str] = []

    def walk(node: Element) -> None:
        name = _local(node.tag)
        if name in _SKIPPED or name in skip:
            parts.append(node.tail or "")
            return
        if name == "qti-text-entry-interaction":
            parts.append(_BLANK)
        elif name == "qti-choice-interaction":  # its prompt; the options become the item's choices
            for prompt in _children(node, "qti-prompt"):
                parts.append("\n" + _plain(prompt) + "\n")
        elif name == "br":
            parts.append("\n")
        else:
            block = name in _BLOCKS or name == "qti-prompt"
            if block:
                parts.append("\n")
            parts.append(node.text or "")
            for child in node:
                walk(child)
            if block:
                parts.append("\n")
        if node is not element:
            parts.append(node.tail or "")

    walk(element)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _slug(identifier: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", identifier.lower()).strip("-")[:MAX_SLUG_LENGTH].strip("-")
    if not slug:
        raise _ItemProblem(f'identifier "{identifier}" has no letters or digits to make the item\'s slug from')
    return slug


def _correct_values(item: Element, response_id: str) -> tuple[dict[str, str], list[str]]:
    declarations = [d for d in _children(item, "qti-response-declaration") if d.get("identifier") == response_id]
    if not declarations:
        raise _ItemProblem(f'no qti-response-declaration with identifier "{response_id}"')
    declaration = declarations[0]
    correct = _children(declaration, "qti-correct-response")
    values = [(v.text or "").strip() for c in correct for v in _children(c, "qti-value")]
    if not values or not all(values):
        raise _ItemProblem(f'response "{response_id}" has no qti-correct-response with a qti-value')
    return dict(declaration.attrib), values


def _choice(item: Element, interaction: Element) -> tuple[str, dict]:
    response_id = interaction.get("response-identifier", "")
    attrs, values = _correct_values(item, response_id)
    max_choices = interaction.get("max-choices", "1")
    if attrs.get("cardinality", "single") != "single" or len(values) > 1 or max_choices != "1":
        raise _ItemProblem("choice interactions with more than one correct choice are not supported")
    options = _descendants(interaction, "qti-simple-choice")
    identifiers = [o.get("identifier", "") for o in options]
    if values[0] not in identifiers:
        raise _ItemProblem(f'the correct response "{values[0]}" is not one of the choices ({", ".join(identifiers)})')
    return "multiple_choice", {"choices": [_plain(o) for o in options], "correct": identifiers.index(values[0])}


def _number(text: str, base_type: str) -> int | float:
    try:
        return int(text) if base_type == "integer" else float(text)
    except ValueError:
        raise _ItemProblem(f'the correct response "{text}" is not a valid {base_type}') from None


def _text_entry(item: Element, interaction: Element) -> tuple[str, dict]:
    response_id = interaction.get("response-identifier", "")
    attrs, values = _correct_values(item, response_id)
    base_type = attrs.get("base-type", "string")
    if attrs.get("cardinality", "single") != "single":
        raise _ItemProblem(f'text entry with cardinality "{attrs.get("cardinality")}" is not supported')
    if base_type in ("integer", "float"):
        if len(values) > 1:
            raise _ItemProblem("a numeric text entry with more than one correct value is not supported")
        return "numeric", {"value": _number(values[0], base_type)}
    if base_type != "string":
        raise _ItemProblem(f'text entry with base-type "{base_type}" is not supported (use string, integer or float)')
    return "text", {"accepted": values}


def _item(filename: str, root: Element, skill: str) -> QtiItem:
    identifier = root.get("identifier", "").strip()
    title = root.get("title", "").strip()
    where = f'{filename}: item "{identifier}"' if identifier else f"{filename}: item without identifier"
    try:
        if not identifier:
            raise _ItemProblem('qti-assessment-item needs an "identifier" attribute')
        bodies = _children(root, "qti-item-body")
        if not bodies:
            raise _ItemProblem("no qti-item-body")
        interactions = [n for n in bodies[0].iter() if _local(n.tag).endswith("-interaction")]
        for node in interactions:
            if _local(node.tag) not in SUPPORTED:
                raise _ItemProblem(f"{_local(node.tag)} is not supported (supported: {', '.join(SUPPORTED)})")
        if len(interactions) != 1:
            raise _ItemProblem(
                "no interaction in qti-item-body"
                if not interactions
                else f"{len(interactions)} interactions in one item are not supported (one per item)"
            )
        interaction = interactions[0]
        if _local(interaction.tag) == "qti-choice-interaction":
            item_type, answer = _choice(root, interaction)
        else:
            item_type, answer = _text_entry(root, interaction)
        raw = {"slug": _slug(identifier), "skill": skill, "type": item_type, "prompt": _plain(bodies[0])}
        try:
            spec = parse_item({**raw, "answer": answer}, skill_slugs={skill})
        except ContentError as exc:
            problems = [f"{field}: {message}" if field else message for field, message in exc.fields]
            raise _ItemProblem("; ".join(problems or exc.errors)) from None
    except _ItemProblem as exc:
        raise QtiError([f"{where}: {exc}"]) from None
    return QtiItem(filename=filename, identifier=identifier, title=title, spec=spec)


def _parse_xml(filename: str, data: bytes) -> Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise QtiError(
            [f"{filename}: refused: DOCTYPE, entity declarations and external references are not allowed ({exc})"]
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise QtiError([f"{filename}: not well-formed XML at line {line}, column {column + 1}"]) from None


def qti_items_parse(files: list[tuple[str, bytes]], *, skill: str) -> list[QtiItem]:
    """Every ``qti-assessment-item`` of ``files`` as a validated content-format item under ``skill``.

    ``qti-assessment-test`` / ``qti-assessment-section`` files in a package are skipped; any other root is an
    error. Raises ``QtiError`` listing the problem of every bad file or item (the rest are still checked)."""
    errors: list[str] = []
    items: list[QtiItem] = []
    seen: dict[str, QtiItem] = {}
    for filename, data in files:
        try:
            root = _parse_xml(filename, data)
            name = _local(root.tag)
            if name in ("qti-assessment-test", "qti-assessment-section") and len(files) > 1:
                continue
            if name != "qti-assessment-item":
                raise QtiError([f"{filename}: the root element is <{name}>, not <qti-assessment-item>"])
            item = _item(filename, root, skill)
        except QtiError as exc:
            errors.extend(exc.errors)
            continue
        other = seen.get(item.spec.slug)
        if other is not None:
            errors.append(
                f'{filename}: item "{item.identifier}": its slug "{item.spec.slug}" is also the slug of item '
                f'"{other.identifier}" in {other.filename}'
            )
            continue
        seen[item.spec.slug] = item
        items.append(item)
    if errors:
        raise QtiError(errors)
    if not items:
        raise QtiError(["no qti-assessment-item found"])
    return items
