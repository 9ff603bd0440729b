"""The outbox: every submission the space has signed, what became of it, and Retry or
Discard for those not delivered. The sync controller fills it and carries out requests."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.syncing.outbox import OutboxEntry
from ui.badges import BADGE_ROLE, BadgeDelegate, badge_label
from ui.first_run import _body
from ui.library import friendly_time
from ui.theme import hint_style

ENTRY_ROLE = Qt.ItemDataRole.UserRole
ITEMS, DESTINATION, STATE, DETAILS = range(4)


def _tr(text: str) -> str:
    return QCoreApplication.translate("OutboxView", text)


def entry_details(entry: OutboxEntry) -> str:
    """The last column: the receipt time, the reason it failed or waits, the next try."""
    tr = _tr
    if entry.state == "delivered":
        return tr("Delivered {when}").format(when=friendly_time(entry.delivered_at or ""))
    if entry.state == "sending":
        return tr("Being sent now")
    if entry.state == "failed":
        return entry.last_error or tr("Refused by the server")
    if entry.last_error:
        when = friendly_time(entry.next_attempt) if entry.next_attempt else ""
        return (tr("{reason} Next try {when}.").format(reason=entry.last_error, when=when)
                if when else entry.last_error)  # fmt: skip
    return tr("Queued {when}").format(when=friendly_time(entry.queued_at))


class OutboxView(QDialog):
    """Lists outbox entries (newest first) with their state; Retry, Discard, Sync Now."""

    retry_requested = Signal(list)  # entry ids
    discard_requested = Signal(str)  # entry id
    sync_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OutboxView")
        self.setWindowTitle(self.tr("Outbox"))
        self.entries: list[OutboxEntry] = []

        self.intro = _body(self.tr(
            "What you shared with organisations. Each submission waits here, signed, until "
            "the server has it; Cairn sends it in the background and tries again when the "
            "server cannot be reached."), self)  # fmt: skip
        self.list = QTreeWidget(self)
        self.list.setObjectName("outbox_list")
        self.list.setAccessibleName(self.tr("Outbox"))
        self.list.setHeaderLabels([self.tr("Items"), self.tr("Sent to"), self.tr("State"),
                                   self.tr("Details")])  # fmt: skip
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setWordWrap(True)
        self.list.setItemDelegateForColumn(STATE, BadgeDelegate(self.list))
        header = self.list.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(ITEMS, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(ITEMS, 220)
        header.resizeSection(DESTINATION, 190)
        header.resizeSection(STATE, 110)
        self.empty = QLabel(self.tr(
            "The outbox is empty.\n\nChoose an item in the library, then File ▸ "
            "Organisations ▸ Share with an Organisation. It waits here until the server "
            "has it."), self)  # fmt: skip
        self.empty.setObjectName("outbox_empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(hint_style())
        self.status = QLabel(self)
        self.status.setObjectName("outbox_status")
        self.status.setWordWrap(True)
        self.sync_button = QPushButton(self.tr("&Sync Now"), self)
        self.sync_button.setObjectName("outbox_sync")
        self.retry_button = QPushButton(self.tr("&Retry"), self)
        self.retry_button.setObjectName("outbox_retry")
        self.discard_button = QPushButton(self.tr("&Discard…"), self)
        self.discard_button.setObjectName("outbox_discard")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)

        self.list.itemSelectionChanged.connect(self._update)
        self.sync_button.clicked.connect(self.sync_requested)
        self.retry_button.clicked.connect(self._retry)
        self.discard_button.clicked.connect(self._discard)
        self.buttons.rejected.connect(self.reject)

        actions = QHBoxLayout()
        actions.addWidget(self.sync_button)
        actions.addStretch(1)
        actions.addWidget(self.retry_button)
        actions.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.status)
        layout.addLayout(actions)
        layout.addWidget(self.buttons)
        self.resize(820, 460)
        self.set_entries([])

    def set_entries(self, entries: list[OutboxEntry] | tuple[OutboxEntry, ...]) -> None:
        """The outbox as read (oldest first); shown newest first, keeping the selection."""
        chosen = set(self.selected_ids())
        self.entries = list(entries)
        self.list.clear()
        for entry in reversed(self.entries):
            titles = ", ".join(entry.titles) or self.tr("(untitled)")
            item = QTreeWidgetItem(self.list, [
                titles, f"{entry.point_name} · {entry.workspace_name}",
                badge_label(entry.state), entry_details(entry)])  # fmt: skip
            item.setData(ITEMS, ENTRY_ROLE, entry.id)
            item.setData(STATE, BADGE_ROLE, entry.state)
            for column in range(4):
                item.setToolTip(column, item.text(column))
            if entry.id in chosen:
                item.setSelected(True)
        self.list.setVisible(bool(entries))
        self.empty.setVisible(not entries)
        waiting = sum(1 for e in self.entries if e.state in ("queued", "sending"))
        failed = sum(1 for e in self.entries if e.state == "failed")
        parts = []
        if waiting:
            parts.append(self.tr("1 waiting to be sent") if waiting == 1
                         else self.tr("{n} waiting to be sent").format(n=waiting))  # fmt: skip
        if failed:
            parts.append(self.tr("1 not sent (see why, then Retry or Discard)") if failed == 1
                         else self.tr("{n} not sent (see why, then Retry or Discard)").format(
                             n=failed))  # fmt: skip
        self.status.setText("; ".join(parts))
        self._update()

    def selected_ids(self) -> list[str]:
        return [str(item.data(ITEMS, ENTRY_ROLE)) for item in self.list.selectedItems()]

    def _selected(self) -> list[OutboxEntry]:
        wanted = set(self.selected_ids())
        return [e for e in self.entries if e.id in wanted]

    def _update(self) -> None:
        chosen = self._selected()
        self.retry_button.setEnabled(bool(chosen) and all(
            e.state in ("failed", "queued") for e in chosen))  # fmt: skip
        self.discard_button.setEnabled(len(chosen) == 1 and chosen[0].state in ("failed",
                                                                                 "queued"))

    def _retry(self) -> None:
        ids = [e.id for e in self._selected() if e.state in ("failed", "queued")]
        if ids:
            self.retry_requested.emit(ids)

    def _discard(self) -> None:
        chosen = self._selected()
        if len(chosen) == 1 and chosen[0].state in ("failed", "queued"):
            self.discard_requested.emit(chosen[0].id)
