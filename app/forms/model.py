"""What a template is: sections of typed fields with prompts, and computed values.

Plain data, no Qt: the desktop form, the command line and the exports all read
the same Template objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Every field type, with what an answer of that type is in JSON.
FIELD_TYPES: dict[str, str] = {
    "text": "a single line of text",
    "markdown": "long text, written in Markdown",
    "date": "a date, YYYY-MM-DD",
    "datetime": "a date and time, YYYY-MM-DDTHH:MM",
    "number": "a number (with an optional unit and bounds)",
    "scale": "a whole number on a scale, e.g. 1 to 5",
    "choice": "one of the options",
    "multichoice": "any of the options",
    "checklist": "items, each with text, a done flag and an optional due date",
    "group": "repeating rows, each with its own fields",
    "skills": "a list of skills or competencies",
    "url": "a web address",
    "attachment": "attachments of this asset (by id)",
    "link": "other assets (by id)",
}

#: Types whose answer is a list (repeated `--set` appends to them).
LIST_TYPES = frozenset({"multichoice", "checklist", "group", "skills", "attachment", "link"})

KINDS = ("plan", "reflection", "record", "evidence", "journal", "log", "notes", "assessment")

COMPUTED_FUNCTIONS = {
    "progress": "percentage of checklist items (or group rows) that are done",
    "sum": "total of a number field across the rows of a group",
    "count": "number of items in a list field",
    "latest": "the value of a field in the last row of a group",
    "average": "mean of a number or scale field across the rows of a group",
}


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class FieldSpec:
    """One question of a template."""

    id: str
    type: str
    label: str
    prompt: str = ""
    help: str = ""
    required: bool = False
    default: Any = None
    placeholder: str = ""
    # number and scale
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    low_label: str = ""
    high_label: str = ""
    # choice and multichoice
    options: tuple[Option, ...] = ()
    # text, markdown, url
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    # lists
    min_items: int | None = None
    max_items: int | None = None
    # group
    fields: tuple[FieldSpec, ...] = ()
    # ids this field had in earlier versions of the template
    previous_ids: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES

    def option_for(self, text: str) -> Option | None:
        """The option whose value or label matches `text` (case-insensitive)."""
        wanted = text.strip().casefold()
        for option in self.options:
            if wanted in (option.value.casefold(), option.label.casefold()):
                return option
        return None

    def subfield(self, field_id: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.id == field_id), None)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    prompt: str = ""
    fields: tuple[FieldSpec, ...] = ()


@dataclass(frozen=True)
class Computed:
    """A value worked out from the answers, e.g. a plan's progress."""

    id: str
    label: str
    function: str
    field: str  # "actions" or "activities.hours" (a subfield of a group)
    unit: str = ""


@dataclass(frozen=True)
class Template:
    id: str  # local id, e.g. "smart-plan"
    version: str
    name: str
    kind: str
    description: str
    sections: tuple[Section, ...]
    computed: tuple[Computed, ...] = ()
    source: str = "builtin"  # builtin, user, or org/<name>
    path: str = ""

    @property
    def qualified_id(self) -> str:
        """The id assets record: namespaced by source so that ids never collide."""
        return f"{self.source}/{self.id}"

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for section in self.sections for f in section.fields)

    def field(self, field_id: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.id == field_id), None)


@dataclass(frozen=True)
class SchemaProblem:
    """One problem in a template file: where, which field, and what is wrong."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        subject = f" field {self.field!r}:" if self.field else ""
        return f"{where}:{subject} {self.message}"


@dataclass
class ValidationProblem:
    """One problem with an answer: which field (dotted for group rows) and why."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class Answers:
    """Answers to a template, plus answers to fields an earlier version had."""

    values: dict[str, Any] = field(default_factory=dict)
    earlier: dict[str, Any] = field(default_factory=dict)
