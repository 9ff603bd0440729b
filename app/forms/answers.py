"""Answers to a template: typed checks, parsing typed text, computed values, upgrades.

Every check returns all the problems it finds, so a form or a command can show
them together; nothing here writes anything.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse

from app.forms.model import Answers, FieldSpec, Template, ValidationProblem

URL_SCHEMES = ("http", "https", "mailto")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CHECKLIST_ITEM = re.compile(
    r"^\s*(?:\[(?P<mark>[ xX])\]\s*)?(?P<text>.*?)\s*(?:@(?P<due>\d{4}-\d{2}-\d{2}))?\s*$"
)


class AnswerError(ValueError):
    """Text that cannot be read as an answer of the field's type."""


# ------------------------------------------------------------------ checking


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_value(spec: FieldSpec, value: Any, path: str) -> list[ValidationProblem]:
    """Problems with one answer (None means unanswered and is always fine here)."""
    if value is None:
        return []
    problems: list[ValidationProblem] = []

    def bad(message: str, where: str = path) -> None:
        problems.append(ValidationProblem(where, message))

    kind = spec.type
    if kind in ("text", "markdown", "url"):
        if not isinstance(value, str):
            bad("must be text")
            return problems
        if kind == "text" and ("\n" in value or "\r" in value):
            bad("must be a single line")
        if spec.min_length is not None and len(value) < spec.min_length:
            bad(f"must be at least {spec.min_length} characters")
        if spec.max_length is not None and len(value) > spec.max_length:
            bad(f"must be at most {spec.max_length} characters")
        if spec.pattern and value and not re.fullmatch(spec.pattern, value):
            bad("is not in the expected form")
        if kind == "url" and value:
            parsed = urlparse(value)
            if parsed.scheme not in URL_SCHEMES or not (parsed.netloc or parsed.path):
                bad("must be a web address starting with http:// or https://")
    elif kind == "date":
        if not _is_date(value):
            bad("must be a date written YYYY-MM-DD")
    elif kind == "datetime":
        if not _is_datetime(value):
            bad("must be a date and time written YYYY-MM-DDTHH:MM")
    elif kind in ("number", "scale"):
        if not _is_number(value):
            bad("must be a number")
            return problems
        if spec.integer and value != int(value):
            bad("must be a whole number")
        if spec.minimum is not None and value < spec.minimum:
            bad(f"must be at least {_plain(spec.minimum)}")
        if spec.maximum is not None and value > spec.maximum:
            bad(f"must be at most {_plain(spec.maximum)}")
    elif kind == "choice":
        if not isinstance(value, str) or value not in {o.value for o in spec.options}:
            bad(f"must be one of: {', '.join(o.value for o in spec.options)}")
    elif kind in ("multichoice", "skills", "attachment", "link"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            bad("must be a list of text")
            return problems
        if kind == "multichoice":
            allowed = {o.value for o in spec.options}
            for item in value:
                if item not in allowed:
                    bad(f"{item!r} is not one of: {', '.join(sorted(allowed))}")
        if kind in ("attachment", "link"):
            for item in value:
                if not _UUID.match(item):
                    bad(f"{item!r} is not an id")
        if len(set(value)) != len(value):
            bad("lists an item twice")
    elif kind == "checklist":
        if not isinstance(value, list):
            bad("must be a list of items")
            return problems
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                bad("each item needs text", where)
                continue
            if not item["text"].strip():
                bad("an item has no text", where)
            if set(item) - {"text", "done", "due"}:
                bad(f"unknown keys {sorted(set(item) - {'text', 'done', 'due'})}", where)
            if not isinstance(item.get("done", False), bool):
                bad("done must be true or false", where)
            if item.get("due") is not None and not _is_date(item["due"]):
                bad("due must be a date written YYYY-MM-DD", where)
    elif kind == "group":
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            bad("must be a list of rows")
            return problems
        for index, row in enumerate(value):
            problems.extend(_check_fields(spec.fields, row, f"{path}[{index}]."))
    if spec.is_list and isinstance(value, list):
        if spec.min_items is not None and len(value) < spec.min_items:
            bad(f"needs at least {spec.min_items} items")
        if spec.max_items is not None and len(value) > spec.max_items:
            bad(f"may have at most {spec.max_items} items")
    return problems


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _check_fields(
    specs: tuple[FieldSpec, ...], values: dict[str, Any], prefix: str
) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    known = {spec.id for spec in specs}
    for key in sorted(set(values) - known):
        problems.append(ValidationProblem(prefix + key, "is not a field of this template"))
    for spec in specs:
        value = values.get(spec.id)
        if _is_empty(value):
            if spec.required:
                problems.append(ValidationProblem(prefix + spec.id, "is required"))
            continue
        problems.extend(check_value(spec, value, prefix + spec.id))
    return problems


def validate(template: Template, values: dict[str, Any]) -> list[ValidationProblem]:
    """Every problem with a set of answers, in template order; empty when valid."""
    return _check_fields(template.fields, values, "")


def defaults(template: Template) -> dict[str, Any]:
    """Answers pre-filled from the template's defaults ("today" for dates is resolved)."""
    values: dict[str, Any] = {}
    for spec in template.fields:
        if spec.default == "today" and spec.type == "date":
            values[spec.id] = date.today().isoformat()
        elif spec.default == "today" and spec.type == "datetime":
            values[spec.id] = datetime.now().isoformat(timespec="minutes")
        elif spec.default is not None:
            values[spec.id] = spec.default
    return values


# ------------------------------------------------------------------- parsing


def parse_text(spec: FieldSpec, text: str) -> Any:
    """Read an answer typed as text (`--set FIELD=VALUE`) as the field's type."""
    kind = spec.type
    stripped = text.strip()
    if kind in ("text", "markdown", "url"):
        return text
    if kind == "date":
        if stripped.lower() == "today":
            return date.today().isoformat()
        if not _is_date(stripped):
            raise AnswerError(f"{text!r} is not a date; write it YYYY-MM-DD")
        return stripped
    if kind == "datetime":
        candidate = stripped.replace(" ", "T", 1)
        if not _is_datetime(candidate):
            raise AnswerError(f"{text!r} is not a date and time; write it YYYY-MM-DDTHH:MM")
        return candidate
    if kind in ("number", "scale"):
        cleaned = stripped.removesuffix(spec.unit).strip() if spec.unit else stripped
        try:
            number = float(cleaned.replace(",", "."))
        except ValueError:
            raise AnswerError(f"{text!r} is not a number") from None
        if not math.isfinite(number):
            raise AnswerError(f"{text!r} is not a number")
        return (
            int(number)
            if number == int(number) and (spec.integer or "." not in cleaned)
            else number
        )
    if kind == "choice":
        option = spec.option_for(stripped)
        if option is None:
            choices = ", ".join(o.value for o in spec.options)
            raise AnswerError(f"{text!r} is not one of: {choices}")
        return option.value
    if kind == "multichoice":
        chosen = []
        for part in _split_list(stripped):
            option = spec.option_for(part)
            if option is None:
                choices = ", ".join(o.value for o in spec.options)
                raise AnswerError(f"{part!r} is not one of: {choices}")
            chosen.append(option.value)
        return chosen
    if kind in ("skills", "attachment", "link"):
        return _split_list(stripped)
    if kind == "checklist":
        return [_checklist_item(part) for part in re.split(r"[;\n]", text) if part.strip()]
    if kind == "group":
        try:
            rows = json.loads(text)
        except ValueError:
            raise AnswerError(
                'a group takes JSON rows, e.g. \'[{"action": "...", "due": "2026-12-01"}]\''
            ) from None
        if isinstance(rows, dict):
            rows = [rows]
        if not isinstance(rows, list):
            raise AnswerError("a group takes a JSON list of rows")
        return rows
    raise AnswerError(f"fields of type {kind} cannot be set from text")


def _split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _checklist_item(text: str) -> dict[str, Any]:
    """`[x] Book the course @2026-12-01` -> {"text", "done", "due"}."""
    match = _CHECKLIST_ITEM.match(text)
    assert match is not None  # the pattern matches any line
    due = match.group("due")
    if due is not None and not _is_date(due):
        raise AnswerError(f"{due!r} is not a date; write it YYYY-MM-DD")
    return {"text": match.group("text"), "done": (match.group("mark") or " ") in "xX",
            "due": due}  # fmt: skip


# ----------------------------------------------------------------- computed


def computed_values(template: Template, values: dict[str, Any]) -> dict[str, Any]:
    """The template's computed values for these answers (None where nothing to compute)."""
    results: dict[str, Any] = {}
    for item in template.computed:
        head, _, tail = item.field.partition(".")
        value = values.get(head)
        results[item.id] = _compute(item.function, value, tail)
    return results


def _compute(function: str, value: Any, subfield: str) -> Any:
    rows = value if isinstance(value, list) else []
    if function == "count":
        return len(rows)
    if function == "progress":
        if not rows:
            return None
        done = 0
        for row in rows:
            if not isinstance(row, dict):
                continue
            if subfield:
                flag = row.get(subfield)
                done += flag in (True, "done", "yes", "complete", "completed")
            else:
                done += row.get("done") is True
        return round(100 * done / len(rows))
    numbers: list[float] = [
        float(row[subfield])
        for row in rows
        if isinstance(row, dict) and _is_number(row.get(subfield))
    ]
    if function == "sum":
        return _tidy(sum(numbers)) if numbers else 0
    if function == "average":
        return _tidy(round(sum(numbers) / len(numbers), 2)) if numbers else None
    if function == "latest":
        answered = [
            row[subfield]
            for row in rows
            if isinstance(row, dict) and not _is_empty(row.get(subfield))
        ]
        return answered[-1] if answered else None
    return None


def _tidy(number: float) -> float | int:
    return int(number) if number == int(number) else number


# ------------------------------------------------------------------ upgrades


def upgrade_answers(template: Template, values: dict[str, Any], earlier: dict[str, Any]) -> Answers:
    """Fit answers written against another version of the template to this one.

    Answers to renamed fields move to the new id (`previous_ids`); answers to
    fields this version no longer has are kept, untouched, in `earlier`.
    Nothing is ever dropped.
    """
    current: dict[str, Any] = {}
    kept = dict(earlier)
    renames = {old: spec.id for spec in template.fields for old in spec.previous_ids}
    for key, value in values.items():
        if template.field(key) is not None:
            current[key] = value
        elif key in renames and renames[key] not in values and renames[key] not in current:
            current[renames[key]] = value
        else:
            kept[key] = value
    # An answer kept from an even earlier version can come back if a field returns.
    for key in list(kept):
        target = key if template.field(key) is not None else renames.get(key)
        if target is not None and target not in current:
            current[target] = kept.pop(key)
    return Answers(current, kept)


# ------------------------------------------------------------- filling forms


class InvalidAnswers(ValueError):
    """Answers that do not fit the template; `problems` lists every one."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def apply_assignments(
    template: Template, start: dict[str, Any], assignments: list[tuple[str, str]]
) -> dict[str, Any]:
    """Answers after typed `FIELD=VALUE` assignments, checked against the template.

    A list field's first assignment replaces its answer and later ones add to
    it. Raises InvalidAnswers with every problem; `start` is never changed.
    """
    values = dict(start)
    problems: list[ValidationProblem] = []
    assigned: set[str] = set()
    for name, text in assignments:
        spec = template.field(name)
        if spec is None:
            known = ", ".join(f.id for f in template.fields)
            problems.append(ValidationProblem(name, f"is not a field of this template ({known})"))
            continue
        try:
            value = parse_text(spec, text)
        except AnswerError as error:
            problems.append(ValidationProblem(name, str(error)))
            continue
        if spec.is_list and name in assigned and isinstance(values.get(name), list):
            values[name] = [*values[name], *value]
        else:
            values[name] = value
        assigned.add(name)
    unreadable = {problem.field for problem in problems}
    problems.extend(p for p in validate(template, values) if p.field not in unreadable)
    if problems:
        raise InvalidAnswers(problems)
    return values


def summary_facts(template: Template, values: dict[str, Any]) -> tuple[list[str], str]:
    """The skills named anywhere in the answers, and the status label, for the library.

    They are kept in the asset's summary so that the library can list and filter
    by skill and status without decrypting every asset's body.
    """
    skills: list[str] = []
    seen: set[str] = set()

    def gather(names: Any) -> None:
        for name in names if isinstance(names, list) else []:
            text = " ".join(str(name).split())
            if text and text.casefold() not in seen:
                seen.add(text.casefold())
                skills.append(text)

    status = ""
    for spec in template.fields:
        value = values.get(spec.id)
        if spec.type == "skills":
            gather(value)
        elif spec.type == "group" and isinstance(value, list):
            for sub in spec.fields:
                if sub.type == "skills":
                    for row in value:
                        if isinstance(row, dict):
                            gather(row.get(sub.id))
        elif spec.id == "status" and spec.type == "choice" and isinstance(value, str):
            option = next((o for o in spec.options if o.value == value), None)
            status = option.label if option is not None else value
    return skills, status


def link_targets(template: Template, values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field id, asset id) for every asset named in the template's link fields."""
    targets: list[tuple[str, str]] = []
    for spec in template.fields:
        value = values.get(spec.id)
        if spec.type == "link" and isinstance(value, list):
            targets += [(spec.id, str(v)) for v in value]
        elif spec.type == "group" and isinstance(value, list):
            for sub in spec.fields:
                if sub.type == "link":
                    for row in value:
                        if isinstance(row, dict) and isinstance(row.get(sub.id), list):
                            targets += [(spec.id, str(v)) for v in row[sub.id]]
    return targets
