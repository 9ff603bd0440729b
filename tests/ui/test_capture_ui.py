"""Capture in the desktop app: inbox folders in Preferences, the Captured view and its actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from app.capture import CaptureSettings
from app.forms.library import TemplateLibrary
from tests.conftest import PASSPHRASE
from ui import asset_picker
from ui.library import COUNT_ROLE, KIND_FILTERS
from ui.main_window import MainWindow

CAPTURED_ROW = [label for label, _kinds in KIND_FILTERS].index("Captured")
FAST = CaptureSettings(settle_seconds=0.2, folder_poll_seconds=0.2, retry_seconds=0.5)


def _photo(path: Path) -> Path:
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor(200, 120, 40))
    assert image.save(str(path))
    return path


def _captured_count(window: MainWindow) -> int:
    return int(window.library.sidebar.item(CAPTURED_ROW).data(COUNT_ROLE) or 0)


def test_a_photo_in_an_inbox_folder_waits_under_captured(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = unlocked
    window.capture._settings = FAST
    inbox = tmp_path / "Phone uploads"
    inbox.mkdir()
    window.preferences_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    monkeypatch.setattr(dialog, "_ask_folder", lambda start, title="": str(inbox))
    qtbot.mouseClick(dialog.add_inbox, Qt.MouseButton.LeftButton)
    assert window.capture.watching
    dialog.close()

    _photo(inbox / "whiteboard_after_workshop.png")
    qtbot.waitUntil(lambda: _captured_count(window) == 1, timeout=15000)
    assert "See Captured" in window.statusBar().currentMessage()
    window.library.sidebar.setCurrentRow(CAPTURED_ROW)
    assert window.library.review_bar.isVisible()
    assert window.library.model.rowCount() == 1
    assert window.library.model.index(0, 0).data() == "whiteboard after workshop"
    assert window.space is not None
    evidence_id = window.library.model.summary(0).id
    [info] = window.space.attachments(evidence_id)
    assert window.space.thumbnail(info.id) is not None  # stored, encrypted, with the file

    # Write a reflection about it: a new reflection already linked to the evidence.
    qtbot.mouseClick(window.library.reflect_button, Qt.MouseButton.LeftButton)
    editor = window.editor
    assert editor is not None
    assert editor.template.qualified_id == "builtin/reflection"
    assert editor.connections.targets == [evidence_id]
    assert not editor.dirty
    window.editing.leave_editor()

    # Link it to a plan: that also takes it out of Captured.
    plan = window.space.add_asset("builtin/smart-plan", "Facilitate well", {},
                                  template=TemplateLibrary.load().get("smart-plan"))  # fmt: skip
    window.refresh_library()
    qtbot.waitUntil(lambda: plan.id in window.editing.directory, timeout=10000)
    offered: list[list[str]] = []

    def choose(entries, chosen, parent):  # type: ignore[no-untyped-def]
        offered.append([e.title for e in entries])
        return [plan.id], True

    monkeypatch.setattr(asset_picker.AssetPicker, "choose", staticmethod(choose))
    window.library.sidebar.setCurrentRow(CAPTURED_ROW)
    qtbot.mouseClick(window.library.link_button, Qt.MouseButton.LeftButton)
    assert offered == [["Facilitate well"]]  # plans and reflections only
    qtbot.waitUntil(lambda: _captured_count(window) == 0, timeout=10000)
    assert window.space.get_asset(evidence_id).fields["supports"] == [plan.id]
    assert [s.id for s in window.space.linked_from(plan.id)] == [evidence_id]


def test_files_arriving_while_locked_come_in_at_the_next_unlock(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path
) -> None:
    from ui import preferences

    window = unlocked
    window.capture._settings = FAST
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    preferences.set_inbox_folders(window.settings, [(inbox, "move")])
    window.lock()
    window.runner.wait()
    assert not window.capture.watching
    _photo(inbox / "certificate.png")
    window.unlock_page.passphrase.setText(PASSPHRASE)
    window.unlock_page.unlock_button.click()
    qtbot.waitUntil(lambda: window.space is not None, timeout=10000)
    qtbot.waitUntil(lambda: _captured_count(window) == 1, timeout=15000)
    assert (inbox / "imported" / "certificate.png").exists()  # moved aside, as chosen
    assert not (inbox / "certificate.png").exists()


def test_extra_ignore_patterns_from_preferences(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path
) -> None:
    from ui import preferences

    window = unlocked
    window.capture._settings = FAST
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    preferences.set_inbox_folders(window.settings, [(inbox, "keep")])
    window.preferences_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.inbox_ignore, "*.xmp, draft-*")
    dialog.inbox_ignore.editingFinished.emit()
    dialog.close()
    assert preferences.inbox_ignore(window.settings) == ("*.xmp", "draft-*")
    (inbox / "photo.xmp").write_text("<x:xmpmeta/>")
    (inbox / "draft-notes.txt").write_text("not yet")
    (inbox / "notes.txt").write_text("Agenda and actions")
    qtbot.waitUntil(lambda: _captured_count(window) == 1, timeout=15000)
    assert window.capture.service is not None
    assert window.capture.service.wait_until_idle(10)
    assert window.space is not None
    assert [s.title for s in window.space.list_assets()[0]] == ["notes"]
