"""Choose other assets to link to: a filterable list of titles with their templates."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class AssetEntry:
    """What a person needs to recognise an asset: its title and what kind it is."""

    id: str
    title: str
    template_name: str

    @property
    def label(self) -> str:
        return f"{self.title or '(untitled)'} · {self.template_name}"


class AssetPicker(QDialog):
    """Tick the assets to link; type to narrow the list."""

    def __init__(
        self, entries: list[AssetEntry], chosen: list[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("AssetPicker")
        self.setWindowTitle(self.tr("Link to…"))
        self.filter = QLineEdit(self)
        self.filter.setObjectName("picker_filter")
        self.filter.setPlaceholderText(self.tr("Type to find an item by its title"))
        self.filter.setAccessibleName(self.tr("Find"))
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setObjectName("picker_list")
        self.list.setAccessibleName(self.tr("Items in your space"))
        self.list.setUniformItemSizes(True)
        wanted = set(chosen)
        for entry in sorted(entries, key=lambda e: e.title.casefold()):
            item = QListWidgetItem(entry.label, self.list)
            item.setData(Qt.ItemDataRole.UserRole, entry.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = entry.id in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.empty = QLabel(self.tr("There is nothing else in your space to link to yet."), self)
        self.empty.setVisible(not entries)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Link"))

        self.filter.textChanged.connect(self._narrow)
        self.filter.returnPressed.connect(self._toggle_first_visible)
        self.list.itemActivated.connect(self._toggle)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self.resize(520, 520)
        self.filter.setFocus()

    def _narrow(self, text: str) -> None:
        needle = text.casefold().strip()
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(bool(needle) and needle not in item.text().casefold())

    def _toggle(self, item: QListWidgetItem) -> None:
        checked = item.checkState() == Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    def _toggle_first_visible(self) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if not item.isHidden():
                self._toggle(item)
                return

    def chosen(self) -> list[str]:
        return [
            str(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
            if self.list.item(row).checkState() == Qt.CheckState.Checked
        ]

    @classmethod
    def choose(
        cls, entries: list[AssetEntry], chosen: list[str], parent: QWidget | None = None
    ) -> tuple[list[str], bool]:
        dialog = cls(entries, chosen, parent)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return (dialog.chosen() if accepted else list(chosen)), accepted
