"""Reading template files (TOML) and checking them, reporting every problem at once."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.forms.model import (
    COMPUTED_FUNCTIONS,
    FIELD_TYPES,
    KINDS,
    Computed,
    FieldSpec,
    Option,
    SchemaProblem,
    Section,
    Template,
)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")
MAX_FILE_BYTES = 1024 * 1024

TEMPLATE_KEYS = {"id", "version", "name", "kind", "description", "sections", "computed"}
SECTION_KEYS = {"id", "title", "prompt", "fields"}
FIELD_KEYS = {
    "id", "type", "label", "prompt", "help", "required", "default", "placeholder", "unit",
    "min", "max", "integer", "low_label", "high_label", "options", "min_length", "max_length",
    "pattern", "min_items", "max_items", "fields", "previous_ids",
}  # fmt: skip
COMPUTED_KEYS = {"id", "label", "function", "field", "unit"}


class TemplateError(Exception):
    """A template file has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[SchemaProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class _Checker:
    file: str
    text: str
    problems: list[SchemaProblem] = field(default_factory=list)
    _seen_lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, field_id: str | None, key: str = "id") -> int | None:
        """The line of the next `key = "field_id"` not reported yet (TOML keeps no lines)."""
        if field_id is None:
            return None
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=\s*[\"']{re.escape(str(field_id))}[\"']")
        start = self._seen_lines.get(f"{key}={field_id}", 0)
        for number, line in enumerate(self.text.splitlines(), start=1):
            if number > start and pattern.match(line):
                return number
        return None

    def advance(self, field_id: str, line: int | None, key: str = "id") -> None:
        if line is not None:
            self._seen_lines[f"{key}={field_id}"] = line

    def problem(self, message: str, field_id: str | None = None, line: int | None = None) -> None:
        self.problems.append(SchemaProblem(self.file, line, field_id, message))


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int_or_none(
    check: _Checker, data: dict[str, Any], key: str, fid: str, line: int | None
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        check.problem(f"{key} must be a whole number of 0 or more", fid, line)
        return None
    return value


def _parse_options(check: _Checker, raw: Any, fid: str, line: int | None) -> tuple[Option, ...]:
    if not isinstance(raw, list) or not raw:
        check.problem("a choice needs a non-empty list of options", fid, line)
        return ()
    options: list[Option] = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            options.append(Option(item, item))
        elif isinstance(item, dict) and isinstance(item.get("value"), str) and item["value"]:
            options.append(Option(item["value"], _string(item.get("label")) or item["value"]))
        else:
            check.problem(f"option {item!r} must be text or {{value, label}}", fid, line)
    values = [o.value.casefold() for o in options]
    for value in sorted({v for v in values if values.count(v) > 1}):
        check.problem(f"option {value!r} is listed more than once", fid, line)
    return tuple(options)


def _parse_field(
    check: _Checker, data: Any, ids: set[str], *, in_group: bool, where: str
) -> FieldSpec | None:
    if not isinstance(data, dict):
        check.problem(f"{where}: a field must be a table with id, type and label")
        return None
    fid = data.get("id")
    if not isinstance(fid, str) or not fid:
        check.problem(f"{where}: a field has no id")
        return None
    line = check.line_of(fid)
    if fid in ids:
        check.advance(fid, line)
        line = check.line_of(fid) or line
        check.problem("duplicate id (ids must be unique in a template)", fid, line)
    ids.add(fid)
    check.advance(fid, line)
    if not ID_PATTERN.match(fid):
        check.problem("ids use lower-case letters, digits, '-' and '_'", fid, line)
    for key in sorted(set(data) - FIELD_KEYS):
        check.problem(f"unknown key {key!r}", fid, line)
    ftype = data.get("type")
    if ftype not in FIELD_TYPES:
        known = ", ".join(FIELD_TYPES)
        check.problem(f"unknown type {ftype!r} (known types: {known})", fid, line)
        ftype = "text"
    label = data.get("label")
    if not isinstance(label, str) or not label.strip():
        check.problem("missing label", fid, line)
        label = fid
    for key in ("prompt", "help", "placeholder", "unit", "low_label", "high_label"):
        if key in data and not isinstance(data[key], str):
            check.problem(f"{key} must be text", fid, line)
    if "required" in data and not isinstance(data["required"], bool):
        check.problem("required must be true or false", fid, line)

    minimum, maximum = _number(data.get("min")), _number(data.get("max"))
    for key, parsed in (("min", minimum), ("max", maximum)):
        if key in data and parsed is None:
            check.problem(f"{key} must be a number", fid, line)
    if ftype == "scale":
        minimum = 1.0 if minimum is None else minimum
        maximum = 5.0 if maximum is None else maximum
        if minimum != int(minimum) or maximum != int(maximum):
            check.problem("a scale's min and max must be whole numbers", fid, line)
        if maximum - minimum > 10:
            check.problem("a scale may have at most 11 steps", fid, line)
    if minimum is not None and maximum is not None and minimum >= maximum:
        check.problem(f"bad bounds: min ({data.get('min', minimum)}) must be below max "
                      f"({data.get('max', maximum)})", fid, line)  # fmt: skip

    options: tuple[Option, ...] = ()
    if ftype in ("choice", "multichoice"):
        options = _parse_options(check, data.get("options"), fid, line)
    elif "options" in data:
        check.problem(f"options only apply to choice fields, not {ftype}", fid, line)

    min_length = _int_or_none(check, data, "min_length", fid, line)
    max_length = _int_or_none(check, data, "max_length", fid, line)
    if min_length is not None and max_length is not None and min_length > max_length:
        check.problem("bad bounds: min_length is above max_length", fid, line)
    min_items = _int_or_none(check, data, "min_items", fid, line)
    max_items = _int_or_none(check, data, "max_items", fid, line)
    if min_items is not None and max_items is not None and min_items > max_items:
        check.problem("bad bounds: min_items is above max_items", fid, line)
    pattern = data.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            check.problem(f"pattern is not a valid regular expression: {exc}", fid, line)
            pattern = None

    subfields: list[FieldSpec] = []
    if ftype == "group":
        if in_group:
            check.problem("a group cannot contain another group", fid, line)
        raw = data.get("fields")
        if not isinstance(raw, list) or not raw:
            check.problem("a group needs a list of fields for each row", fid, line)
        else:
            sub_ids: set[str] = set()
            for item in raw:
                sub = _parse_field(check, item, sub_ids, in_group=True, where=f"group {fid}")
                if sub is not None:
                    subfields.append(sub)
    elif "fields" in data:
        check.problem("only a group has fields of its own", fid, line)

    previous = data.get("previous_ids", [])
    if not isinstance(previous, list) or not all(isinstance(p, str) for p in previous):
        check.problem("previous_ids must be a list of ids", fid, line)
        previous = []

    spec = FieldSpec(
        id=fid,
        type=ftype,
        label=label,
        prompt=_string(data.get("prompt")),
        help=_string(data.get("help")),
        required=data.get("required") is True,
        placeholder=_string(data.get("placeholder")),
        unit=_string(data.get("unit")),
        minimum=minimum,
        maximum=maximum,
        integer=data.get("integer") is True or ftype == "scale",
        low_label=_string(data.get("low_label")),
        high_label=_string(data.get("high_label")),
        options=options,
        min_length=min_length,
        max_length=max_length,
        pattern=str(pattern) if pattern is not None else None,
        min_items=min_items,
        max_items=max_items,
        fields=tuple(subfields),
        previous_ids=tuple(previous),
    )
    if "default" in data:
        from app.forms.answers import check_value  # the same rules as for answers

        today = ftype in ("date", "datetime") and data["default"] == "today"
        for problem in [] if today else check_value(spec, data["default"], fid):
            check.problem(f"default: {problem.message}", fid, line)
        spec = replace(spec, default=data["default"])
    return spec


def _parse_computed(
    check: _Checker, raw: Any, template_fields: dict[str, FieldSpec]
) -> list[Computed]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        check.problem("computed must be a list of tables ([[computed]])")
        return []
    result: list[Computed] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            check.problem("a computed value needs an id")
            continue
        cid = item["id"]
        line = check.line_of(cid)
        check.advance(cid, line)
        for key in sorted(set(item) - COMPUTED_KEYS):
            check.problem(f"unknown key {key!r}", cid, line)
        function = item.get("function")
        if function not in COMPUTED_FUNCTIONS:
            check.problem(f"unknown function {function!r} (known: {', '.join(COMPUTED_FUNCTIONS)})",
                          cid, line)  # fmt: skip
        label = item.get("label")
        if not isinstance(label, str) or not label.strip():
            check.problem("missing label", cid, line)
            label = cid
        target = item.get("field")
        if not isinstance(target, str) or not _computed_target_ok(
            function, target, template_fields
        ):
            check.problem(f"field {target!r} does not exist or does not suit {function!r}",
                          cid, line)  # fmt: skip
            target = ""
        result.append(Computed(cid, label, str(function), target, _string(item.get("unit"))))
    return result


def _computed_target_ok(function: Any, target: str, fields: dict[str, FieldSpec]) -> bool:
    head, _, tail = target.partition(".")
    spec = fields.get(head)
    if spec is None:
        return False
    if tail:
        if spec.type != "group":
            return False
        sub = spec.subfield(tail)
        if sub is None:
            return False
        if function in ("sum", "average"):
            return sub.type in ("number", "scale")
        if function == "progress":
            return sub.type == "choice" or sub.type == "text" or sub.type == "checklist"
        return True
    if function == "progress":
        return spec.type == "checklist"
    if function == "count":
        return spec.is_list
    return False


def parse_template(text: str, file: str, *, source: str = "builtin") -> Template:
    """Parse and check a template; raises TemplateError listing every problem."""
    check = _Checker(file, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        check.problem(f"invalid TOML: {exc}", line=int(match.group(1)) if match else None)
        raise TemplateError(check.problems) from exc

    for key in sorted(set(data) - TEMPLATE_KEYS):
        check.problem(f"unknown key {key!r} at the top of the template")
    tid = data.get("id")
    if not isinstance(tid, str) or not ID_PATTERN.match(tid):
        check.problem("the template needs an id of lower-case letters, digits, '-' and '_'",
                      line=check.line_of(tid) if isinstance(tid, str) else None)  # fmt: skip
        tid = "unnamed"
    else:
        check.advance(tid, check.line_of(tid))
    version = data.get("version")
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        check.problem('version must be a semantic version such as "1.0.0"')
        version = "0.0.0"
    for key in ("name", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            check.problem(f"the template needs a {key}")
    kind = data.get("kind")
    if kind not in KINDS:
        check.problem(f"kind must be one of: {', '.join(KINDS)}")

    sections: list[Section] = []
    ids: set[str] = set()
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        check.problem("the template needs at least one [[sections]] with fields")
        raw_sections = []
    section_ids: set[str] = set()
    for index, raw in enumerate(raw_sections, start=1):
        if not isinstance(raw, dict):
            check.problem(f"section {index} must be a table")
            continue
        sid = _string(raw.get("id")) or f"section-{index}"
        if sid in section_ids:
            check.problem(f"section id {sid!r} is used twice")
        section_ids.add(sid)
        for key in sorted(set(raw) - SECTION_KEYS):
            check.problem(f"section {sid!r}: unknown key {key!r}")
        title = _string(raw.get("title"))
        if not title.strip():
            check.problem(f"section {sid!r} needs a title")
        fields = []
        raw_fields = raw.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            check.problem(f"section {sid!r} has no fields")
            raw_fields = []
        for item in raw_fields:
            parsed = _parse_field(check, item, ids, in_group=False, where=f"section {sid}")
            if parsed is not None:
                fields.append(parsed)
        sections.append(Section(sid, title, _string(raw.get("prompt")), tuple(fields)))

    all_fields = {f.id: f for s in sections for f in s.fields}
    for spec in all_fields.values():
        for previous in spec.previous_ids:
            if previous in all_fields:
                check.problem(f"previous id {previous!r} is also a current field", spec.id)
    computed = _parse_computed(check, data.get("computed"), all_fields)
    for item in computed:
        if item.id in all_fields:
            check.problem("a computed value cannot share an id with a field", item.id)

    if check.problems:
        raise TemplateError(check.problems)
    return Template(
        id=tid,
        version=version,
        name=str(data["name"]),
        kind=str(kind),
        description=str(data["description"]).strip(),
        sections=tuple(sections),
        computed=tuple(computed),
        source=source,
        path=file,
    )


def load_template_file(path: Path, *, source: str = "user") -> Template:
    """Read and check one template file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateError(
            [SchemaProblem(str(path), None, None, f"cannot read: {exc.strerror}")]
        ) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise TemplateError(
            [SchemaProblem(str(path), None, None, "the file is too large for a template")]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(
            [SchemaProblem(str(path), None, None, "the file is not UTF-8 text")]
        ) from exc
    return parse_template(text, str(path), source=source)


def check_files(paths: Iterable[Path]) -> list[SchemaProblem]:
    problems: list[SchemaProblem] = []
    for path in paths:
        try:
            load_template_file(path)
        except TemplateError as error:
            problems.extend(error.problems)
    return problems
