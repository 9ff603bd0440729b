"""The built-in library and the `cairn templates` commands, as a person uses them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.forms.answers import computed_values, defaults, validate
from app.forms.library import TemplateLibrary, builtin_templates
from app.forms.model import FieldSpec, Template
from app.forms.render import to_html, to_markdown
from app.space import Space

TEMPLATE_FOLDER = Path(__file__).resolve().parents[2] / "templates"
BUILTINS = builtin_templates()
UUID = "3a3d989a-bae5-4611-abc6-912a355060b2"


def sample(spec: FieldSpec) -> Any:
    """A valid answer for any field, honouring options and bounds."""
    kind = spec.type
    if kind == "group":
        return [
            {sub.id: sample(sub) for sub in spec.fields},
            {sub.id: sample(sub) for sub in spec.fields},
        ]
    low = spec.minimum if spec.minimum is not None else 1
    values: dict[str, Any] = {
        "text": f"A {spec.label.lower()}"[: spec.max_length or 200],
        "markdown": f"Some **thoughts** on {spec.label.lower()}.\n\n- one\n- two",
        "date": "2026-11-20",
        "datetime": "2026-11-20T09:30",
        "number": int(low) if spec.integer else low + 0.5,
        "scale": int(spec.maximum or 5),
        "choice": spec.options[0].value if spec.options else None,
        "multichoice": [o.value for o in spec.options[:2]],
        "checklist": [
            {"text": "First step", "done": True, "due": "2026-12-01"},
            {"text": "Second step", "done": False, "due": None},
        ],  # fmt: skip
        "skills": ["listening"],
        "url": "https://example.org/notes",
        "attachment": [UUID],
        "link": [UUID],
    }
    return values[kind]


def test_there_are_at_least_12_builtin_templates_using_every_type() -> None:
    assert len(BUILTINS) >= 12
    used = {f.type for t in BUILTINS for f in t.fields} | {
        sub.type for t in BUILTINS for f in t.fields for sub in f.fields
    }
    assert used == {
        "text", "markdown", "date", "datetime", "number", "scale", "choice", "multichoice",
        "checklist", "group", "skills", "url", "attachment", "link",
    }  # fmt: skip
    for template in BUILTINS:
        every = [*template.fields, *(sub for f in template.fields for sub in f.fields)]
        thinking = [f for f in every if f.type == "markdown"]
        assert thinking, template.id
        assert all(f.prompt.endswith("?") or f.prompt.endswith(".") for f in thinking), (
            f"{template.id}: every long-text field asks a guiding question"
        )


def test_every_builtin_template_passes_the_check(cli) -> None:  # type: ignore[no-untyped-def]
    files = sorted(TEMPLATE_FOLDER.glob("*.toml"))
    result = cli("templates", "check", *files)
    assert result.code == 0, result.out
    assert f"ok: {len(files)} template file(s) checked" in result.out


@pytest.mark.parametrize("template", BUILTINS, ids=[t.id for t in BUILTINS])
def test_an_asset_of_each_template_is_created_validated_and_rendered(
    space: Space, template: Template
) -> None:
    answers = {**defaults(template), **{f.id: sample(f) for f in template.fields}}
    assert validate(template, answers) == []
    record = space.add_asset(template.qualified_id, f"My {template.name}", answers,
                             template_version=template.version)  # fmt: skip
    loaded = space.get_asset(record.id)
    assert loaded.fields == answers
    markdown = to_markdown(loaded, template)
    html = to_html(loaded, template)
    for section in template.sections:
        assert f"## {section.title}".replace("-", "\\-") in markdown or section.title in markdown
        assert section.title.replace("&", "&amp;").split("'")[0] in html
    for item in template.computed:
        assert computed_values(template, loaded.fields)[item.id] is not None
        assert item.label in markdown


def test_templates_list_and_show_as_json(cli) -> None:  # type: ignore[no-untyped-def]
    listed = json.loads(cli("templates", "list", "--json").out)
    assert {"id", "version", "name", "kind", "source"} <= set(listed[0])
    assert "builtin/smart-plan" in {t["id"] for t in listed}
    shown = json.loads(cli("templates", "show", "smart-plan", "--json").out)
    fields = [f for s in shown["sections"] for f in s["fields"]]
    assert all({"id", "type", "label"} <= set(f) for f in fields)
    assert shown["id"] == "builtin/smart-plan"
    assert cli("templates", "show", "no-such-template").code == 2


def test_check_lists_every_problem_and_exits_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.toml"
    broken.write_text(
        'id = "broken"\nversion = "1"\nname = "B"\nkind = "plan"\ndescription = "d"\n'
        '[[sections]]\nid = "s"\ntitle = "S"\n'
        '[[sections.fields]]\nid = "a"\ntype = "wish"\nlabel = "A"\n'
        '[[sections.fields]]\nid = "a"\ntype = "text"\n'
    )
    result = cli("templates", "check", broken)
    assert result.code == 2
    lines = result.out.strip().splitlines()
    assert any("semantic version" in line for line in lines)
    assert any(":10: field 'a': unknown type 'wish'" in line for line in lines)
    assert any(":14: field 'a': duplicate id" in line for line in lines)
    assert any(":14: field 'a': missing label" in line for line in lines)


def test_own_templates_are_copied_namespaced_and_used(cli, space_path: Path) -> None:  # type: ignore[no-untyped-def]
    copied = cli("templates", "copy", "journal", "my-journal")
    assert copied.code == 0, copied.err
    listed = {t["id"]: t for t in json.loads(cli("templates", "list", "--json").out)}
    assert listed["user/my-journal"]["source"] == "user"
    assert "builtin/journal" in listed
    assert cli("init", space_path).code == 0
    added = cli("add", space_path, "--template", "my-journal", "--title", "Mine",
                "--set", "entry=hello", "--json")  # fmt: skip
    shown = json.loads(cli("show", space_path, json.loads(added.out)["id"], "--json").out)
    assert shown["template"] == "user/my-journal"
    assert shown["fields"]["date"] == date.today().isoformat()  # the "today" default
    assert cli("templates", "copy", "journal", "my-journal").code == 2  # exists already
    assert TemplateLibrary.load().get("my-journal").source == "user"


def test_add_validates_typed_values_and_saves_nothing_when_invalid(cli, space_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", space_path).code == 0
    bad = cli("add", space_path, "--template", "cpd-log", "--title", "2026",
              "--set", "period_start=last spring", "--set", "colour=blue")  # fmt: skip
    assert bad.code == 2
    assert "period_start: 'last spring' is not a date" in bad.err
    assert "colour: is not a field of this template" in bad.err
    assert json.loads(cli("list", space_path, "--json").out) == []
    good = cli("add", space_path, "--template", "cpd-log", "--title", "2026", "--json",
               "--set", 'activities=[{"activity": "Facilitation course", "hours": 6}]',
               "--set", 'activities=[{"activity": "Mentoring", "hours": 1.5}]')  # fmt: skip
    assert good.code == 0, good.err
    asset = json.loads(good.out)["id"]
    shown = json.loads(cli("show", space_path, asset, "--json").out)
    assert shown["computed"]["total_hours"] == 7.5
    markdown = cli("show", space_path, asset, "--format", "markdown").out
    assert markdown.startswith("# 2026")
    assert "Facilitation course" in markdown
    html = cli("show", space_path, asset, "--format", "html").out
    assert html.startswith('<article class="cairn-asset">')


def test_editing_keeps_answers_and_refuses_invalid_changes(cli, space_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", space_path).code == 0
    asset = json.loads(cli("add", space_path, "--template", "smart-plan", "--title", "Plan",
                           "--set", "specific=x", "--set", "deadline=2026-12-31",
                           "--json").out)["id"]  # fmt: skip
    assert cli("edit", space_path, asset, "--set", "confidence=7").code == 2
    assert cli("edit", space_path, asset, "--unset", "deadline").code == 2  # required
    assert cli("edit", space_path, asset, "--set", "actions=[ ] Start").code == 0
    shown = json.loads(cli("show", space_path, asset, "--json").out)
    assert shown["version"] == 2
    assert shown["fields"]["specific"] == "x"
    assert shown["fields"]["actions"] == [{"text": "Start", "done": False, "due": None}]


def test_a_new_template_version_keeps_every_answer(cli, space_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A person changes their own template: a field renamed, another removed."""
    copied = cli("templates", "copy", "what-so-what-now-what", "debrief", "--json")
    path = Path(json.loads(copied.out)["path"])
    assert cli("init", space_path).code == 0
    asset = json.loads(cli("add", space_path, "--template", "debrief", "--title", "Outage",
                           "--set", "what=The deploy failed", "--set", "so_what=No rollback plan",
                           "--set", "now_what=Write one", "--json").out)["id"]  # fmt: skip

    text = path.read_text()
    text = text.replace('version = "1.0.0"', 'version = "2.0.0"')
    text = text.replace('id = "so_what"', 'id = "impact"\nprevious_ids = ["so_what"]')
    start = text.index('[[sections.fields]]\nid = "now_what"')
    end = text.index("[[sections", start + 10)
    path.write_text(text[:start] + text[end:])
    assert cli("templates", "check", path).code == 0

    assert cli("edit", space_path, asset, "--title", "The outage").code == 0
    shown = json.loads(cli("show", space_path, asset, "--json").out)
    assert shown["template_version"] == "2.0.0"
    assert shown["fields"]["impact"] == "No rollback plan"
    assert "so_what" not in shown["fields"]
    assert "now_what" not in shown["fields"]
    markdown = cli("show", space_path, asset, "--format", "markdown").out
    assert "## Answers to an earlier version of this template" in markdown
    assert "Write one" in markdown


def test_sources_are_namespaced_so_ids_never_collide(tmp_path: Path) -> None:
    user, org = tmp_path / "user", tmp_path / "acme"
    user.mkdir()
    org.mkdir()
    journal = (TEMPLATE_FOLDER / "journal.toml").read_text()
    (user / "journal.toml").write_text(journal.replace('name = "', 'name = "My ', 1))
    (org / "journal.toml").write_text(journal.replace('name = "', 'name = "Acme ', 1))
    (org / "broken.toml").write_text("id = ")
    library = TemplateLibrary.load(user_folder=user, org_folders={"acme": org})
    ids = {t.qualified_id for t in library.all()}
    assert {"builtin/journal", "user/journal", "org/acme/journal"} <= ids
    assert library.get("org/acme/journal").name.startswith("Acme ")
    with pytest.raises(LookupError, match="ambiguous"):
        library.get("journal")
    assert library.get("smart-plan").qualified_id == "builtin/smart-plan"
    assert [p.file for p in library.problems] == [str(org / "broken.toml")]
