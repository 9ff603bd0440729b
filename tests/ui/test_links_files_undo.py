"""Undo in the editor, links seen from both sides, and attachments, in the real window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from app.forms.library import TemplateLibrary
from ui.editor import AssetEditor
from ui.fields import AttachmentInput, LinkInput
from ui.main_window import MainWindow


def _editor(window: MainWindow) -> AssetEditor:
    assert window.editor is not None
    return window.editor


def _open(qtbot, window: MainWindow, asset_id: str) -> AssetEditor:  # type: ignore[no-untyped-def]
    window.editing.open_asset(asset_id)
    qtbot.waitUntil(
        lambda: window.editor is not None
        and window.editor.record is not None
        and window.editor.record.id == asset_id,
        timeout=10000,
    )
    window.runner.wait()
    qtbot.wait(10)  # deliver the connections read queued after opening
    return _editor(window)


def test_undo_and_redo_cover_typing_ticks_and_rows(qtbot, unlocked: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    window.open_editor(window.templates["builtin/smart-plan"], None)
    editor = _editor(window)
    assert not window.undo_action.isEnabled()
    qtbot.keyClicks(editor.title, "Run better meetings")
    editor._record_step()  # as after a pause in typing
    actions = editor.inputs["actions"]
    qtbot.mouseClick(actions.add_button, Qt.MouseButton.LeftButton)  # type: ignore[attr-defined]
    qtbot.keyClicks(actions.rows[0].body.text, "Draft an agenda")  # type: ignore[attr-defined]
    editor._record_step()
    assert window.undo_action.isEnabled()

    # Ctrl+Z in a text box is the editor's undo, not the box's own.
    editor.title.setFocus()
    qtbot.keyClick(editor.title, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.inputs["actions"].value() is None
    assert editor.title.text() == "Run better meetings"
    qtbot.keyClick(editor.title, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.title.text() == ""
    assert not editor.can_undo
    window.redo_action.trigger()
    window.redo_action.trigger()
    assert editor.title.text() == "Run better meetings"
    assert editor.inputs["actions"].value() == [
        {"text": "Draft an agenda", "done": False, "due": None}
    ]
    assert not editor.can_redo
    assert editor.dirty  # undo and redo are edits: autosave will keep what they left
    assert editor.status.text() == "Unsaved changes"


def test_links_by_hand_and_by_field_show_from_both_sides(qtbot, unlocked: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    space = window.space
    assert space is not None
    library = TemplateLibrary.load()
    plan = space.add_asset("builtin/smart-plan", "Facilitate the retro", {"status": "in-progress"},
                           template=library.get("smart-plan"))  # fmt: skip
    reflection = space.add_asset("builtin/reflection", "How the retro went", {})
    evidence = space.add_asset("builtin/evidence", "Retro board photo", {})
    window.refresh_library()
    qtbot.waitUntil(lambda: len(window.editing.directory) == 3, timeout=10000)

    editor = _open(qtbot, window, evidence.id)
    chooser_saw: list[list[str]] = []

    def choose(entries, chosen, parent):  # type: ignore[no-untyped-def]
        chooser_saw.append([e.label for e in entries])
        return [plan.id]

    editor.context.choose_assets = choose
    supports = editor.inputs["supports"]
    assert isinstance(supports, LinkInput)
    qtbot.mouseClick(supports.choose_button, Qt.MouseButton.LeftButton)
    # The picker lists the others by title and kind, never this one or a raw id.
    reflection_label = "How the retro went · Structured reflection (Gibbs)"
    assert sorted(chooser_saw[0]) == ["Facilitate the retro · SMART action plan", reflection_label]
    assert supports.rows.itemAt(0).widget().label.text() == (  # type: ignore[union-attr]
        "Facilitate the retro · SMART action plan"
    )
    editor.context.choose_assets = lambda entries, chosen, parent: [reflection.id]
    qtbot.mouseClick(editor.connections.add_button, Qt.MouseButton.LeftButton)
    assert editor.connections.links.item(0).text() == reflection_label
    editor.save_now()
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)
    saved = space.get_asset(evidence.id)
    assert {"target": plan.id, "field": "supports"} in saved.links
    assert {"target": reflection.id} in saved.links

    # The other side: the plan shows the evidence under "Linked from".
    plan_editor = _open(qtbot, window, plan.id)
    qtbot.waitUntil(lambda: plan_editor.connections.linked_from.count() == 1, timeout=10000)
    assert plan_editor.connections.linked_from.item(0).text() == "Retro board photo · Evidence"
    # ... and opening it from there goes to the evidence.
    plan_editor.connections.linked_from.itemActivated.emit(
        plan_editor.connections.linked_from.item(0))
    qtbot.waitUntil(lambda: window.editor is not None and window.editor is not plan_editor
                    and window.editor.record is not None
                    and window.editor.record.id == evidence.id, timeout=10000)  # fmt: skip

    # Removing the hand-made link (Delete key) is saved, and the reflection no longer shows it.
    editor = _editor(window)
    editor.connections.links.setCurrentRow(0)
    qtbot.keyClick(editor.connections.links, Qt.Key.Key_Delete)
    editor.save_now()
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)
    assert space.linked_from(reflection.id) == []
    assert [s.id for s in space.linked_from(plan.id)] == [evidence.id]


def _png(path: Path) -> Path:
    image = QImage(400, 300, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 120, 200))
    assert image.save(str(path))
    return path


def test_attachments_add_thumbnail_open_save_copy_and_delete(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = unlocked
    window.open_editor(window.templates["builtin/evidence"], None)
    editor = _editor(window)
    picture = _png(tmp_path / "whiteboard.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("Agenda: timings, parking lot.\n")

    # Attaching to a new item without a title: nothing is attached, and it says why.
    window.editing.attach_files([str(picture)])
    assert not editor.title_problem.isHidden()

    qtbot.keyClicks(editor.title, "Workshop board")
    field = editor.inputs["file"]
    assert isinstance(field, AttachmentInput)
    monkeypatch.setattr(editor.attachments, "ask_files", lambda: [str(picture)])
    qtbot.mouseClick(field.attach_button, Qt.MouseButton.LeftButton)  # saves first, then attaches
    qtbot.waitUntil(lambda: field.value() is not None, timeout=10000)
    window.editing.attach_files([str(notes)])  # as a drop on the panel does
    qtbot.waitUntil(lambda: len(editor.context.attachments) == 2, timeout=10000)
    space = window.space
    assert space is not None
    assert editor.record is not None
    infos = {info.name: info for info in space.attachments(editor.record.id)}
    assert set(infos) == {"whiteboard.png", "notes.txt"}
    assert field.value() == [infos["whiteboard.png"].id]  # the field got the file it asked for
    editor.save_now()
    qtbot.waitUntil(lambda: editor.status.text() == "Saved", timeout=10000)
    assert space.get_asset(editor.record.id).fields["file"] == [infos["whiteboard.png"].id]

    # The image gets a thumbnail in the panel.
    qtbot.waitUntil(lambda: infos["whiteboard.png"].id in editor.attachments.thumbnails,
                    timeout=10000)  # fmt: skip

    # Save a copy: byte-identical.
    copy = tmp_path / "out" / "copy.png"
    copy.parent.mkdir()
    window.editing.save_attachment_copy(infos["whiteboard.png"].id, str(copy))
    window.runner.wait()
    assert copy.read_bytes() == picture.read_bytes()

    # Open: decrypted into the private folder for the system's application; wiped on lock.
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    window.editing.open_attachment(infos["notes.txt"].id)
    qtbot.waitUntil(lambda: bool(opened), timeout=10000)
    temporary = Path(opened[0].toLocalFile())
    assert temporary.read_text() == "Agenda: timings, parking lot.\n"
    assert temporary.stat().st_mode & 0o077 == 0

    # Delete: gone from the space, the panel and the field.
    window.editing.delete_attachment(infos["whiteboard.png"].id)
    qtbot.waitUntil(lambda: len(editor.context.attachments) == 1, timeout=10000)
    assert field.value() is None
    window.runner.wait()
    assert [i.name for i in space.attachments(editor.record.id)] == ["notes.txt"]

    window.lock()
    window.runner.wait()
    assert not temporary.exists()


def test_files_dropped_on_the_editor_are_attached(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path
) -> None:
    window = unlocked
    assert window.space is not None
    record = window.space.add_asset("builtin/reflection", "After the workshop", {})
    editor = _open(qtbot, window, record.id)
    picture = _png(tmp_path / "flipchart.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture)), QUrl.fromLocalFile(str(tmp_path))])
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    enter = QDragEnterEvent(QPoint(300, 300), actions, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(editor, enter)
    assert enter.isAccepted()
    dropped = QDropEvent(QPointF(300, 300), actions, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(editor, dropped)
    assert dropped.dropAction() == Qt.DropAction.CopyAction  # the original stays where it was
    qtbot.waitUntil(lambda: len(editor.context.attachments) == 1, timeout=10000)  # not the folder
    assert [i.name for i in window.space.attachments(record.id)] == ["flipchart.png"]
    assert picture.exists()


def test_opening_a_file_that_would_run_as_a_program_asks_first(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = unlocked
    assert window.space is not None
    record = window.space.add_asset("builtin/evidence", "Tool", {})
    script = tmp_path / "setup.desktop"
    script.write_text("[Desktop Entry]\nExec=rm -rf ~\n")
    info = window.space.attach(record.id, script)
    editor = _open(qtbot, window, record.id)
    assert info.id in editor.attachments.infos
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    asked: list[str] = []
    monkeypatch.setattr(window.editing, "confirm_risky_open",
                        lambda name: asked.append(name) or False)  # fmt: skip
    window.editing.open_attachment(info.id)
    window.runner.wait()
    qtbot.wait(20)
    assert asked == ["setup.desktop"]
    assert opened == []  # declined: nothing decrypted, nothing run
