"""Version history of an asset: every saved version, viewable, and restorable."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from store.records import VersionInfo
from ui.library import friendly_time


class HistoryDialog(QDialog):
    """Lists versions; asks the window for a version's rendering and for a restore."""

    version_requested = Signal(int)
    restore_requested = Signal(int)

    def __init__(
        self, title: str, versions: list[VersionInfo], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("HistoryDialog")
        self.setWindowTitle(self.tr("History of “{title}”").format(title=title))
        self.versions = QListWidget(self)
        self.versions.setObjectName("versions")
        self.versions.setAccessibleName(self.tr("Versions"))
        for info in reversed(versions):  # newest first
            label = self.tr("Version {n} · {when}").format(
                n=info.version, when=friendly_time(info.saved)
            )
            if info.current:
                label += self.tr(" (current)")
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, info.version)
            item.setData(Qt.ItemDataRole.UserRole + 1, info.current)
            self.versions.addItem(item)
        self.preview = QTextBrowser(self)
        self.preview.setObjectName("version_preview")
        self.note = QLabel(self.tr("Restoring makes a new version: nothing is lost."), self)
        self.restore_button = QPushButton(self.tr("Restore this version"), self)
        self.restore_button.setObjectName("restore_button")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)

        self.versions.currentItemChanged.connect(self._selected)
        self.restore_button.clicked.connect(self._restore)
        self.buttons.rejected.connect(self.reject)

        splitter = QSplitter(self)
        splitter.addWidget(self.versions)
        splitter.addWidget(self.preview)
        splitter.setStretchFactor(1, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.note, 1)
        bottom.addWidget(self.restore_button)
        bottom.addWidget(self.buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self.resize(860, 560)
        self.versions.setCurrentRow(0)

    def selected_version(self) -> int | None:
        item = self.versions.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))

    def show_version(self, version: int, html: str) -> None:
        if version == self.selected_version():
            self.preview.setHtml(html)

    def _selected(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is None:
            return
        is_current = bool(current.data(Qt.ItemDataRole.UserRole + 1))
        self.restore_button.setEnabled(not is_current)
        self.preview.setHtml("")
        self.version_requested.emit(int(current.data(Qt.ItemDataRole.UserRole)))

    def _restore(self) -> None:
        version = self.selected_version()
        if version is not None:
            self.restore_requested.emit(version)
            self.accept()
