"""The attachments panel: what it shows, and what it asks its owner to do."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QIODevice,
    QMimeData,
    QPoint,
    QPointF,
    Qt,
    QTimer,
    QUrl,
)
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent, QImage, QImageWriter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from app.thumbnails import thumbnail_png
from store.records import AttachmentInfo
from ui.attachments import DETAILS_ROLE, AttachmentsPanel


def info(name: str, size: int, media_type: str) -> AttachmentInfo:
    return AttachmentInfo(id=str(uuid.uuid4()), asset_id=str(uuid.uuid4()), name=name, size=size,
                          sha256="0" * 64, media_type=media_type,
                          created="2026-03-01T10:00:00+00:00")  # fmt: skip


PHOTO = info("whiteboard.jpg", 2_412_000, "image/jpeg")
REPORT = info("report.pdf", 310_000, "application/pdf")
VIDEO = info("workshop.mp4", 154_000_000, "video/mp4")


@pytest.fixture
def panel(qtbot) -> AttachmentsPanel:  # type: ignore[no-untyped-def]
    widget = AttachmentsPanel()
    qtbot.addWidget(widget)
    widget.resize(320, 480)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def photo_png() -> bytes:
    image = QImage(400, 200, QImage.Format.Format_RGB32)
    image.fill(0xFF336699)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    QImageWriter(buffer, QByteArray(b"jpeg")).write(image)
    png = thumbnail_png(bytes(buffer.data().data()))
    assert png is not None
    return png


def shown_texts(panel: AttachmentsPanel) -> list[str]:
    """Every text the panel shows or announces: items (all roles) and labels."""
    texts = [label.text() for label in panel.findChildren(QLabel) if label.isVisible()]
    for row in range(panel.list.count()):
        item = panel.list.item(row)
        for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                     Qt.ItemDataRole.AccessibleTextRole, DETAILS_ROLE):  # fmt: skip
            texts.append(str(item.data(role)))
    return texts


def item_named(panel: AttachmentsPanel, name: str):  # type: ignore[no-untyped-def]
    (item,) = panel.list.findItems(name, Qt.MatchFlag.MatchExactly)
    return item


def test_files_are_listed_by_name_size_and_type_never_by_id(panel: AttachmentsPanel) -> None:
    assert panel.hint.isVisible()
    assert "No files yet" in panel.hint.text()

    panel.set_attachments([PHOTO, REPORT, VIDEO])

    assert [panel.list.item(row).text() for row in range(3)] == [
        "whiteboard.jpg", "report.pdf", "workshop.mp4"]  # fmt: skip
    assert item_named(panel, "whiteboard.jpg").data(DETAILS_ROLE) == "2.4 MB · JPEG image"
    assert item_named(panel, "report.pdf").data(DETAILS_ROLE) == "310 kB · PDF document"
    assert item_named(panel, "workshop.mp4").data(DETAILS_ROLE) == "154 MB · MPEG-4 video"
    assert not panel.hint.isVisible()
    texts = "\n".join(shown_texts(panel))
    for attachment in (PHOTO, REPORT, VIDEO):
        assert attachment.id not in texts
        assert attachment.asset_id not in texts
    assert all(not panel.list.item(row).icon().isNull() for row in range(3))  # type icons


def test_names_cannot_disguise_themselves(panel: AttachmentsPanel) -> None:
    tricky = info("photo\u202egpj.exe", 10, "application/octet-stream")
    markup = info("<img src='x'>\nnotes.txt", 10, "text/plain")
    panel.set_attachments([tricky, markup])
    assert panel.list.item(0).text() == "photogpj.exe"
    assert panel.list.item(1).text() == "<img src='x'> notes.txt"
    assert "&lt;img" in panel.list.item(1).toolTip()


def test_a_thumbnail_replaces_the_type_icon(panel: AttachmentsPanel) -> None:
    panel.set_attachments([PHOTO, REPORT])
    png = photo_png()
    thumbnail = QImage.fromData(png)

    panel.set_thumbnail(PHOTO.id, png)
    panel.set_thumbnail(str(uuid.uuid4()), png)  # not in the list (a late result): ignored
    panel.set_thumbnail(REPORT.id, b"not a png")  # ignored too

    icon = item_named(panel, "whiteboard.jpg").icon()
    assert not icon.isNull()
    assert thumbnail.size() in icon.availableSizes()
    assert list(panel.thumbnails) == [PHOTO.id]
    assert thumbnail.size() not in item_named(panel, "report.pdf").icon().availableSizes()

    panel.set_attachments([REPORT, PHOTO])  # refreshed after another file was added
    assert thumbnail.size() in item_named(panel, "whiteboard.jpg").icon().availableSizes()
    panel.set_attachments([REPORT])  # the photo was deleted
    assert panel.thumbnails == {}


def test_the_attach_button_requests_the_chosen_files(
    panel: AttachmentsPanel,
    qtbot,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    chosen = ["/home/sam/a.pdf", "/home/sam/b.png"]
    monkeypatch.setattr(panel, "ask_files", lambda: chosen)
    with qtbot.waitSignal(panel.add_requested) as added:
        qtbot.mouseClick(panel.attach_button, Qt.MouseButton.LeftButton)
    assert added.args == [chosen]

    monkeypatch.setattr(panel, "ask_files", lambda: [])  # cancelled
    with qtbot.assertNotEmitted(panel.add_requested):
        qtbot.mouseClick(panel.attach_button, Qt.MouseButton.LeftButton)


def test_adding_can_be_refused_with_a_reason(
    panel: AttachmentsPanel,
    tmp_path: Path,
    qtbot,  # type: ignore[no-untyped-def]
) -> None:
    panel.set_enabled_actions(False, "Save the item first, then attach files.")
    assert not panel.attach_button.isEnabled()
    assert panel.hint.text() == "Save the item first, then attach files."
    assert panel.attach_button.toolTip() == "Save the item first, then attach files."
    dropped = tmp_path / "a.txt"
    dropped.write_text("a")
    enter = drag_enter(panel, file_urls(dropped))
    assert not enter.isAccepted()

    panel.set_enabled_actions(True)
    assert panel.attach_button.isEnabled()
    assert "No files yet" in panel.hint.text()


# ----------------------------------------------------------------- drag and drop

COPY_OR_MOVE = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction


def file_urls(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    return mime


def drag_enter(panel: AttachmentsPanel, mime: QMimeData) -> QDragEnterEvent:
    event = QDragEnterEvent(QPoint(20, 20), COPY_OR_MOVE, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    event.setDropAction(Qt.DropAction.MoveAction)  # as a Shift-drag from a file manager
    event.ignore()
    QApplication.sendEvent(panel, event)
    return event


def drop(panel: AttachmentsPanel, mime: QMimeData) -> QDropEvent:
    event = QDropEvent(QPointF(20, 20), COPY_OR_MOVE, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    event.setDropAction(Qt.DropAction.MoveAction)
    event.ignore()
    QApplication.sendEvent(panel, event)
    return event


def test_dropping_files_requests_adding_them_as_copies(
    panel: AttachmentsPanel,
    tmp_path: Path,
    qtbot,  # type: ignore[no-untyped-def]
) -> None:
    first, second = tmp_path / "minutes.docx", tmp_path / "board photo.jpg"
    first.write_bytes(b"doc")
    second.write_bytes(b"jpg")
    folder = tmp_path / "a folder"
    folder.mkdir()
    mime = file_urls(first, second, folder)

    enter = drag_enter(panel, mime)
    assert enter.isAccepted()
    assert enter.dropAction() == Qt.DropAction.CopyAction  # never a move: the original stays
    assert panel.hint.isVisible()
    assert panel.hint.text() == "Drop to attach"
    QApplication.sendEvent(panel, QDragLeaveEvent())
    assert "No files yet" in panel.hint.text()
    assert drag_enter(panel, mime).isAccepted()

    with qtbot.waitSignal(panel.add_requested) as added:
        event = drop(panel, mime)
    assert event.isAccepted()
    assert event.dropAction() == Qt.DropAction.CopyAction
    assert added.args == [[str(first), str(second)]]  # the folder is not a file
    assert panel.hint.text() != "Drop to attach"


def test_drops_of_anything_but_local_files_are_refused(
    panel: AttachmentsPanel,
    tmp_path: Path,
    qtbot,  # type: ignore[no-untyped-def]
) -> None:
    text = QMimeData()
    text.setText("some words")
    web = QMimeData()
    web.setUrls([QUrl("https://example.org/report.pdf")])
    folder_only = file_urls(tmp_path)
    for mime in (text, web, folder_only):
        assert not drag_enter(panel, mime).isAccepted()
        assert panel.hint.text() != "Drop to attach"
        with qtbot.assertNotEmitted(panel.add_requested):
            assert not drop(panel, mime).isAccepted()


# ------------------------------------------------------------- open, save, delete


def test_double_click_or_enter_opens(panel: AttachmentsPanel, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel.set_attachments([PHOTO, REPORT])
    assert not panel.open_button.isEnabled()  # nothing chosen yet
    item = item_named(panel, "report.pdf")
    centre = panel.list.visualItemRect(item).center()
    with qtbot.waitSignal(panel.open_requested) as opened:
        # A real double-click starts with a press and release (QTest sends only the second).
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert opened.args == [REPORT.id]
    assert panel.selected_id() == REPORT.id
    assert panel.open_button.isEnabled()

    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Up)
    with qtbot.waitSignal(panel.open_requested) as opened:
        qtbot.keyClick(panel.list, Qt.Key.Key_Return)
    assert opened.args == [PHOTO.id]

    with qtbot.waitSignal(panel.open_requested) as opened:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [PHOTO.id]


def test_enter_opens_the_item_the_focus_is_on(panel: AttachmentsPanel, qtbot) -> None:  # type: ignore[no-untyped-def]
    panel.set_attachments([PHOTO, REPORT])
    panel.list.setCurrentRow(1, panel.list.selectionModel().SelectionFlag.NoUpdate)
    panel.list.setFocus()
    assert panel.selected_id() is None  # current (focus frame) but not selected
    with qtbot.waitSignal(panel.open_requested) as opened:
        qtbot.keyClick(panel.list, Qt.Key.Key_Enter)
    assert opened.args == [REPORT.id]


def test_save_a_copy_asks_where_prefilled_with_the_name(
    panel: AttachmentsPanel,
    qtbot,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    asked: list[str] = []
    destination = str(tmp_path / "copy of report.pdf")
    monkeypatch.setattr(panel, "_ask_save_path", lambda name: asked.append(name) or destination)
    panel.set_attachments([PHOTO, REPORT])
    panel.list.setCurrentItem(item_named(panel, "report.pdf"))
    with qtbot.waitSignal(panel.save_copy_requested) as saved:
        qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    assert saved.args == [REPORT.id, destination]
    assert asked == ["report.pdf"]

    monkeypatch.setattr(panel, "_ask_save_path", lambda name: None)  # cancelled
    with qtbot.assertNotEmitted(panel.save_copy_requested):
        qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)


def test_the_save_dialog_suggests_a_safe_file_name(
    panel: AttachmentsPanel, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    suggested: list[str] = []

    def dialog(parent, caption, directory):  # type: ignore[no-untyped-def]
        suggested.append(directory)
        return "", ""

    monkeypatch.setattr("ui.attachments.QFileDialog.getSaveFileName", dialog)
    assert panel._ask_save_path("../../evil/name.pdf") is None
    assert Path(suggested[0]).name == "_.._evil_name.pdf"


def test_delete_asks_first(
    panel: AttachmentsPanel,
    qtbot,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    asked: list[str] = []
    answer = [False]
    monkeypatch.setattr(panel, "_confirm_delete", lambda name: asked.append(name) or answer[0])
    panel.set_attachments([PHOTO, REPORT])
    panel.list.setCurrentItem(item_named(panel, "whiteboard.jpg"))

    with qtbot.assertNotEmitted(panel.delete_requested):
        qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert asked == ["whiteboard.jpg"]

    answer[0] = True
    with qtbot.waitSignal(panel.delete_requested) as deleted:
        qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert deleted.args == [PHOTO.id]

    panel.list.setFocus()
    with qtbot.waitSignal(panel.delete_requested) as deleted:
        qtbot.keyClick(panel.list, Qt.Key.Key_Delete)
    assert deleted.args == [PHOTO.id]


def test_the_confirmation_names_the_file_and_defaults_to_cancel(panel: AttachmentsPanel) -> None:
    seen: list[str] = []

    def answer(delete: bool) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        if delete:
            destructive = QMessageBox.ButtonRole.DestructiveRole
            (button,) = [b for b in box.buttons() if box.buttonRole(b) == destructive]
            button.click()
        else:
            QTest.keyClick(box, Qt.Key.Key_Return)  # Enter takes the default: Cancel

    QTimer.singleShot(0, lambda: answer(delete=False))
    assert panel._confirm_delete("<b>minutes</b>.docx") is False
    QTimer.singleShot(0, lambda: answer(delete=True))
    assert panel._confirm_delete("minutes.docx") is True
    assert seen == ["Delete “<b>minutes</b>.docx”?", "Delete “minutes.docx”?"]


def test_progress_is_shown_while_working(panel: AttachmentsPanel) -> None:
    panel.set_progress("Adding “workshop.mp4”…", 0.25)
    assert panel.progress_label.isVisible()
    assert panel.progress_label.text() == "Adding “workshop.mp4”…"
    assert panel.progress_bar.isVisible()
    assert panel.progress_bar.value() == panel.progress_bar.maximum() // 4
    panel.set_progress("Opening…", None)
    assert panel.progress_bar.maximum() == 0  # busy, no fraction known
    panel.set_progress(None, None)
    assert not panel.progress_label.isVisible()
    assert not panel.progress_bar.isVisible()


def test_clear_forgets_everything(panel: AttachmentsPanel) -> None:
    panel.set_attachments([PHOTO, REPORT])
    panel.set_thumbnail(PHOTO.id, photo_png())
    panel.list.setCurrentRow(0)
    panel.set_progress("Adding…", 0.5)

    panel.clear()

    assert panel.list.count() == 0
    assert panel.thumbnails == {}
    assert panel.infos == {}
    assert panel.selected_id() is None
    assert not panel.progress_bar.isVisible()
    assert panel.hint.isVisible()
    panel.set_thumbnail(PHOTO.id, photo_png())  # a result arriving after the lock
    assert panel.thumbnails == {}


def test_buttons_have_names_and_mnemonics(panel: AttachmentsPanel) -> None:
    panel.set_attachments([PHOTO])
    for button in (panel.attach_button, panel.open_button, panel.save_button,
                   panel.delete_button):  # fmt: skip
        assert "&" in button.text()
        assert button.accessibleName()
    assert panel.list.focusPolicy() & Qt.FocusPolicy.TabFocus
