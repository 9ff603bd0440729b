"""Links between assets, seen from one asset: what it links to and what links to it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.asset_picker import AssetEntry
from ui.fields import FormContext
from ui.icons import icon

HINT_STYLE = "color: palette(placeholder-text);"


def section_heading(text: str, parent: QWidget) -> QLabel:
    heading = QLabel(text, parent)
    font = heading.font()
    font.setWeight(QFont.Weight.DemiBold)
    heading.setFont(font)
    return heading


class _LinkList(QListWidget):
    """A short list of assets; Enter or a double-click opens one, Delete removes it."""

    delete_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)


class ConnectionsPanel(QWidget):
    """Hand-made links (editable) and the assets that link here (read only).

    Links made through a template's link fields are edited in the form; the
    ones here are the general "related to" links a person adds by hand.
    """

    links_changed = Signal()
    open_requested = Signal(str)  # asset id

    def __init__(self, context: FormContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ConnectionsPanel")
        self.context = context
        self.targets: list[str] = []
        self.links = _LinkList(self)
        self.links.setObjectName("links")
        self.links.setAccessibleName(self.tr("Linked items"))
        self.no_links = QLabel(self.tr("Link plans, reflections and evidence that belong "
                                       "together."), self)  # fmt: skip
        self.no_links.setWordWrap(True)
        self.no_links.setStyleSheet(HINT_STYLE)
        self.add_button = QPushButton(icon("link"), self.tr("&Link to…"), self)
        self.add_button.setObjectName("add_link")
        self.remove_button = QPushButton(icon("unlink"), self.tr("Remove link"), self)
        self.remove_button.setObjectName("remove_link")
        self.linked_from = _LinkList(self)
        self.linked_from.setObjectName("linked_from")
        self.linked_from.setAccessibleName(self.tr("Items that link here"))
        self.nothing_links_here = QLabel(self.tr("Nothing links here yet."), self)
        self.nothing_links_here.setStyleSheet(HINT_STYLE)
        for view in (self.links, self.linked_from):
            view.setMaximumHeight(120)
            view.setWordWrap(True)

        self.add_button.clicked.connect(self._choose)
        self.remove_button.clicked.connect(self._remove_selected)
        self.links.delete_pressed.connect(self._remove_selected)
        self.links.currentRowChanged.connect(lambda _row: self._update_buttons())
        for view in (self.links, self.linked_from):
            view.itemActivated.connect(self._activated)
        context.changed.connect(self._redraw)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(section_heading(self.tr("Links"), self))
        layout.addWidget(self.links)
        layout.addWidget(self.no_links)
        layout.addLayout(buttons)
        layout.addSpacing(8)
        layout.addWidget(section_heading(self.tr("Linked from"), self))
        layout.addWidget(self.linked_from)
        layout.addWidget(self.nothing_links_here)
        self._from: list[AssetEntry] = []
        self._redraw()

    # ---------------------------------------------------------------- state

    def set_targets(self, targets: list[str]) -> None:
        """The hand-made links (asset ids), without announcing a change."""
        self.targets = list(targets)
        self._redraw()

    def set_linked_from(self, entries: list[AssetEntry]) -> None:
        self._from = list(entries)
        self._redraw()

    def clear(self) -> None:
        self.targets, self._from = [], []
        self._redraw()

    def _redraw(self) -> None:
        self.links.clear()
        for target in self.targets:
            item = QListWidgetItem(self.context.label_for(target), self.links)
            item.setData(Qt.ItemDataRole.UserRole, target)
        self.linked_from.clear()
        for entry in sorted(self._from, key=lambda e: e.title.casefold()):
            item = QListWidgetItem(entry.label, self.linked_from)
            item.setData(Qt.ItemDataRole.UserRole, entry.id)
        self.links.setVisible(bool(self.targets))
        self.no_links.setVisible(not self.targets)
        self.linked_from.setVisible(bool(self._from))
        self.nothing_links_here.setVisible(not self._from)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.links.currentItem() is not None)

    # -------------------------------------------------------------- actions

    def _choose(self) -> None:
        chosen = self.context.choose(self.targets, self)
        if chosen is not None and chosen != self.targets:
            self.targets = chosen
            self._redraw()
            self.links_changed.emit()

    def _remove_selected(self) -> None:
        item = self.links.currentItem()
        if item is None:
            return
        target = str(item.data(Qt.ItemDataRole.UserRole))
        self.targets = [t for t in self.targets if t != target]
        self._redraw()
        self.links_changed.emit()

    def _activated(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(str(item.data(Qt.ItemDataRole.UserRole)))
