"""The authored-content format ``metis-content/1`` (YAML or JSON).

Pure Python (no Django). ``parse_content`` validates a whole document, collects
*all* problems and raises ``ContentError``; ``dump_content`` writes a
``ContentSpec`` back out so that ``parse_content(dump_content(spec)) == spec``.
See ``docs/content-format.md``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from tutor.answers import ITEM_TYPES, validate_answer_spec

__all__ = [
    "FORMAT_ID",
    "ContentError",
    "ContentSpec",
    "CourseSpec",
    "ItemSpec",
    "SkillSpec",
    "dump_content",
    "parse_content",
    "parse_item",
]

FORMAT_ID = "metis-content/1"
SLUG_RE = re.compile(r"[a-z0-9-]+")
MAX_SLUG_LENGTH = 100
MAX_INPUT_BYTES = 5_000_000
DEFAULT_DIFFICULTY = 0.5


@dataclass(frozen=True)
class CourseSpec:
    slug: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class SkillSpec:
    slug: str
    name: str
    description: str = ""
    prerequisites: tuple[str, ...] = ()
    confusable_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemSpec:
    slug: str
    skill: str
    type: str
    prompt: str
    answer: dict = field(default_factory=dict)
    hints: tuple[str, ...] = ()
    solution: str = ""
    difficulty: float = DEFAULT_DIFFICULTY


@dataclass(frozen=True)
class ContentSpec:
    course: CourseSpec
    skills: tuple[SkillSpec, ...] = ()
    items: tuple[ItemSpec, ...] = ()
    format: str = FORMAT_ID


class ContentError(Exception):
    """The document is invalid. ``.errors`` lists every problem found."""

    def __init__(
        self, errors: list[str], *, filename: str = "<input>", fields: list[tuple[str | None, str]] | None = None
    ):
        self.errors = list(errors)
        self.filename = filename
        #: the same problems as (field, message), for callers that point at a field (the REST API)
        self.fields = list(fields or [])
        count = len(self.errors)
        super().__init__(
            f"{filename}: {count} problem{'s' if count != 1 else ''}:\n" + "\n".join(f"  - {e}" for e in self.errors)
        )


# --------------------------------------------------------------------------
# Loading (YAML safe_load / JSON) with duplicate-key and alias rejection
# --------------------------------------------------------------------------


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys and aliases (*ref)."""

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not supported in content files", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    duplicate = False
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, f'duplicate key "{key}"', key_node.start_mark)
                try:
                    seen.add(key)
                except TypeError:
                    pass
        return super().construct_mapping(node, deep=deep)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f'duplicate key "{key}"')
        result[key] = value
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _load(text: str, filename: str) -> Any:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        raise ContentError([f"file is larger than {MAX_INPUT_BYTES} bytes"], filename=filename)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(stripped, object_pairs_hook=_json_pairs, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise ContentError(
                [f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"], filename=filename
            ) from None
        except ValueError as exc:
            raise ContentError([f"JSON error: {exc}"], filename=filename) from None
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ContentError([f"YAML syntax error{where}: {problem}"], filename=filename) from None
    except yaml.YAMLError as exc:
        raise ContentError([f"YAML error: {exc}"], filename=filename) from None


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

_COURSE_FIELDS = {"slug": True, "title": True, "description": False}
_SKILL_FIELDS = {"slug": True, "name": True, "description": False, "prerequisites": False, "confusable_with": False}
_ITEM_FIELDS = {
    "slug": True, "skill": True, "type": True, "prompt": True, "answer": True,
    "hints": False, "solution": False, "difficulty": False,
}  # fmt: skip
_TOP_FIELDS = {"format": True, "course": True, "skills": False, "items": False}


class _Collector:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.fields: list[tuple[str | None, str]] = []

    def add(self, where: str, field_name: str | None, message: str) -> None:
        self.fields.append((field_name, message))
        parts = [where] if where else []
        if field_name:
            parts.append(f'field "{field_name}"')
        self.errors.append(": ".join([*parts, message]) if parts else message)


def _where(section: str, index: int | None, raw: Any) -> str:
    if index is None:
        return section
    slug = raw.get("slug") if isinstance(raw, dict) else None
    return f'{section}[{index}] (slug "{slug}")' if isinstance(slug, str) else f"{section}[{index}]"


def _check_fields(errs: _Collector, where: str, raw: dict, spec: dict[str, bool]) -> None:
    for name, required in spec.items():
        if required and name not in raw:
            errs.add(where, name, "is required")
    for name in raw:
        if name not in spec:
            errs.add(where, str(name), f"unknown field (allowed: {', '.join(spec)})")


def _text(errs: _Collector, where: str, raw: dict, name: str, *, required: bool) -> str:
    value = raw.get(name, "")
    if name not in raw:
        return ""
    if not isinstance(value, str):
        errs.add(where, name, f"must be text, not {_type_name(value)}")
        return ""
    if required and not value.strip():
        errs.add(where, name, "must not be empty")
    return value


def _slug(errs: _Collector, where: str, raw: dict, name: str = "slug") -> str:
    value = raw.get(name)
    if name not in raw:
        return ""
    if not isinstance(value, str):
        errs.add(where, name, f"must be text, not {_type_name(value)}")
        return ""
    if not SLUG_RE.fullmatch(value):
        errs.add(where, name, f'"{value}" is not a valid slug (use only a-z, 0-9 and -)')
    elif len(value) > MAX_SLUG_LENGTH:
        errs.add(where, name, f"must be at most {MAX_SLUG_LENGTH} characters")
    return value


def _string_list(errs: _Collector, where: str, raw: dict, name: str) -> tuple[str, ...]:
    if name not in raw:
        return ()
    value = raw[name]
    if not isinstance(value, list):
        errs.add(where, name, f"must be a list, not {_type_name(value)}")
        return ()
    result = []
    for i, entry in enumerate(value):
        if not isinstance(entry, str) or not entry.strip():
            errs.add(where, f"{name}[{i}]", "must be non-empty text")
        else:
            result.append(entry)
    return tuple(result)


def _type_name(value: Any) -> str:
    if value is None:
        return "empty (null)"
    return {
        bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "a mapping",
    }.get(type(value), type(value).__name__)  # fmt: skip


def _parse_course(errs: _Collector, raw: Any) -> CourseSpec:
    if not isinstance(raw, dict):
        errs.add("course", None, f"must be a mapping, not {_type_name(raw)}")
        return CourseSpec("", "")
    _check_fields(errs, "course", raw, _COURSE_FIELDS)
    return CourseSpec(
        slug=_slug(errs, "course", raw),
        title=_text(errs, "course", raw, "title", required=True),
        description=_text(errs, "course", raw, "description", required=False),
    )


def _parse_skills(errs: _Collector, raw: Any, known: set[str]) -> tuple[SkillSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errs.add("", "skills", f"must be a list, not {_type_name(raw)}")
        return ()
    skills: list[tuple[str, SkillSpec]] = []
    first_index: dict[str, int] = {}
    for i, entry in enumerate(raw):
        where = _where("skills", i, entry)
        if not isinstance(entry, dict):
            errs.add(where, None, f"must be a mapping, not {_type_name(entry)}")
            continue
        _check_fields(errs, where, entry, _SKILL_FIELDS)
        skill = SkillSpec(
            slug=_slug(errs, where, entry),
            name=_text(errs, where, entry, "name", required=True),
            description=_text(errs, where, entry, "description", required=False),
            prerequisites=_string_list(errs, where, entry, "prerequisites"),
            confusable_with=_string_list(errs, where, entry, "confusable_with"),
        )
        if skill.slug in first_index:
            errs.add(where, "slug", f"duplicate skill slug (also skills[{first_index[skill.slug]}])")
        elif skill.slug:
            first_index[skill.slug] = i
        skills.append((where, skill))

    available = set(first_index) | known
    for where, skill in skills:
        for name in ("prerequisites", "confusable_with"):
            refs = getattr(skill, name)
            for ref in refs:
                if ref == skill.slug:
                    errs.add(where, name, "a skill cannot refer to itself")
                elif ref not in available:
                    errs.add(where, name, f'unknown skill "{ref}"')
            for ref in {r for r in refs if refs.count(r) > 1}:
                errs.add(where, name, f'"{ref}" is listed more than once')
    _check_cycles(errs, skills)
    return tuple(skill for _, skill in skills)


def _check_cycles(errs: _Collector, skills: list[tuple[str, SkillSpec]]) -> None:
    graph: dict[str, list[str]] = {}
    where_of: dict[str, str] = {}
    for where, skill in skills:  # first definition wins (duplicates are reported elsewhere)
        if skill.slug and skill.slug not in graph:
            graph[skill.slug] = [p for p in skill.prerequisites if p != skill.slug]
            where_of[skill.slug] = where
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset] = set()

    for start in graph:
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        state[start] = 1
        while stack:  # iterative DFS, so deep chains cannot hit the recursion limit
            node, i = stack[-1]
            deps = graph.get(node, [])
            if i < len(deps):
                stack[-1] = (node, i + 1)
                dep = deps[i]
                if dep not in graph:
                    continue
                if state.get(dep) == 1:
                    cycle = path[path.index(dep) :] + [dep]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        errs.add(where_of[dep], "prerequisites", "prerequisite cycle: " + " -> ".join(cycle))
                elif not state.get(dep):
                    state[dep] = 1
                    stack.append((dep, 0))
                    path.append(dep)
            else:
                state[node] = 2
                stack.pop()
                path.pop()


def _parse_items(errs: _Collector, raw: Any, skill_slugs: set[str]) -> tuple[ItemSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errs.add("", "items", f"must be a list, not {_type_name(raw)}")
        return ()
    items: list[ItemSpec] = []
    first_index: dict[str, int] = {}
    for i, entry in enumerate(raw):
        where = _where("items", i, entry)
        if not isinstance(entry, dict):
            errs.add(where, None, f"must be a mapping, not {_type_name(entry)}")
            continue
        _check_fields(errs, where, entry, _ITEM_FIELDS)
        slug = _slug(errs, where, entry)
        if slug in first_index:
            errs.add(where, "slug", f"duplicate item slug (also items[{first_index[slug]}])")
        elif slug:
            first_index[slug] = i
        skill = _slug(errs, where, entry, "skill")
        if skill and SLUG_RE.fullmatch(skill) and skill not in skill_slugs:
            errs.add(where, "skill", f'unknown skill "{skill}"')
        raw_type = entry.get("type")
        item_type = raw_type if isinstance(raw_type, str) else ""
        type_ok = item_type in ITEM_TYPES
        if "type" in entry and not type_ok:
            errs.add(where, "type", f'must be one of: {", ".join(ITEM_TYPES)} (got "{raw_type}")')
        answer = entry.get("answer")
        if "answer" in entry:
            if not isinstance(answer, dict):
                errs.add(where, "answer", f"must be a mapping, not {_type_name(answer)}")
                answer = {}
            elif type_ok:
                for field_name, message in validate_answer_spec(item_type, answer):
                    errs.add(where, f"answer.{field_name}" if field_name else "answer", message)
        difficulty = entry.get("difficulty", DEFAULT_DIFFICULTY)
        if (
            isinstance(difficulty, bool)
            or not isinstance(difficulty, (int, float))
            or not math.isfinite(difficulty)
            or not 0 <= difficulty <= 1
        ):
            errs.add(where, "difficulty", "must be a number between 0 and 1")
            difficulty = DEFAULT_DIFFICULTY
        items.append(
            ItemSpec(
                slug=slug,
                skill=skill,
                type=item_type if type_ok else "",
                prompt=_text(errs, where, entry, "prompt", required=True),
                answer=answer if isinstance(answer, dict) else {},
                hints=_string_list(errs, where, entry, "hints"),
                solution=_text(errs, where, entry, "solution", required=False),
                difficulty=float(difficulty),
            )
        )
    return tuple(items)


def parse_content(
    text: str, *, filename: str = "<input>", known_skill_slugs: set[str] | frozenset[str] | None = None
) -> ContentSpec:
    """Parse and validate a ``metis-content/1`` document (YAML or JSON).

    ``known_skill_slugs`` are skills that already exist (e.g. in the database);
    prerequisites, confusables and items may refer to them. Raises
    ``ContentError`` listing every problem found.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    data = _load(text, filename)
    errs = _Collector()
    if not isinstance(data, dict):
        raise ContentError([f"the document must be a mapping with {', '.join(_TOP_FIELDS)}"], filename=filename)
    _check_fields(errs, "", data, _TOP_FIELDS)
    if "format" in data and data["format"] != FORMAT_ID:
        errs.add("", "format", f'must be "{FORMAT_ID}" (got "{data["format"]}")')
    course = _parse_course(errs, data["course"]) if "course" in data else CourseSpec("", "")
    known = set(known_skill_slugs or ())
    skills = _parse_skills(errs, data.get("skills"), known)
    items = _parse_items(errs, data.get("items"), {s.slug for s in skills} | known)
    if errs.errors:
        raise ContentError(errs.errors, filename=filename)
    return ContentSpec(course=course, skills=skills, items=items)


def parse_item(raw: Any, *, skill_slugs: set[str] | frozenset[str]) -> ItemSpec:
    """Validate one item in the ``items`` entry shape (the REST API's authoring writes), by the same rules as a
    whole document. Raises ``ContentError`` whose ``fields`` name each field at fault (``answer.value``)."""
    errs = _Collector()
    items = _parse_items(errs, [raw], set(skill_slugs))
    if errs.errors:
        raise ContentError(errs.errors, fields=errs.fields)
    return items[0]


# --------------------------------------------------------------------------
# Dumping
# --------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def content_to_dict(spec: ContentSpec) -> dict:
    """Plain-data form of ``spec`` (the structure written by ``dump_content``)."""
    return {
        "format": spec.format,
        "course": {"slug": spec.course.slug, "title": spec.course.title, "description": spec.course.description},
        "skills": [
            {
                "slug": s.slug,
                "name": s.name,
                "description": s.description,
                "prerequisites": list(s.prerequisites),
                "confusable_with": list(s.confusable_with),
            }
            for s in spec.skills
        ],
        "items": [
            {
                "slug": i.slug,
                "skill": i.skill,
                "type": i.type,
                "prompt": i.prompt,
                "answer": i.answer,
                "hints": list(i.hints),
                "solution": i.solution,
                "difficulty": i.difficulty,
            }
            for i in spec.items
        ],
    }


def dump_content(spec: ContentSpec, *, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """Serialise ``spec``; ``parse_content(dump_content(spec, fmt=...)) == spec``."""
    data = content_to_dict(spec)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    raise ValueError(f'fmt must be "yaml" or "json", not "{fmt}"')
