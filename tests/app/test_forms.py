"""The template engine: the format's schema check, typed answers, upgrades, rendering."""

from __future__ import annotations

import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.forms.answers import (
    AnswerError,
    InvalidAnswers,
    apply_assignments,
    computed_values,
    parse_text,
    upgrade_answers,
    validate,
)
from app.forms.loader import TemplateError, load_template_file, parse_template
from app.forms.model import FIELD_TYPES, Template
from app.forms.render import to_html, to_markdown
from app.space import Space
from store.records import AssetRecord

EVERY_TYPE = textwrap.dedent(
    """
    id = "every-type"
    version = "1.0.0"
    name = "Every type"
    kind = "record"
    description = "One field of each type."

    [[sections]]
    id = "main"
    title = "Main"

    [[sections.fields]]
    id = "line"
    type = "text"
    label = "Line"
    max_length = 40

    [[sections.fields]]
    id = "notes"
    type = "markdown"
    label = "Notes"

    [[sections.fields]]
    id = "day"
    type = "date"
    label = "Day"

    [[sections.fields]]
    id = "moment"
    type = "datetime"
    label = "Moment"

    [[sections.fields]]
    id = "hours"
    type = "number"
    label = "Hours"
    unit = "h"
    min = 0
    max = 100

    [[sections.fields]]
    id = "rating"
    type = "scale"
    label = "Rating"
    min = 1
    max = 5
    low_label = "poor"
    high_label = "great"

    [[sections.fields]]
    id = "where"
    type = "choice"
    label = "Where"
    options = ["classroom", { value = "on-the-job", label = "On the job" }]

    [[sections.fields]]
    id = "formats"
    type = "multichoice"
    label = "Formats"
    options = ["video", "book", "talk"]

    [[sections.fields]]
    id = "todo"
    type = "checklist"
    label = "To do"

    [[sections.fields]]
    id = "sessions"
    type = "group"
    label = "Sessions"

    [[sections.fields.fields]]
    id = "title"
    type = "text"
    label = "Title"
    required = true

    [[sections.fields.fields]]
    id = "hours"
    type = "number"
    label = "Hours"
    min = 0

    [[sections.fields]]
    id = "skills"
    type = "skills"
    label = "Skills"

    [[sections.fields]]
    id = "site"
    type = "url"
    label = "Site"

    [[sections.fields]]
    id = "files"
    type = "attachment"
    label = "Files"

    [[sections.fields]]
    id = "related"
    type = "link"
    label = "Related"

    [[computed]]
    id = "total"
    label = "Total hours"
    function = "sum"
    field = "sessions.hours"

    [[computed]]
    id = "done"
    label = "Done"
    function = "progress"
    field = "todo"
    """
)

UUID = "3a3d989a-bae5-4611-abc6-912a355060b2"


@pytest.fixture(scope="module")
def every() -> Template:
    return parse_template(EVERY_TYPE, "every-type.toml")


def test_the_example_covers_every_field_type(every: Template) -> None:
    assert {f.type for f in every.fields} == set(FIELD_TYPES)


GOOD: dict[str, tuple[str, Any]] = {
    "line": ("One line", "One line"),
    "notes": ("**bold**\nmore", "**bold**\nmore"),
    "day": ("2026-12-01", "2026-12-01"),
    "moment": ("2026-12-01 14:30", "2026-12-01T14:30"),
    "hours": ("2.5h", 2.5),
    "rating": ("4", 4),
    "where": ("on the job", "on-the-job"),
    "formats": ("video, Book", ["video", "book"]),
    "todo": ("[x] Book it @2026-12-01; Ask Sam", [
        {"text": "Book it", "done": True, "due": "2026-12-01"},
        {"text": "Ask Sam", "done": False, "due": None},
    ]),
    "sessions": ('[{"title": "Keynote", "hours": 1}]', [{"title": "Keynote", "hours": 1}]),
    "skills": ("facilitation, SQL", ["facilitation", "SQL"]),
    "site": ("https://example.org/talk", "https://example.org/talk"),
    "files": (UUID, [UUID]),
    "related": (UUID, [UUID]),
}  # fmt: skip

BAD: dict[str, str] = {
    "day": "1 December",
    "moment": "tomorrow at noon",
    "hours": "lots",
    "where": "the moon",
    "formats": "video, opera",
    "todo": "[x] Done @2026-13-45",
    "sessions": "not json",
}


@pytest.mark.parametrize("field_id", sorted(GOOD))
def test_each_type_parses_typed_text_and_validates(every: Template, field_id: str) -> None:
    text, expected = GOOD[field_id]
    spec = every.field(field_id)
    assert spec is not None
    value = parse_text(spec, text)
    assert value == expected
    assert validate(every, {field_id: value}) == []


@pytest.mark.parametrize("field_id", sorted(BAD))
def test_each_type_refuses_bad_text(every: Template, field_id: str) -> None:
    spec = every.field(field_id)
    assert spec is not None
    with pytest.raises(AnswerError):
        parse_text(spec, BAD[field_id])


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"line": "x" * 41}, "line", "at most 40 characters"),
        ({"line": "two\nlines"}, "line", "single line"),
        ({"hours": -1}, "hours", "at least 0"),
        ({"hours": 101}, "hours", "at most 100"),
        ({"rating": 2.5}, "rating", "whole number"),
        ({"rating": 6}, "rating", "at most 5"),
        ({"where": "moon"}, "where", "one of"),
        ({"site": "javascript:alert(1)"}, "site", "web address"),
        ({"files": ["not-an-id"]}, "files", "not an id"),
        ({"sessions": [{"hours": 1}]}, "sessions[0].title", "is required"),
        ({"sessions": [{"title": "t", "extra": 1}]}, "sessions[0].extra", "not a field"),
        ({"todo": [{"text": "x", "done": "yes"}]}, "todo[0]", "true or false"),
        ({"unknown": 1}, "unknown", "not a field"),
    ],
)
def test_validation_names_the_field_and_the_reason(
    every: Template, values: dict[str, Any], field: str, message: str
) -> None:
    problems = validate(every, values)
    assert any(p.field == field and message in p.message for p in problems), problems


def test_every_problem_is_reported_at_once(every: Template) -> None:
    with pytest.raises(InvalidAnswers) as error:
        apply_assignments(every, {}, [("day", "soon"), ("hours", "-3"), ("nope", "1")])
    assert [p.field for p in error.value.problems] == ["day", "nope", "hours"]


def test_repeated_assignments_add_to_list_fields(every: Template) -> None:
    values = apply_assignments(every, {"skills": ["old"]}, [("skills", "a"), ("skills", "b, c")])
    assert values["skills"] == ["a", "b", "c"]


def test_computed_values(every: Template) -> None:
    values = {
        "sessions": [{"title": "a", "hours": 1.5}, {"title": "b", "hours": 2}, {"title": "c"}],
        "todo": [{"text": "x", "done": True}, {"text": "y", "done": False}],
    }
    assert computed_values(every, values) == {"total": 3.5, "done": 50}
    assert computed_values(every, {}) == {"total": 0, "done": None}


# ---------------------------------------------------------------- schema errors


def _problems(text: str) -> list[str]:
    with pytest.raises(TemplateError) as error:
        parse_template(textwrap.dedent(text), "broken.toml")
    return [str(p) for p in error.value.problems]


HEADER = """
id = "broken"
version = "1.0.0"
name = "Broken"
kind = "plan"
description = "d"

[[sections]]
id = "s"
title = "S"
"""


def test_schema_errors_are_all_reported_with_line_and_field() -> None:
    problems = _problems(
        HEADER
        + """
[[sections.fields]]
id = "a"
type = "colour"
label = "A"

[[sections.fields]]
id = "a"
type = "text"
label = "Again"

[[sections.fields]]
id = "b"
type = "number"

[[sections.fields]]
id = "c"
type = "number"
label = "C"
min = 10
max = 1
"""
    )
    assert problems == [
        "broken.toml:13: field 'a': unknown type 'colour' (known types: "
        + ", ".join(FIELD_TYPES)
        + ")",
        "broken.toml:18: field 'a': duplicate id (ids must be unique in a template)",
        "broken.toml:23: field 'b': missing label",
        "broken.toml:27: field 'c': bad bounds: min (10) must be below max (1)",
    ]


def test_invalid_toml_reports_the_line() -> None:
    problems = _problems(HEADER + '\n[[sections.fields]]\nid = "a\nlabel = 1\n')
    assert len(problems) == 1
    assert problems[0].startswith("broken.toml:13: invalid TOML")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ('id = "x"\ntype = "choice"\nlabel = "X"\n', "a choice needs a non-empty list of options"),
        ('id = "x"\ntype = "scale"\nlabel = "X"\nmin = 1\nmax = 20\n', "at most 11 steps"),
        ('id = "x"\ntype = "text"\nlabel = "X"\ncolour = "red"\n', "unknown key 'colour'"),
        ('id = "x"\ntype = "group"\nlabel = "X"\n', "a group needs a list of fields"),
        ('id = "x"\ntype = "date"\nlabel = "X"\ndefault = "soon"\n', "default: must be a date"),
        ('id = "X Y"\ntype = "text"\nlabel = "X"\n', "ids use lower-case"),
        ('id = "x"\ntype = "text"\nlabel = "X"\npattern = "("\n', "not a valid regular"),
    ],
)
def test_each_schema_error(fields: str, expected: str) -> None:
    problems = _problems(HEADER + "\n[[sections.fields]]\n" + fields)
    assert any(expected in p for p in problems), problems


def test_template_header_problems() -> None:
    problems = _problems('id = "Bad Id"\nversion = "one"\nkind = "poem"\n')
    text = "\n".join(problems)
    for expected in ("needs an id", "semantic version", "needs a name", "needs a description",
                     "kind must be one of", "at least one [[sections]]"):  # fmt: skip
        assert expected in text


def test_a_missing_or_binary_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read"):
        load_template_file(tmp_path / "none.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00id")
    with pytest.raises(TemplateError, match="not UTF-8"):
        load_template_file(binary)


# --------------------------------------------------------------------- upgrades

V2 = (
    EVERY_TYPE.replace('version = "1.0.0"', 'version = "2.0.0"')
    .replace('id = "line"\ntype = "text"\nlabel = "Line"',
             'id = "headline"\ntype = "text"\nlabel = "Headline"\nprevious_ids = ["line"]')
    .replace('[[sections.fields]]\nid = "site"\ntype = "url"\nlabel = "Site"\n', "")
)  # fmt: skip


def test_an_upgrade_renames_and_keeps_removed_answers(space: Space) -> None:
    v1 = parse_template(EVERY_TYPE, "every-type.toml")
    v2 = parse_template(V2, "every-type.toml")
    assert v2.field("site") is None
    assert v2.field("headline") is not None
    answers = {"line": "First", "site": "https://example.org", "rating": 4}
    assert validate(v1, answers) == []
    record = space.add_asset(v1.qualified_id, "Old", answers, template_version=v1.version)

    fitted = upgrade_answers(v2, record.fields, record.earlier)
    assert fitted.values == {"headline": "First", "rating": 4}
    assert fitted.earlier == {"site": "https://example.org"}
    saved = space.edit_asset(
        record.id, fields=fitted.values, template_version=v2.version, earlier=fitted.earlier
    )
    again = space.get_asset(saved.id)
    assert (again.template_version, again.fields, again.earlier) == (
        "2.0.0", {"headline": "First", "rating": 4}, {"site": "https://example.org"},
    )  # fmt: skip
    rendered = to_markdown(again, v2)
    assert "Answers to an earlier version of this template" in rendered
    assert "https://example.org" in rendered
    # Going back to v1 (or a v3 that restores the field) brings the answer back.
    back = upgrade_answers(v1, again.fields, again.earlier)
    assert back.values["site"] == "https://example.org"
    assert back.earlier == {"headline": "First"}


# -------------------------------------------------------------------- rendering


def _record(template: Template, fields: dict[str, Any], title: str = "T") -> AssetRecord:
    return AssetRecord(id=UUID, version=1, template_id=template.qualified_id, title=title,
                       fields=fields, template_version=template.version)  # fmt: skip


HOSTILE = [
    "<script>alert('x')</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">click</a>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))" onclick="x()">p</p>',
]


class _Markup(HTMLParser):
    """Collects the tags and attributes a browser would actually see."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_never_survives_rendering(every: Template, payload: str) -> None:
    record = _record(every, {"notes": f"Hello {payload} world", "line": payload[:40],
                             "skills": [payload]}, title=payload)  # fmt: skip
    markup = _Markup()
    markup.feed(to_html(record, every))
    for tag, attrs in markup.tags:
        assert tag not in {"script", "style", "iframe", "svg", "object", "embed"}, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, value)
    text = " ".join(markup.text)
    assert "Hello" in text
    assert "world" in text


def test_script_in_a_markdown_answer_is_dropped_with_its_body(every: Template) -> None:
    html = to_html(_record(every, {"notes": "Before <script>steal()</script> after"}), every)
    assert "steal()" not in html
    assert "Before" in html
    assert "after" in html


def test_markdown_fields_format_and_text_fields_do_not(every: Template) -> None:
    html = to_html(_record(every, {"notes": "**bold**", "line": "**not bold**"}), every)
    assert "<strong>bold</strong>" in html
    assert "**not bold**" in html


def test_rendering_follows_sections_and_labels(every: Template) -> None:
    values = {key: parse_text(every.field(key), text) for key, (text, _) in GOOD.items()}  # type: ignore[arg-type]
    names = {UUID: "whiteboard.jpg"}
    markdown = to_markdown(_record(every, values), every, names.get)
    assert markdown.startswith("# T\n")
    assert "## Main" in markdown
    assert "**Hours:** 2.5 h" in markdown
    assert "**Rating:** 4 of 5 (poor … great)" in markdown
    assert "**Where:** On the job" in markdown
    assert "- [x] Book it (due 1 December 2026)" in markdown
    assert "**Files:** whiteboard.jpg" in markdown
    assert "**Total hours:** 1" in markdown
    assert "<https://example.org/talk>" in markdown
    html = to_html(_record(every, values), every, names.get)
    assert '<a href="https://example.org/talk" rel="noopener noreferrer">' in html


# ------------------------------------------------------------ property: round trip

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


def _answers() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "line": _text,
            "notes": st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
            "day": st.dates().map(lambda d: d.isoformat()),
            "hours": st.floats(min_value=0, max_value=100, allow_nan=False) | st.integers(0, 100),
            "rating": st.integers(1, 5),
            "where": st.sampled_from(["classroom", "on-the-job"]),
            "formats": st.lists(st.sampled_from(["video", "book", "talk"]), unique=True),
            "todo": st.lists(st.fixed_dictionaries({
                "text": _text.filter(lambda s: s.strip() != ""),
                "done": st.booleans(),
                "due": st.none() | st.dates().map(lambda d: d.isoformat())})),
            "sessions": st.lists(st.fixed_dictionaries(
                {"title": _text.filter(lambda s: s.strip() != "")},
                optional={"hours": st.integers(0, 10)})),
            "skills": st.lists(_text.filter(lambda s: s.strip() != ""), unique=True, max_size=4),
        },
    )  # fmt: skip


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answers=_answers())
def test_valid_answers_round_trip_through_save_load_and_render(
    space: Space, every: Template, answers: dict[str, Any]
) -> None:
    assert validate(every, answers) == []
    record = space.add_asset(every.qualified_id, "Round trip", answers, template_version="1.0.0")
    loaded = space.get_asset(record.id)
    assert loaded.fields == answers
    first = to_markdown(loaded, every)
    assert to_markdown(space.get_asset(record.id), every) == first
    assert to_html(loaded, every)  # renders without error
    assert loaded.fields == answers  # rendering changed nothing


def test_markdown_inside_a_group_row_stays_in_its_row(every: Template) -> None:
    every_group = parse_template(
        EVERY_TYPE.replace(
            'id = "hours"\ntype = "number"\nlabel = "Hours"\nmin = 0',
            'id = "notes"\ntype = "markdown"\nlabel = "Notes"',
        )
        .replace('field = "sessions.hours"', 'field = "sessions.notes"')
        .replace('"sum"', '"latest"'),
        "every-type.toml",
    )
    rows = [{"title": "First", "notes": "Points:\n\n- alpha\n- beta"}, {"title": "Second"}]
    html = to_html(_record(every_group, {"sessions": rows}), every_group)
    html = html[html.index("<ol>") :]  # the rows (the summary above quotes the latest notes)
    first, second = html.index("First"), html.index("Second")
    assert first < html.index("alpha") < html.index("beta") < second
    assert "<li>beta</li>" in html
    assert "2. " not in html  # the second row is a list item, not text glued to the first
