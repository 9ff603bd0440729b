"""The library: a sidebar of kinds, the list of assets, and search as you type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.forms.model import Template
from store.records import AssetSummary
from store.search import HIGHLIGHT_END, HIGHLIGHT_START
from ui.dashboard import DashboardPage

#: Sidebar entries: (label, template kinds shown; None for all).
DASHBOARD = "dashboard"
KIND_FILTERS: list[tuple[str, frozenset[str] | str | None]] = [
    ("Dashboard", DASHBOARD),
    ("All items", None),
    ("Plans", frozenset({"plan"})),
    ("Reflections", frozenset({"reflection"})),
    ("Records", frozenset({"record", "log", "notes", "assessment"})),
    ("Evidence", frozenset({"evidence"})),
    ("Journal", frozenset({"journal"})),
]

_Index = QModelIndex | QPersistentModelIndex


def friendly_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return ""
    return moment.strftime("%-d %b %Y, %H:%M")


class AssetTableModel(QAbstractTableModel):
    """Assets as rows: title, template, updated, tags (never a raw id)."""

    COLUMNS = ("Title", "Template", "Updated", "Tags")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[AssetSummary] = []
        self._snippets: dict[str, str] = {}
        self._templates: dict[str, Template] = {}

    def set_templates(self, templates: dict[str, Template]) -> None:
        self._templates = templates

    def set_rows(self, rows: list[AssetSummary], snippets: dict[str, str] | None = None) -> None:
        self.beginResetModel()
        self._rows = rows
        self._snippets = snippets or {}
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([])

    def summary(self, row: int) -> AssetSummary:
        return self._rows[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.tr(self.COLUMNS[section])
        return None

    def template_name(self, summary: AssetSummary) -> str:
        template = self._templates.get(summary.template_id)
        if template is not None:
            return template.name
        return summary.template_id.rsplit("/", 1)[-1].replace("-", " ").capitalize()

    def data(self, index: _Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        summary = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return summary.title or self.tr("Untitled")
            if column == 1:
                return self.template_name(summary)
            if column == 2:
                return friendly_time(summary.updated)
            return ", ".join(summary.tags)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            snippet = self._snippets.get(summary.id)
            if snippet:
                return snippet.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
        if role == Qt.ItemDataRole.UserRole:
            return summary.id
        return None


class LibraryPage(QWidget):
    """Shows the assets; asks the window to search (the index lives off the GUI thread)."""

    search_requested = Signal(str)
    open_requested = Signal(str)  # asset id
    dashboard_shown = Signal()  # the dashboard needs fresh figures

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryPage")
        self._all: list[AssetSummary] = []
        self._templates: dict[str, Template] = {}
        self.sidebar = QListWidget(self)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName(self.tr("Show"))
        for label, kinds in KIND_FILTERS:
            item = QListWidgetItem(self.tr(label), self.sidebar)
            item.setData(Qt.ItemDataRole.UserRole, kinds)
        self.sidebar.setCurrentRow(1)
        self.sidebar.setMaximumWidth(200)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText(self.tr("Search everything you have written…"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search"))
        self.model = AssetTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("assets")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(3, 180)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        self.empty = QLabel(self)
        self.empty.setObjectName("empty_state")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.dashboard = DashboardPage(self)
        self.content = QStackedWidget(self)
        self.content.addWidget(self.table)
        self.content.addWidget(self.empty)
        self.content.addWidget(self.dashboard)
        self._fresh = True  # first listing after unlock picks the starting view
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)

        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self._debounce.timeout.connect(self._search)
        self.sidebar.currentRowChanged.connect(lambda _row: self._refresh())
        self.table.activated.connect(self._activated)
        self.dashboard.open_requested.connect(self.open_requested)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.search)
        right_layout.addWidget(self.content, 1)
        splitter = QSplitter(self)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self._refresh()

    def set_templates(self, templates: dict[str, Template]) -> None:
        self._templates = templates
        self.model.set_templates(templates)

    def set_assets(self, summaries: list[AssetSummary]) -> None:
        self._all = summaries
        if self._fresh:
            self._fresh = False
            start = 0 if summaries else 1
            if self.sidebar.currentRow() != start:
                self.sidebar.setCurrentRow(start)  # refreshes through currentRowChanged
                return
        if self.search.text().strip():
            self._search()
        else:
            self._refresh()

    def show_search_results(self, query: str, hits: list[tuple[str, str]]) -> None:
        """Results for `query` (ids with snippets, best first), if it is still current."""
        if query != self.search.text().strip():
            return  # a later keystroke has moved on
        by_id = {s.id: s for s in self._all}
        rows = [by_id[asset_id] for asset_id, _ in hits if asset_id in by_id]
        self._refresh(rows, dict(hits))

    def clear(self) -> None:
        self._fresh = True
        self._all = []
        self.search.clear()
        self.model.clear()
        self._refresh()

    def _kinds(self) -> frozenset[str] | str | None:
        item = self.sidebar.currentItem()
        kinds: frozenset[str] | str | None = (
            item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        )
        return kinds

    def _refresh(
        self, rows: list[AssetSummary] | None = None, snippets: dict[str, str] | None = None
    ) -> None:
        kinds = self._kinds()
        source = self._all if rows is None else rows
        if isinstance(kinds, frozenset):
            source = [s for s in source if self._kind_of(s) in kinds]
        self.model.set_rows(source, snippets)
        if kinds == DASHBOARD and rows is None:
            self.content.setCurrentWidget(self.dashboard)
            self.dashboard_shown.emit()
        elif source:
            self.content.setCurrentWidget(self.table)
        else:
            self.empty.setText(self._empty_text(rows is not None))
            self.content.setCurrentWidget(self.empty)

    def _kind_of(self, summary: AssetSummary) -> str:
        template = self._templates.get(summary.template_id)
        return template.kind if template is not None else ""

    def _empty_text(self, searching: bool) -> str:
        if searching:
            return self.tr("Nothing matches “{query}”.").format(query=self.search.text().strip())
        if not self._all:
            return self.tr(
                "Your space is empty.\n\nStart with what is on your mind: a plan for something "
                "you want to get better at, or a reflection on something that happened this "
                "week. Choose File ▸ New (Ctrl+N)."
            )
        return self.tr("Nothing of this kind yet.")

    def _search(self) -> None:
        query = self.search.text().strip()
        if query:
            if self._kinds() == DASHBOARD:
                self.sidebar.setCurrentRow(1)  # results show in the list
            self.search_requested.emit(query)
        else:
            self._refresh()

    def _activated(self, index: QModelIndex) -> None:
        self.open_requested.emit(self.model.summary(index.row()).id)
