"""The files attached to one asset: a list with thumbnails, a drop target, and
open / save a copy / delete.

The panel only requests (signals); its owner runs the store work and reports
back through set_attachments, set_thumbnail and set_progress. It never shows
an attachment's id.
"""

from __future__ import annotations

import html
import os
import unicodedata
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QLocale,
    QMimeData,
    QMimeDatabase,
    QMimeType,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    QStandardPaths,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.private_files import safe_file_name
from store.records import AttachmentInfo
from ui.icons import icon

ICON_SIDE = 40
ROW_PADDING = 6
MAX_VISIBLE_ROWS = 6
PROGRESS_STEPS = 1000
ID_ROLE = Qt.ItemDataRole.UserRole
DETAILS_ROLE = Qt.ItemDataRole.UserRole + 1
HINT_STYLE = "color: palette(placeholder-text);"
DROP_ZONE_STYLE = (
    "QLabel#attachments_hint { border: 1px dashed palette(mid); border-radius: 6px;"
    " padding: 12px; color: palette(placeholder-text); }"
    'QLabel#attachments_hint[dragging="true"] { border: 2px solid palette(highlight);'
    " background: palette(alternate-base); color: palette(text); }"
)
# Bidirectional controls would let a name lie about itself ("photo<RLO>gpj.exe").
_HIDDEN_IN_NAMES = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

_mime_types = QMimeDatabase()


def _mime(media_type: str) -> QMimeType:
    return _mime_types.mimeTypeForName(media_type.split(";", 1)[0].strip().lower())


def media_kind(media_type: str) -> str:
    """The kind of file, for its icon: image, video, audio, document or other."""
    major = media_type.split("/", 1)[0].strip().lower()
    if major in ("image", "video", "audio"):
        return major
    mime = _mime(media_type)
    generic = mime.genericIconName() if mime.isValid() else ""
    if major == "text" or generic.startswith(("x-office-", "text-")):
        return "document"
    return "other"


def _type_icon(media_type: str) -> QIcon:
    """The icon for a file without a thumbnail, from the app's own icon set."""
    names = {"image": "image", "video": "video", "audio": "audio", "document": "document"}
    return icon(names.get(media_kind(media_type), "file"))


def type_label(media_type: str) -> str:
    """A person's name for the type, e.g. "PDF document", "JPEG image"."""
    mime = _mime(media_type)
    if not mime.isValid() or mime.name() == "application/octet-stream" or not mime.comment():
        return QCoreApplication.translate("AttachmentsPanel", "File")
    return mime.comment()


def human_size(size: int) -> str:
    """The size in decimal units as file managers show it (2.4 MB, 310 kB, 1 byte),
    with a decimal only below 10 of a unit."""
    if size == 1:
        return QCoreApplication.translate("AttachmentsPanel", "1 byte")
    power = (len(str(abs(size))) - 1) // 3  # the unit Qt picks: kB, MB...
    precision = 1 if power > 0 and abs(size) / 1000**power < 9.95 else 0
    return QLocale().formattedDataSize(size, precision, QLocale.DataSizeFormat.DataSizeSIFormat)


def display_name(name: str) -> str:
    """The name as shown: on one line, without characters that reorder or hide text."""
    shown = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in name
        if char not in _HIDDEN_IN_NAMES
    ).strip()
    return shown or QCoreApplication.translate("AttachmentsPanel", "(no name)")


def local_files(mime: QMimeData) -> list[str]:
    """Paths of the local files (not folders) among the URLs of dragged data."""
    paths: list[str] = []
    if not mime.hasUrls():
        return paths
    for url in mime.urls():
        if url.isLocalFile():
            path = url.toLocalFile()
            if path and not os.path.isdir(path) and path not in paths:
                paths.append(path)
    return paths


class _AttachmentList(QListWidget):
    """Enter opens the selected file, Delete (or Backspace) deletes it."""

    open_pressed = Signal()
    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.currentItem()
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                      Qt.KeyboardModifier.KeypadModifier)  # fmt: skip
        opens = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        deletes = event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        if item is not None and plain and (opens or deletes):
            # Tabbing in makes the first item current without selecting it; the key
            # acts on the item the focus frame shows.
            item.setSelected(True)
            (self.open_pressed if opens else self.delete_pressed).emit()
            return
        super().keyPressEvent(event)


class _AttachmentDelegate(QStyledItemDelegate):
    """Icon or thumbnail, the name (elided in the middle, so the extension stays)
    and, below it, the size and type in a quieter colour."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:  # fmt: skip
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name, details = opt.text, str(index.data(DETAILS_ROLE) or "")
        opt.text = ""
        opt.icon = QIcon()
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        rect = opt.rect.adjusted(ROW_PADDING, ROW_PADDING, -ROW_PADDING, -ROW_PADDING)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon) and not icon.isNull():
            icon_rect = QRect(rect.left(), rect.top() + (rect.height() - ICON_SIDE) // 2,
                              ICON_SIDE, ICON_SIDE)  # fmt: skip
            icon.paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter)
        text_rect = rect.adjusted(ICON_SIDE + ROW_PADDING + 4, 0, 0, 0)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = (QPalette.ColorGroup.Normal if opt.state & QStyle.StateFlag.State_Enabled
                 else QPalette.ColorGroup.Disabled)  # fmt: skip
        main_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        quiet_role = QPalette.ColorRole.HighlightedText if selected \
            else QPalette.ColorRole.PlaceholderText  # fmt: skip

        metrics = QFontMetrics(opt.font)
        line = metrics.height()
        top = text_rect.top() + (text_rect.height() - 2 * line) // 2
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(group, main_role))
        painter.drawText(
            QRect(text_rect.left(), top, text_rect.width(), line),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width()),
        )
        painter.setPen(opt.palette.color(group, quiet_role))
        painter.drawText(
            QRect(text_rect.left(), top + line, text_rect.width(), line),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(details, Qt.TextElideMode.ElideRight, text_rect.width()),
        )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:  # fmt: skip
        line = QFontMetrics(option.font).height()
        return QSize(ICON_SIDE * 3, max(ICON_SIDE, 2 * line) + 2 * ROW_PADDING)


class AttachmentsPanel(QWidget):
    """The attachments of one asset. Requests adding, opening, saving a copy and
    deleting; the owner does the work and reports back."""

    add_requested = Signal(list)  # local file paths
    open_requested = Signal(str)  # attachment id
    save_copy_requested = Signal(str, str)  # attachment id, destination path
    delete_requested = Signal(str)  # attachment id, after the person confirmed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AttachmentsPanel")
        self.setAcceptDrops(True)
        self.infos: dict[str, AttachmentInfo] = {}
        self.thumbnails: dict[str, QPixmap] = {}
        self._can_add = True
        self._cannot_add_reason = ""
        self._dragging = False
        self._save_folder = ""

        self.list = _AttachmentList(self)
        self.list.setObjectName("attachments_list")
        self.list.setAccessibleName(self.tr("Attached files"))
        self.list.setItemDelegate(_AttachmentDelegate(self.list))
        self.list.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.hint = QLabel(self)
        self.hint.setObjectName("attachments_hint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.hint.setStyleSheet(DROP_ZONE_STYLE)
        self.attach_button = QPushButton(icon("attach"), self.tr("&Attach files…"), self)
        self.attach_button.setObjectName("attach_files")
        self.attach_button.setAccessibleName(self.tr("Attach files"))
        self.open_button = QPushButton(icon("open-external"), self.tr("&Open"), self)
        self.open_button.setObjectName("open_attachment")
        self.open_button.setAccessibleName(self.tr("Open the selected file"))
        self.open_button.setToolTip(self.tr("Open with the application your computer uses "
                                            "for this kind of file"))  # fmt: skip
        self.save_button = QPushButton(icon("save-copy"), self.tr("Sa&ve a copy…"), self)
        self.save_button.setObjectName("save_attachment_copy")
        self.save_button.setAccessibleName(self.tr("Save a copy of the selected file"))
        self.delete_button = QPushButton(icon("delete"), self.tr("&Delete"), self)
        self.delete_button.setObjectName("delete_attachment")
        self.delete_button.setAccessibleName(self.tr("Delete the selected file"))
        for button, text in ((self.open_button, self.tr("Open")),
                             (self.save_button, self.tr("Save a copy…")),
                             (self.delete_button, self.tr("Delete"))):  # fmt: skip
            self.list.addAction(self._context_action(text, button))
        self.progress_label = QLabel(self)
        self.progress_label.setObjectName("attachments_progress_label")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress_label.setWordWrap(True)
        self.progress_label.setStyleSheet(HINT_STYLE)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("attachments_progress")
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(6)

        self.attach_button.clicked.connect(self._on_attach)
        self.open_button.clicked.connect(self._open_selected)
        self.save_button.clicked.connect(self._save_selected)
        self.delete_button.clicked.connect(self._delete_selected)
        self.list.itemActivated.connect(lambda _item: self._open_selected())
        self.list.open_pressed.connect(self._open_selected)
        self.list.delete_pressed.connect(self._delete_selected)
        self.list.itemSelectionChanged.connect(self._update_buttons)

        self.actions_row = QWidget(self)
        actions = QHBoxLayout(self.actions_row)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(self.open_button)
        actions.addWidget(self.save_button)
        actions.addWidget(self.delete_button)
        actions.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.attach_button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.list)
        layout.addWidget(self.actions_row)
        layout.addWidget(self.hint)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress_bar)
        layout.addStretch(1)
        self.set_progress(None, None)
        self._redraw()

    # ---------------------------------------------------------------- state

    def set_attachments(self, infos: list[AttachmentInfo]) -> None:
        """Show these files (in this order); keeps the selection and known thumbnails."""
        selected = self.selected_id()
        self.infos = {info.id: info for info in infos}
        self.thumbnails = {k: v for k, v in self.thumbnails.items() if k in self.infos}
        self.list.clear()
        for info in infos:
            name = display_name(info.name)
            details = f"{human_size(info.size)} · {type_label(info.media_type)}"
            item = QListWidgetItem(name, self.list)
            item.setData(ID_ROLE, info.id)
            item.setData(DETAILS_ROLE, details)
            item.setToolTip(f"<p>{html.escape(name)}<br>{html.escape(details)}</p>")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{name}, {details}")
            thumbnail = self.thumbnails.get(info.id)
            item.setIcon(QIcon(thumbnail) if thumbnail else _type_icon(info.media_type))
            if info.id == selected:
                self.list.setCurrentItem(item)
        self._redraw()

    def set_thumbnail(self, attachment_id: str, png: bytes) -> None:
        """Show a thumbnail (PNG bytes) for a file in the list; others are ignored."""
        item = self._item(attachment_id)
        pixmap = QPixmap()
        if item is None or not pixmap.loadFromData(png, "PNG"):
            return
        self.thumbnails[attachment_id] = pixmap
        item.setIcon(QIcon(pixmap))

    def set_progress(self, text: str | None, fraction: float | None) -> None:
        """Show work in progress (fraction 0..1, or None when unknown); None hides it."""
        shown = text is not None
        self.progress_label.setText(text or "")
        self.progress_label.setVisible(shown and bool(text))
        self.progress_bar.setVisible(shown)
        if fraction is None:
            self.progress_bar.setRange(0, 0)  # busy
        else:
            self.progress_bar.setRange(0, PROGRESS_STEPS)
            self.progress_bar.setValue(round(max(0.0, min(1.0, fraction)) * PROGRESS_STEPS))

    def set_enabled_actions(self, can_add: bool, reason: str = "") -> None:
        """Allow or refuse adding files (button and drops); `reason` says why not."""
        self._can_add = can_add
        self._cannot_add_reason = "" if can_add else reason
        self.attach_button.setEnabled(can_add)
        self.attach_button.setToolTip(self._cannot_add_reason)
        self._redraw()

    def clear(self) -> None:
        """Forget every file and thumbnail (on lock)."""
        self.infos = {}
        self.thumbnails = {}
        self.list.clear()
        self._save_folder = ""
        self._dragging = False
        self.set_progress(None, None)
        self._redraw()

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        if item is None or not item.isSelected():
            return None
        value = item.data(ID_ROLE)
        return value if isinstance(value, str) else None

    def _item(self, attachment_id: str) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == attachment_id:
                return item
        return None

    def _redraw(self) -> None:
        count = self.list.count()
        self.list.setVisible(count > 0)
        self.actions_row.setVisible(count > 0)
        if count:
            rows = min(count, MAX_VISIBLE_ROWS)
            frame = 2 * self.list.frameWidth()
            self.list.setFixedHeight(rows * self.list.sizeHintForRow(0) + frame)
        if self._dragging:
            self.hint.setText(self.tr("Drop to attach"))
        elif not self._can_add:
            self.hint.setText(self._cannot_add_reason)
        else:
            self.hint.setText(self.tr("No files yet. Attach files with the button "
                                      "or drop them here."))  # fmt: skip
        self.hint.setVisible(self._dragging or (count == 0 and bool(self.hint.text())))
        self.hint.setProperty("dragging", self._dragging)
        self.hint.style().unpolish(self.hint)
        self.hint.style().polish(self.hint)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected_id() is not None
        for button in (self.open_button, self.save_button, self.delete_button):
            button.setEnabled(chosen)

    def _context_action(self, text: str, button: QPushButton) -> QAction:
        action = QAction(text, self.list)
        action.triggered.connect(button.click)
        return action

    # -------------------------------------------------------------- actions

    def _on_attach(self) -> None:
        if self._can_add and (paths := self.ask_files()):
            self.add_requested.emit(paths)

    def _open_selected(self) -> None:
        if (attachment_id := self.selected_id()) is not None:
            self.open_requested.emit(attachment_id)

    def _save_selected(self) -> None:
        attachment_id = self.selected_id()
        info = self.infos.get(attachment_id or "")
        if info is None:
            return
        if path := self._ask_save_path(info.name):
            self._save_folder = str(Path(path).parent)
            self.save_copy_requested.emit(info.id, path)

    def _delete_selected(self) -> None:
        attachment_id = self.selected_id()
        info = self.infos.get(attachment_id or "")
        if info is not None and self._confirm_delete(info.name):
            self.delete_requested.emit(info.id)

    # ------------------------------------------------- dialogs (tests replace)

    def ask_files(self) -> list[str]:
        """Ask for files to attach; empty when the person cancels."""
        paths, _filter = QFileDialog.getOpenFileNames(self, self.tr("Attach files"))
        return [path for path in paths if path]

    def _ask_save_path(self, name: str) -> str | None:
        folder = self._save_folder or QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())  # fmt: skip
        path, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Save a copy"), str(Path(folder) / safe_file_name(name))
        )
        return path or None

    def _confirm_delete(self, name: str) -> bool:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(self.tr("Delete file"))
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(self.tr("Delete “{name}”?").format(name=display_name(name)))
        box.setInformativeText(self.tr("It is removed from this item and from your space. "
                                       "This cannot be undone."))  # fmt: skip
        delete = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is delete

    # ------------------------------------------------------- drag and drop

    def _accepts(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        copy = Qt.DropAction.CopyAction
        if not self._can_add or not event.possibleActions() & copy:
            return False
        if not local_files(event.mimeData()):
            return False
        # Always a copy: accepting a "move" could make the file manager delete the original.
        event.setDropAction(copy)
        event.accept()
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event):
            self._set_dragging(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not self._accepts(event):
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._set_dragging(False)
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_dragging(False)
        if not self._accepts(event):
            event.ignore()
            return
        self.add_requested.emit(local_files(event.mimeData()))

    def _set_dragging(self, dragging: bool) -> None:
        if dragging != self._dragging:
            self._dragging = dragging
            self._redraw()
