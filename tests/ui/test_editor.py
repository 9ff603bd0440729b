"""Creating and editing assets in forms generated from templates."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.forms.library import builtin_templates
from app.forms.model import Template
from app.space import Space
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE
from ui.editor import AssetEditor, TemplatePicker
from ui.fields import ChecklistInput, make_input
from ui.main_window import MainWindow


def test_every_field_type_has_an_input_that_round_trips(qtbot) -> None:  # type: ignore[no-untyped-def]
    samples = {
        "text": "one line", "markdown": "**bold**\n\nmore", "date": "2026-12-01",
        "datetime": "2026-12-01T09:30", "number": 2.5, "scale": 4, "choice": None,
        "multichoice": None, "skills": ["listening", "SQL"],
        "url": "https://example.org", "attachment": None, "link": None,
        "checklist": [{"text": "Book it", "done": True, "due": "2026-12-01"},
                      {"text": "Ask Sam", "done": False, "due": None}],
    }  # fmt: skip
    seen = set()
    for template in builtin_templates():
        for spec in template.fields:
            if spec.type in seen or spec.type == "group":
                continue
            widget = make_input(spec)
            qtbot.addWidget(widget)
            value = samples.get(spec.type)
            if spec.type in ("choice", "multichoice"):
                value = spec.options[0].value if spec.type == "choice" else [spec.options[0].value]
            if spec.type in ("attachment", "link"):
                value = ["3a3d989a-bae5-4611-abc6-912a355060b2"]
            if spec.type == "scale":
                value = int(spec.maximum or 5)
            widget.set_value(value)
            assert widget.value() == value, spec.type
            widget.set_value(None)
            assert widget.value() is None, spec.type
            seen.add(spec.type)
    assert len(seen) == 13  # every type but group, which is tested through its template


def test_picker_shows_each_template_with_its_purpose(qtbot) -> None:  # type: ignore[no-untyped-def]
    templates = builtin_templates()
    picker = TemplatePicker(templates)
    qtbot.addWidget(picker)
    assert picker.list.count() == len(templates)
    texts = [picker.list.item(i).text() for i in range(picker.list.count())]
    assert any(text.startswith("SMART action plan\nTurn an intention") for text in texts)
    picker.list.setCurrentRow(texts.index(next(t for t in texts if t.startswith("Journal"))))
    chosen = picker.chosen()
    assert chosen is not None
    assert chosen.id == "journal"


def _plan(window: MainWindow) -> Template:
    return window.templates["builtin/smart-plan"]


def test_a_new_plan_is_saved_only_when_valid_and_problems_show_inline(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow
) -> None:
    window = unlocked
    window.open_editor(_plan(window), None)
    editor = window.editor
    assert isinstance(editor, AssetEditor)
    assert window.save_action.isEnabled()
    qtbot.keyClicks(editor.title, "Run better stand-ups")
    editor.inputs["specific"].set_value("Stand-ups that end on time")
    window.save_action.trigger()
    assert editor.problem_labels["deadline"].isVisibleTo(editor)
    assert editor.problem_labels["deadline"].text() == "Is required"
    assert editor.status.text() == "Not saved: 1 thing to fix"
    assert window.space is not None
    assert window.space.list_assets()[0] == []  # nothing half-saved

    editor.inputs["deadline"].set_value("2026-12-31")
    checklist = editor.inputs["actions"]
    assert isinstance(checklist, ChecklistInput)
    qtbot.mouseClick(checklist.add_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(checklist.rows[0].body.text, "Ask Sam to observe one")  # type: ignore[attr-defined]
    checklist.rows[0].body.done.setChecked(True)  # type: ignore[attr-defined]
    assert "Progress: 100 %" in editor.summary.text()
    window.save_action.trigger()
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)
    assert not editor.problem_labels["deadline"].isVisibleTo(editor)
    summaries, _ = window.space.list_assets()
    assert [s.title for s in summaries] == ["Run better stand-ups"]
    stored = window.space.get_asset(summaries[0].id)
    assert stored.template_id == "builtin/smart-plan"
    assert stored.template_version == "1.0.0"
    assert stored.fields["actions"] == [
        {"text": "Ask Sam to observe one", "done": True, "due": None}
    ]
    assert stored.fields["status"] == "not-started"  # the template's default


def test_autosave_after_a_pause_and_reopening_edits_the_same_asset(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow
) -> None:
    window = unlocked
    journal = window.templates["builtin/journal"]
    window.open_editor(journal, None)
    editor = window.editor
    assert editor is not None
    qtbot.keyClicks(editor.title, "Tuesday")
    qtbot.keyClicks(editor.inputs["entry"].edit, "Paired with Priya on the outage review.")  # type: ignore[attr-defined]
    assert editor.status.text() == "Unsaved changes"
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)  # no click: autosave
    assert window.space is not None
    first = window.space.list_assets()[0]
    assert [s.title for s in first] == ["Tuesday"]

    qtbot.mouseClick(editor.back_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.library
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=10000)
    window.library.open_requested.emit(first[0].id)
    qtbot.waitUntil(lambda: window.editor is not None, timeout=10000)
    reopened = window.editor
    assert reopened is not None
    assert reopened.title.text() == "Tuesday"
    assert reopened.inputs["entry"].value() == "Paired with Priya on the outage review."
    reopened.inputs["mood"].set_value(4)
    reopened.inputs["mood"].changed.emit()
    reopened.save_now()
    qtbot.waitUntil(lambda: reopened.status.text() == "Saved", timeout=10000)
    history = window.space.history(first[0].id)
    assert [v.version for v in history] == [1, 2]
    assert window.space.get_asset(first[0].id).fields["mood"] == 4


def test_lock_saves_valid_edits_first_so_nothing_is_lost(
    qtbot, unlocked: MainWindow, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    window.open_editor(window.templates["builtin/journal"], None)
    editor = window.editor
    assert editor is not None
    qtbot.keyClicks(editor.title, "Written just before lunch")
    qtbot.keyClicks(editor.inputs["entry"].edit, "Then the laptop locked.")  # type: ignore[attr-defined]
    path = window.space.path if window.space else None
    window.lock()
    window.runner.wait()
    assert window.stack.currentWidget() is window.unlock_page
    assert path is not None
    with Space.open(path, PASSPHRASE, kdf_policy=kdf_policy, index="lazy") as space:
        assert [s.title for s in space.list_assets()[0]] == ["Written just before lunch"]


def test_tags_typed_in_the_editor_are_saved_and_listed(qtbot, unlocked: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    window.open_editor(window.templates["builtin/journal"], None)
    editor = window.editor
    assert editor is not None
    qtbot.keyClicks(editor.title, "Demo day")
    editor.inputs["entry"].set_value("Showed the new onboarding flow.")
    qtbot.keyClicks(editor.tags, "presenting, Team,  presenting ")
    editor.save_now()
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)
    assert window.space is not None
    [summary] = window.space.list_assets()[0]
    assert summary.tags == ["presenting", "Team"]
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=10000)
    assert window.library.model.index(0, 3).data() == "presenting, Team"


def test_history_shows_versions_and_restores_one(qtbot, unlocked: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    assert window.space is not None
    record = window.space.add_asset("builtin/journal", "Draft", {"entry": "first thoughts"})
    window.space.edit_asset(record.id, title="Final", fields={"entry": "second thoughts"})
    window.library.open_requested.emit(record.id)
    qtbot.waitUntil(lambda: window.editor is not None, timeout=10000)
    editor = window.editor
    assert editor is not None
    assert editor.title.text() == "Final"
    qtbot.mouseClick(editor.history_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.editing.history_dialog is not None, timeout=10000)
    dialog = window.editing.history_dialog
    assert dialog is not None
    assert dialog.versions.count() == 2
    assert "(current)" in dialog.versions.item(0).text()
    assert not dialog.restore_button.isEnabled()  # the current version
    dialog.versions.setCurrentRow(1)
    qtbot.waitUntil(lambda: "first thoughts" in dialog.preview.toPlainText(), timeout=10000)
    assert "Draft" in dialog.preview.toPlainText()
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.title.text() == "Draft", timeout=10000)
    assert editor.inputs["entry"].value() == "first thoughts"
    assert [v.version for v in window.space.history(record.id)] == [1, 2, 3]


def test_the_dashboard_shows_plans_and_opens_them(qtbot, unlocked: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    assert window.space is not None
    plan = window.space.add_asset("builtin/smart-plan", "Better stand-ups", {
        "specific": "x", "deadline": "2026-12-31",
        "actions": [{"text": "a", "done": True}, {"text": "b", "done": False}]})  # fmt: skip
    window.lock()
    window.runner.wait()
    window.unlock_space(window.unlock_page.current_path(), PASSPHRASE)
    library = window.library
    qtbot.waitUntil(lambda: library.content.currentWidget() is library.dashboard, timeout=10000)
    from PySide6.QtWidgets import QProgressBar, QPushButton

    qtbot.waitUntil(lambda: bool(library.dashboard.plans.findChildren(QProgressBar)), timeout=10000)
    [bar] = library.dashboard.plans.findChildren(QProgressBar)
    assert bar.value() == 50
    [button] = [b for b in library.dashboard.plans.findChildren(QPushButton)
                if b.text() == "Better stand-ups"]  # fmt: skip
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.editor is not None, timeout=10000)
    assert window.editor is not None
    assert window.editor.record is not None
    assert window.editor.record.id == plan.id


def _demo_answers() -> dict[str, dict]:  # type: ignore[type-arg]
    from datetime import date

    from app.demo import demo_assets

    answers: dict[str, dict] = {}  # type: ignore[type-arg]
    for template_id, _title, values, _tags, _days in demo_assets(date(2026, 11, 1)):
        answers.setdefault(template_id.rsplit("/", 1)[-1], values)
    return answers


@pytest.mark.parametrize("template_id", sorted(t.id for t in builtin_templates()))
def test_create_from_each_template_through_its_form(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, template_id: str
) -> None:
    window = unlocked
    template = window.templates[f"builtin/{template_id}"]
    window.open_editor(template, None)
    editor = window.editor
    assert editor is not None
    qtbot.keyClicks(editor.title, f"A {template.name}")
    answers = _demo_answers().get(template_id, {})
    for field_id, value in answers.items():
        spec = template.field(field_id)
        if spec is not None and spec.type not in ("link", "attachment"):
            editor.inputs[field_id].set_value(value)
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)
    assert window.space is not None
    [summary] = window.space.list_assets()[0]
    assert summary.template_id == f"builtin/{template_id}"
    saved = window.space.get_asset(summary.id).fields
    for field_id, value in saved.items():  # what the widgets gave back is what was typed
        if field_id in answers:
            assert value == answers[field_id], field_id
