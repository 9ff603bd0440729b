"""The library: a sidebar of kinds, tags and skills, the list of assets (with each one's
status in workspaces), and search as you type."""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from operator import attrgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.capture import CAPTURED_TAG
from app.forms.model import Template
from store.records import AssetSummary
from store.search import HIGHLIGHT_END, HIGHLIGHT_START
from ui.badges import BADGE_ROLE, BadgeDelegate, badge_font, badge_label
from ui.badges import LABELS as BADGE_LABELS
from ui.dashboard import HINT_STYLE, DashboardPage
from ui.icons import icon

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
    ("Captured", "captured"),
]
KIND_ICONS = ("dashboard", "all-items", "plan", "reflection", "record", "evidence", "journal",
              "captured")  # fmt: skip
#: The sidebar entry for evidence capture brought in and the person has not reviewed yet.
CAPTURED = CAPTURED_TAG
ALL_ITEMS_ROW = 1

TITLE, TEMPLATE, UPDATED, TAGS, STATUS, SHARED = range(6)
#: Shared column sort order: what needs attention first.
_BADGE_ORDER = {kind: f"{n:02d}" for n, kind in enumerate(BADGE_LABELS)}
#: The snippet of a search hit as (text, matched) parts, for the title column.
SNIPPET_ROLE = Qt.ItemDataRole.UserRole + 1
#: The title and snippet as escaped rich text, matches in <b> (tooltip, tests).
RICH_TEXT_ROLE = Qt.ItemDataRole.UserRole + 2
#: How many assets a sidebar entry stands for.
COUNT_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex
_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.UserRole,
        SNIPPET_ROLE,
        RICH_TEXT_ROLE,
        BADGE_ROLE,
    }
)
_DIGITS = re.compile(r"\d+")
_NUMBER_WIDTH = 20  # digits: numbers longer than this fall back to comparing as text
_MARKERS = re.compile(f"[{HIGHLIGHT_START}{HIGHLIGHT_END}]")


def friendly_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return ""
    return moment.strftime("%-d %b %Y, %H:%M")


def _pad_number(match: re.Match[str]) -> str:
    return match.group().rjust(_NUMBER_WIDTH, "0")


def natural_keys(texts: list[str]) -> list[str]:
    """Sort keys: case-insensitive, numbers in order ("Week 9" before "Week 10").

    Runs of digits are zero-padded to a fixed width, so the keys are plain strings:
    they are made and compared in C, which keeps the first sort of 10,000 titles fast.
    """
    keys = list(map(str.casefold, texts))
    for n, has_digits in enumerate(map(_DIGITS.search, keys)):
        if has_digits:
            keys[n] = _DIGITS.sub(_pad_number, keys[n])
    return keys


def natural_key(text: str) -> str:
    """The sort key of one text (see natural_keys)."""
    return natural_keys([text])[0]


def snippet_parts(snippet: str) -> list[tuple[str, bool]]:
    """A search snippet as (text, matched) parts, on one line, markers removed."""
    flat = " ".join(snippet.split())
    parts = [(piece, n % 2 == 1) for n, piece in enumerate(_MARKERS.split(flat))]
    return [part for part in parts if part[0]]


def parts_html(parts: list[tuple[str, bool]]) -> str:
    """Rich text built from escaped pieces: what a person wrote is never read as HTML."""
    return "".join(
        f"<b>{html.escape(text)}</b>" if matched else html.escape(text) for text, matched in parts
    )


def plain_tooltip(text: str) -> str:
    """A tooltip that shows `text` literally (Qt would render a tooltip that looks like HTML)."""
    return f"<p style='white-space:pre'>{html.escape(text)}</p>"


@dataclass(frozen=True)
class Facet:
    """A tag or a skill in the sidebar; `key` is the case-folded name."""

    field: str  # "tags" or "skills"
    key: str
    label: str


class AssetTableModel(QAbstractTableModel):
    """Assets as rows: title, template, updated, tags, status (never a raw id).

    The rows it is given are already filtered; it sorts them itself. It keeps no
    object per asset: the summaries are the rows. Template names, timestamps and
    friendly dates are cached by the text they come from, and sort keys are made a
    list at a time, so 10,000 rows reset and sort in milliseconds.
    """

    COLUMNS = ("Title", "Template", "Updated", "Tags", "Status", "Shared")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[AssetSummary] = []
        self._snippets: dict[str, list[tuple[str, bool]]] = {}
        self._templates: dict[str, Template] = {}
        self._names: dict[str, tuple[str, str]] = {}  # template id -> (name, kind)
        self._timestamps: dict[str, float] = {}  # ISO text -> seconds
        self._friendly: dict[str, str] = {}  # ISO text -> what the Updated column shows
        self._badges: dict[str, str] = {}  # asset id -> badge kind (see ui/badges.py)
        self._untitled = self.tr("Untitled")
        #: The order shown; None keeps the order given (relevance, for search results).
        self.sort_column: int | None = UPDATED
        self.sort_order = Qt.SortOrder.DescendingOrder

    def set_templates(self, templates: dict[str, Template]) -> None:
        self._templates = templates
        self._names.clear()

    def template_name(self, summary: AssetSummary) -> str:
        return self.template_facts(summary.template_id)[0]

    def template_facts(self, template_id: str) -> tuple[str, str]:
        """The template's name and kind (a readable name even if it is not installed)."""
        known = self._names.get(template_id)
        if known is None:
            template = self._templates.get(template_id)
            if template is not None:
                known = (template.name, template.kind)
            else:
                known = (template_id.rsplit("/", 1)[-1].replace("-", " ").capitalize(), "")
            self._names[template_id] = known
        return known

    def show(
        self,
        rows: list[AssetSummary],
        snippets: dict[str, str] | None = None,
        *,
        keep_order: bool,
    ) -> None:
        """Show these rows: in the given order (`keep_order`) or sorted by the current column."""
        if keep_order:
            self.sort_column = None
        elif self.sort_column is not None:
            rows = self._sorted(rows, self.sort_column, self.sort_order)
        self.beginResetModel()
        self._rows = rows
        self._snippets = {key: snippet_parts(text) for key, text in (snippets or {}).items()}
        self.endResetModel()

    def set_rows(self, rows: list[AssetSummary], snippets: dict[str, str] | None = None) -> None:
        self.show(rows, snippets, keep_order=snippets is not None)

    def clear(self) -> None:
        """Show nothing and forget every cached text (on lock)."""
        self.show([], keep_order=False)
        self._timestamps.clear()
        self._friendly.clear()
        self._badges = {}

    def set_badges(self, badges: dict[str, str]) -> None:
        """Each asset's status in workspaces (computed off the GUI thread, in one batch)."""
        if badges == self._badges:
            return
        self._badges = dict(badges)
        if self._rows:
            self.dataChanged.emit(self.index(0, SHARED), self.index(len(self._rows) - 1, SHARED))

    @property
    def badges(self) -> dict[str, str]:
        return self._badges

    @property
    def searching(self) -> bool:
        return bool(self._snippets)

    def summary(self, row: int) -> AssetSummary:
        return self._rows[row]

    def row_of(self, asset_id: str) -> int:
        """The row showing this asset, or -1."""
        return next((n for n, row in enumerate(self._rows) if row.id == asset_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.tr(self.COLUMNS[section])
        if role == Qt.ItemDataRole.InitialSortOrderRole:
            newest_first = section == UPDATED
            return Qt.SortOrder.DescendingOrder if newest_first else Qt.SortOrder.AscendingOrder
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column, keeping the selection on the same assets."""
        self.sort_column, self.sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        moved = [self._rows[index.row()].id for index in before]
        self._rows = self._sorted(self._rows, column, order)
        if before:
            where = {row.id: n for n, row in enumerate(self._rows)}
            pairs = zip(moved, before, strict=True)
            after = [self.index(where[asset_id], index.column()) for asset_id, index in pairs]
            self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _sort_keys(self, rows: list[AssetSummary], column: int) -> list[Any]:
        """One key per row, worked out a list at a time (map and C calls, not a Python
        call per row): the first sort of 10,000 titles takes milliseconds."""
        if column == UPDATED:
            isos = list(map(attrgetter("updated"), rows))
            seconds = self._timestamps
            for iso in set(isos).difference(seconds):
                try:
                    seconds[iso] = datetime.fromisoformat(iso).timestamp()
                except ValueError:
                    seconds[iso] = 0.0
            return list(map(seconds.__getitem__, isos))
        if column == TITLE:
            texts = [row.title or self._untitled for row in rows]
        elif column == TEMPLATE:
            names = {tid: self.template_facts(tid)[0] for tid in {r.template_id for r in rows}}
            texts = [names[row.template_id] for row in rows]
        elif column == TAGS:
            texts = list(map(", ".join, map(attrgetter("tags"), rows)))
        elif column == SHARED:
            badges, order = self._badges, _BADGE_ORDER
            return [order.get(badges.get(row.id, ""), "") for row in rows]
        else:
            texts = list(map(attrgetter("status"), rows))
        return natural_keys(texts)

    def _sorted(
        self, rows: list[AssetSummary], column: int, order: Qt.SortOrder
    ) -> list[AssetSummary]:
        """Rows sorted by a column; ties keep their order; empty text sorts last either way."""
        keys = self._sort_keys(rows, column)
        positions = range(len(rows))
        if column == UPDATED:
            filled, empty = list(positions), []
        else:
            filled = [n for n in positions if keys[n]]
            empty = [n for n in positions if not keys[n]]
        descending = order == Qt.SortOrder.DescendingOrder
        filled.sort(key=keys.__getitem__, reverse=descending)
        return [rows[n] for n in filled + empty]

    def data(self, index: _Index, role: int = 0) -> Any:
        # Views ask for a dozen roles per cell on every paint; most are answered here.
        if role not in _ROLES or not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == TITLE:
                return row.title or self._untitled
            if column == TEMPLATE:
                return self.template_facts(row.template_id)[0]
            if column == UPDATED:
                shown = self._friendly.get(row.updated)
                if shown is None:
                    shown = self._friendly[row.updated] = friendly_time(row.updated)
                return shown
            if column == TAGS:
                return ", ".join(row.tags)
            if column == SHARED:
                kind = self._badges.get(row.id)
                return badge_label(kind, short=True) if kind else ""
            return row.status
        if role == BADGE_ROLE and column == SHARED:
            return self._badges.get(row.id, "")
        if role == Qt.ItemDataRole.ToolTipRole and column == SHARED:
            kind = self._badges.get(row.id)
            return badge_label(kind) if kind else None
        if role == SNIPPET_ROLE and column == TITLE:
            return self._snippets.get(row.id)
        if role in (RICH_TEXT_ROLE, Qt.ItemDataRole.ToolTipRole) and column == TITLE:
            title = row.title or self._untitled
            parts = self._snippets.get(row.id)
            if parts is None:
                return plain_tooltip(title) if role == Qt.ItemDataRole.ToolTipRole else None
            return f"<p>{html.escape(title)}<br><small>{parts_html(parts)}</small></p>"
        if role == Qt.ItemDataRole.ToolTipRole and column == TAGS and row.tags:
            return plain_tooltip(", ".join(row.tags))
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None


#: Title metrics; snippet font and metrics; matched words' font and metrics.
_Fonts = tuple[QFontMetrics, QFont, QFontMetrics, QFont, QFontMetrics]


class SearchResultDelegate(QStyledItemDelegate):
    """The title column: the title and, under a search, a line of the matching text with
    the matched words in bold on a highlight. Painted from plain parts, never from HTML."""

    PADDING = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: dict[str, _Fonts] = {}

    def _fonts_for(self, font: QFont) -> _Fonts:
        key = font.key()
        fonts = self._fonts.get(key)
        if fonts is None:
            small = QFont(font)
            small.setPointSizeF(font.pointSizeF() * 0.9)
            strong = QFont(small)
            strong.setWeight(QFont.Weight.Bold)
            fonts = (QFontMetrics(font), small, QFontMetrics(small), strong, QFontMetrics(strong))
            self._fonts[key] = fonts
        return fonts

    def two_line_height(self, font: QFont) -> int:
        title, _small, snippet, _strong, _matched = self._fonts_for(font)
        return title.height() + snippet.height() + 2 * self.PADDING + 2

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        parts = index.data(SNIPPET_ROLE)
        if not parts:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        title = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        margin = 3  # as QStyledItemDelegate places text: the title lines up with other rows'
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
            margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        ink = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = QColor(ink)
        if not selected:
            muted.setAlphaF(0.72)
        marker = QColor(palette.color(QPalette.ColorRole.Highlight))
        marker.setAlphaF(0.22)
        title_metrics, small, small_metrics, strong, strong_metrics = self._fonts_for(opt.font)
        rect = opt.rect.adjusted(margin, self.PADDING, -margin, -self.PADDING)
        middle_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.save()
        painter.setClipRect(opt.rect)
        painter.setFont(opt.font)
        painter.setPen(ink)
        line = QRect(rect.left(), rect.top(), rect.width(), title_metrics.height())
        elided = title_metrics.elidedText(title, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(line, middle_left, elided)
        x, top, right = rect.left(), line.bottom() + 3, rect.right()
        for text, matched in parts:
            font, metrics = (strong, strong_metrics) if matched else (small, small_metrics)
            shown, width = text, metrics.horizontalAdvance(text)
            if width > right - x:  # the last part that fits, shortened with an ellipsis
                shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, right - x)
                width = metrics.horizontalAdvance(shown)
            if not shown:
                break
            box = QRect(x, top, width, metrics.height())
            if matched and not selected:
                painter.fillRect(box, marker)
            painter.setFont(font)
            painter.setPen(ink if matched else muted)
            painter.drawText(box, middle_left, shown)
            x += width
            if shown != text:
                break
        painter.restore()


class SidebarDelegate(QStyledItemDelegate):
    """Sidebar entries, each with its number of assets on the right in a quieter colour;
    section headings (entries that cannot be chosen) in that quieter colour too."""

    MARGIN = 8

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        size = super().sizeHint(option, index)
        size.setHeight(size.height() + 6)
        return size

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        label = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        choosable = bool(index.flags() & Qt.ItemFlag.ItemIsEnabled)
        # The active group's hint colour: the theme checks its contrast; the disabled
        # group's (headings cannot be chosen, so Qt paints them as disabled) is fainter.
        quiet = opt.palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText)
        if selected:
            ink = quiet = opt.palette.color(QPalette.ColorRole.HighlightedText)
        else:
            ink = opt.palette.color(QPalette.ColorRole.Text) if choosable else quiet
        rect = opt.rect.adjusted(self.MARGIN, 0, -self.MARGIN, 0)
        if style is not None and not opt.icon.isNull():  # the text goes after the icon
            opt.text = label
            rect.setLeft(style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt,
                                              widget).left() + 4)  # fmt: skip
        if not choosable:
            rect.setBottom(rect.bottom() - 3)  # a heading sits on its section
        align = opt.displayAlignment & Qt.AlignmentFlag.AlignVertical_Mask
        metrics = QFontMetrics(opt.font)
        count = index.data(COUNT_ROLE)
        number = "" if count is None else QLocale().toString(int(count))
        label_rect = rect.adjusted(0, 0, -(metrics.horizontalAdvance(number) + 8), 0)
        painter.save()
        painter.setFont(opt.font)
        painter.setPen(ink)
        painter.drawText(
            label_rect,
            align | Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(label, Qt.TextElideMode.ElideRight, label_rect.width()),
        )
        if number:
            painter.setPen(quiet)
            painter.drawText(rect, align | Qt.AlignmentFlag.AlignRight, number)
        painter.restore()


def _is_captured(summary: AssetSummary) -> bool:
    return any(tag.casefold() == CAPTURED for tag in summary.tags)


class LibraryPage(QWidget):
    """Shows the assets; asks the window to search (the index lives off the GUI thread)."""

    search_requested = Signal(str)
    open_requested = Signal(str)  # asset id
    dashboard_shown = Signal()  # the dashboard needs fresh figures
    link_captured_requested = Signal(str)  # evidence id: link it to plans
    reflect_requested = Signal(str)  # evidence id: write a reflection about it
    reviewed_requested = Signal(str)  # evidence id: no longer new
    share_requested = Signal(list)  # asset ids: share with an organisation
    share_publicly_requested = Signal(list)  # asset ids: publish as a web page

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LibraryPage")
        self._all: list[AssetSummary] = []
        self._by_id: dict[str, AssetSummary] | None = None  # made when a search needs it
        self._template_counts: dict[str, int] = {}
        #: field -> case-folded name -> the spellings in use (filtering by a tag or skill).
        self._spellings: dict[str, dict[str, set[str]]] = {"tags": {}, "skills": {}}
        self._templates: dict[str, Template] = {}
        self._facets: dict[str, list[tuple[Facet, int]]] = {"tags": [], "skills": []}
        self._list_sort: tuple[int, Qt.SortOrder] = (UPDATED, Qt.SortOrder.DescendingOrder)
        self._search_sort: tuple[int, Qt.SortOrder] | None = None  # None: best match first
        self.menu: QMenu | None = None  # the list's context menu, while shown

        self.sidebar = QListWidget(self)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName(self.tr("Show"))
        self.sidebar.setItemDelegate(SidebarDelegate(self.sidebar))
        self.sidebar.setIconSize(QSize(18, 18))
        self.sidebar.setUniformItemSizes(False)
        for (label, kinds), name in zip(KIND_FILTERS, KIND_ICONS, strict=True):
            item = QListWidgetItem(icon(name), self.tr(label), self.sidebar)
            item.setData(Qt.ItemDataRole.UserRole, kinds)
        self._sections: dict[str, QListWidgetItem] = {}
        for field, title in (("tags", self.tr("Tags")), ("skills", self.tr("Skills"))):
            self._sections[field] = self._section_header(title)
            self._add_none_yet(field)
        self.sidebar.setCurrentRow(ALL_ITEMS_ROW)
        self.sidebar.setMinimumWidth(150)
        self.sidebar.setMaximumWidth(240)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText(self.tr("Search everything you have written…"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search"))
        self.scope = QLabel(self)
        self.scope.setObjectName("search_scope")
        self.scope.setStyleSheet(HINT_STYLE)
        self.scope.hide()
        self.model = AssetTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("assets")
        self.table.setModel(self.model)
        self.title_delegate = SearchResultDelegate(self.table)
        self.table.setItemDelegateForColumn(TITLE, self.title_delegate)
        self.table.setItemDelegateForColumn(SHARED, BadgeDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Several items can be chosen (Ctrl/Shift+click) to share them together.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        vertical = self.table.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self._row_height = vertical.defaultSectionSize()
        header = self.table.horizontalHeader()
        # Fixed widths from the templates, never ResizeToContents: that would measure
        # up to a thousand rows through Python after every reset.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(TITLE, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(60)
        header.resizeSection(TAGS, 180)
        header.setSectionHidden(SHARED, True)  # until something is shared
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        self._show_sort_indicator()
        self.empty = QLabel(self)
        self.empty.setObjectName("empty_state")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.dashboard = DashboardPage(self)
        self.review_bar = QWidget(self)
        self.review_bar.setObjectName("review_bar")
        self.review_hint = QLabel(self.tr("New from your inbox folders. Choose one, then:"),
                                  self.review_bar)  # fmt: skip
        self.review_hint.setStyleSheet(HINT_STYLE)
        self.link_button = QPushButton(icon("link"), self.tr("&Link to a plan or reflection…"),
                                       self.review_bar)  # fmt: skip
        self.link_button.setObjectName("link_captured")
        self.reflect_button = QPushButton(icon("reflection"), self.tr("&Write a reflection"),
                                          self.review_bar)  # fmt: skip
        self.reflect_button.setObjectName("reflect_captured")
        self.reviewed_button = QPushButton(self.tr("&Mark as reviewed"), self.review_bar)
        self.reviewed_button.setObjectName("reviewed_captured")
        review_layout = QHBoxLayout(self.review_bar)
        review_layout.setContentsMargins(0, 0, 0, 0)
        review_layout.addWidget(self.review_hint, 1)
        for button in (self.link_button, self.reflect_button, self.reviewed_button):
            review_layout.addWidget(button)
        self.review_bar.hide()
        self.content = QStackedWidget(self)
        self.content.addWidget(self.table)
        self.content.addWidget(self.empty)
        self.content.addWidget(self.dashboard)
        self._fresh = True  # first listing after unlock picks the starting view
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._fit_columns()

        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self._debounce.timeout.connect(self._search)
        self.sidebar.currentRowChanged.connect(self._filter_chosen)
        header.sortIndicatorChanged.connect(self._sort_chosen)
        self.table.activated.connect(self._activated)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.link_button.clicked.connect(lambda: self._review(self.link_captured_requested))
        self.reflect_button.clicked.connect(lambda: self._review(self.reflect_requested))
        self.reviewed_button.clicked.connect(lambda: self._review(self.reviewed_requested))
        self.dashboard.open_requested.connect(self.open_requested)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.search)
        right_layout.addWidget(self.scope)
        right_layout.addWidget(self.review_bar)
        right_layout.addWidget(self.content, 1)
        splitter = QSplitter(self)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([190, 900])
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)
        self._refresh()

    # ------------------------------------------------------------ public API

    def chosen(self) -> tuple[str, str] | None:
        """The id and title of the item chosen in the list, if one is."""
        asset_id = self._selected_id()
        if asset_id is None or (row := self.model.row_of(asset_id)) < 0:
            return None
        return asset_id, self.model.summary(row).title

    def chosen_ids(self) -> list[str]:
        """The ids of every item chosen in the list, in the order shown."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.summary(row).id for row in rows]

    def set_badges(self, badges: dict[str, str]) -> None:
        """Each asset's status in workspaces; the Shared column shows once there is one."""
        self.model.set_badges(badges)
        header = self.table.horizontalHeader()
        if header.isSectionHidden(SHARED) == bool(badges):
            header.setSectionHidden(SHARED, not badges)

    def _table_menu(self, position: Any) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        if not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.table.selectRow(index.row())
        chosen = self.chosen_ids()
        menu = QMenu(self.table)
        menu.setObjectName("library_menu")
        if len(chosen) == 1:
            menu.addAction(self.tr("&Open"), lambda: self.open_requested.emit(chosen[0]))
            menu.addSeparator()
        menu.addAction(icon("workspace"), self.tr("Share with an &Organisation…"),
                       lambda: self.share_requested.emit(chosen))  # fmt: skip
        menu.addAction(icon("link"), self.tr("Share &Publicly…"),
                       lambda: self.share_publicly_requested.emit(chosen))  # fmt: skip
        menu.popup(self.table.viewport().mapToGlobal(position))
        self.menu = menu  # kept for tests and so it is not collected while shown

    def all_summaries(self) -> list[AssetSummary]:
        """Every asset listed (not only those shown)."""
        return list(self._all)

    def set_templates(self, templates: dict[str, Template]) -> None:
        self._templates = templates
        self.model.set_templates(templates)
        self._fit_columns()

    def set_assets(self, summaries: list[AssetSummary]) -> None:
        """The assets of the space (after unlock and after every save)."""
        self._all = summaries
        self._by_id = None
        self._update_sidebar()
        if self._fresh:
            self._fresh = False
            start = 0 if summaries else ALL_ITEMS_ROW
            if self.sidebar.currentRow() != start:
                self.sidebar.setCurrentRow(start)  # refreshes through currentRowChanged
                return
        if self._query():
            self._search()
        else:
            self._refresh()

    def show_search_results(self, query: str, hits: list[tuple[str, str]]) -> None:
        """Results for `query` (ids with snippets, best first), if it is still current."""
        if query != self._query():
            return  # a later keystroke has moved on
        if self._by_id is None:
            self._by_id = {summary.id: summary for summary in self._all}
        by_id = self._by_id
        rows = [by_id[asset_id] for asset_id, _ in hits if asset_id in by_id]
        self._show(rows, dict(hits))

    def show_facet(self, field: str, name: str) -> bool:
        """Show the assets with this tag ("tags") or skill ("skills"); False if none has it."""
        key = name.casefold()
        for row in range(self.sidebar.count()):
            facet = self.sidebar.item(row).data(Qt.ItemDataRole.UserRole)
            if isinstance(facet, Facet) and facet.field == field and facet.key == key:
                self.sidebar.setCurrentRow(row)
                return True
        return False

    def clear(self) -> None:
        self._fresh = True
        self._all = []
        self._by_id = None
        self._search_sort = None
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._debounce.stop()
        self.sidebar.blockSignals(True)
        self.sidebar.setCurrentRow(ALL_ITEMS_ROW)
        self.sidebar.blockSignals(False)
        self.model.clear()
        self._update_sidebar()
        self._refresh()

    # --------------------------------------------------------------- sidebar

    def _section_header(self, title: str) -> QListWidgetItem:
        item = QListWidgetItem(title, self.sidebar)
        item.setFlags(Qt.ItemFlag.NoItemFlags)  # not selectable: arrow keys step over it
        font = QFont(self.sidebar.font())
        font.setWeight(QFont.Weight.Bold)
        item.setFont(font)
        metrics = QFontMetrics(font)
        item.setSizeHint(QSize(0, metrics.height() + 14))
        item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
        return item

    def _add_none_yet(self, field: str) -> None:
        text = self.tr("No tags yet") if field == "tags" else self.tr("No skills yet")
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        self.sidebar.insertItem(self.sidebar.row(self._sections[field]) + 1, item)

    def _filter(self) -> frozenset[str] | str | Facet | None:
        item = self.sidebar.currentItem()
        chosen: frozenset[str] | str | Facet | None = (
            item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        )
        return chosen

    def _update_sidebar(self) -> None:
        """Counts for the kinds, and the tags and skills in use, keeping the selection."""
        # Counted by exact spelling first (Counter and chain run in C), then merged
        # case-insensitively over the few distinct names: a few ms for 10,000 assets.
        self._template_counts = Counter(map(attrgetter("template_id"), self._all))
        kinds: Counter[str] = Counter()
        for template_id, count in self._template_counts.items():
            kinds[self.model.template_facts(template_id)[1]] += count
        for number, (_label, spec) in enumerate(KIND_FILTERS):
            total: int | None = None  # the dashboard has no count
            if spec is None:
                total = len(self._all)
            elif spec == CAPTURED:
                total = sum(1 for s in self._all if _is_captured(s))
            elif isinstance(spec, frozenset):
                total = sum(kinds[kind] for kind in spec)
            item = self.sidebar.item(number)
            if total is not None and item.data(COUNT_ROLE) != total:
                item.setData(COUNT_ROLE, total)
                item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, self._items(total))
        current = self._filter()
        for field in ("tags", "skills"):
            spelled = Counter(chain.from_iterable(map(attrgetter(field), self._all)))
            merged: dict[str, tuple[str, int, int]] = {}  # key -> label, its uses, all uses
            spellings: dict[str, set[str]] = {}
            for name, count in spelled.items():
                key = name.casefold()
                spellings.setdefault(key, set()).add(name)
                label, label_count, total_count = merged.get(key, (name, 0, 0))
                if count > label_count:  # the commonest spelling; on a tie, the first listed
                    label, label_count = name, count
                merged[key] = (label, label_count, total_count + count)
            self._spellings[field] = spellings
            facets = [
                (Facet(field, key, label), total_count)
                for key, (label, _uses, total_count) in merged.items()
            ]
            chosen = current if isinstance(current, Facet) and current.field == field else None
            if chosen is not None and chosen.key not in merged:
                facets.append((chosen, 0))  # kept while chosen: its empty state shows
            facets.sort(key=lambda pair: natural_key(pair[0].label))
            if facets != self._facets[field]:
                self._facets[field] = facets
                self._rebuild_section(field, facets, current)

    def _rebuild_section(
        self, field: str, facets: list[tuple[Facet, int]], current: object
    ) -> None:
        self.sidebar.blockSignals(True)  # the page refreshes itself after this
        try:
            first = self.sidebar.row(self._sections[field]) + 1
            end = self.sidebar.count()
            if field == "tags":
                end = self.sidebar.row(self._sections["skills"])
            for _ in range(first, end):
                self.sidebar.takeItem(first)
            if not facets:
                self._add_none_yet(field)
            facet_icon = icon("tag" if field == "tags" else "skill")
            for offset, (facet, count) in enumerate(facets):
                item = QListWidgetItem(facet_icon, facet.label)
                item.setData(Qt.ItemDataRole.UserRole, facet)
                item.setData(COUNT_ROLE, count)
                item.setData(Qt.ItemDataRole.AccessibleDescriptionRole, self._items(count))
                item.setToolTip(plain_tooltip(facet.label))
                self.sidebar.insertItem(first + offset, item)
                if isinstance(current, Facet) and (facet.field, facet.key) == (
                    current.field,
                    current.key,
                ):
                    self.sidebar.setCurrentItem(item)
            if self.sidebar.currentItem() is None:
                self.sidebar.setCurrentRow(ALL_ITEMS_ROW)
        finally:
            self.sidebar.blockSignals(False)

    def _items(self, count: int) -> str:
        return self.tr("1 item") if count == 1 else self.tr("{n} items").format(n=count)

    def _filter_chosen(self, _row: int) -> None:
        if self._query():
            # Picking a filter ends the search: narrowing the best 50 matches to a
            # filter would silently hide matches ranked lower.
            self.search.blockSignals(True)
            self.search.clear()
            self.search.blockSignals(False)
            self._debounce.stop()
            self._search_sort = None
        self._refresh()

    # --------------------------------------------------------------- listing

    def _query(self) -> str:
        return self.search.text().strip()

    def _filtered(self) -> list[AssetSummary]:
        chosen = self._filter()
        if chosen == CAPTURED:
            return [summary for summary in self._all if _is_captured(summary)]
        if isinstance(chosen, frozenset):
            facts = self.model.template_facts
            ids = {tid for tid in self._template_counts if facts(tid)[1] in chosen}
            return [summary for summary in self._all if summary.template_id in ids]
        if isinstance(chosen, Facet):
            names = self._spellings[chosen.field].get(chosen.key, set())
            if chosen.field == "tags":
                return [summary for summary in self._all if not names.isdisjoint(summary.tags)]
            return [summary for summary in self._all if not names.isdisjoint(summary.skills)]
        return self._all

    def _refresh(self) -> None:
        """Show the listing for the sidebar's choice (not search results)."""
        chosen = self._filter()
        self.review_bar.setVisible(chosen == CAPTURED)
        if chosen == DASHBOARD:
            self.model.show(self._all, keep_order=True)
            self.scope.hide()
            self.content.setCurrentWidget(self.dashboard)
            self.dashboard_shown.emit()
            return
        self._show(self._filtered(), None)

    def _show(self, rows: list[AssetSummary], snippets: dict[str, str] | None) -> None:
        searching = snippets is not None
        sort = self._search_sort if searching else self._list_sort
        selected = self._selected_id()
        if sort is not None:
            self.model.sort_column, self.model.sort_order = sort
        self.model.show(rows, snippets, keep_order=sort is None)
        self._show_sort_indicator()
        vertical = self.table.verticalHeader()
        height = self.title_delegate.two_line_height(self.table.font()) if searching else 0
        if vertical.defaultSectionSize() != max(self._row_height, height):
            vertical.setDefaultSectionSize(max(self._row_height, height))
        if selected is not None and (row := self.model.row_of(selected)) >= 0:
            self.table.selectRow(row)
        self.scope.setVisible(searching and bool(rows))
        if searching:
            self.scope.setText(self._scope_text(sort))
        if rows:
            self.content.setCurrentWidget(self.table)
        else:
            self.empty.setText(self._empty_text(searching))
            self.content.setCurrentWidget(self.empty)

    def _selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.summary(rows[0].row()).id if rows else None

    def _scope_text(self, sort: tuple[int, Qt.SortOrder] | None) -> str:
        if sort is None:
            return self.tr("Matches from your whole space, best match first.")
        column = self.tr(AssetTableModel.COLUMNS[sort[0]])
        return self.tr("Matches from your whole space, sorted by {column}.").format(column=column)

    def _empty_text(self, searching: bool) -> str:
        if searching:
            return self.tr("Nothing in your space matches “{query}”.").format(query=self._query())
        if not self._all:
            return self.tr(
                "Your space is empty.\n\nStart with what is on your mind: a plan for something "
                "you want to get better at, or a reflection on something that happened this "
                "week. Choose File ▸ New (Ctrl+N)."
            )
        chosen = self._filter()
        if chosen == CAPTURED:
            return self.tr(
                "Nothing new from your inbox folders.\n\nFiles that arrive in the folders "
                "Cairn watches become evidence and wait here for you. Choose the folders in "
                "Edit ▸ Preferences."
            )
        if isinstance(chosen, Facet) and chosen.field == "tags":
            return self.tr(
                "Nothing is tagged “{tag}” any more.\n\nChoose another tag, or All items."
            ).format(tag=chosen.label)
        if isinstance(chosen, Facet):
            return self.tr(
                "Nothing names the skill “{skill}” any more.\n\nChoose another skill, or All items."
            ).format(skill=chosen.label)
        return self.tr("Nothing of this kind yet.")

    # --------------------------------------------------------------- sorting

    def _fit_columns(self) -> None:
        """Column widths for the longest template name and status label there can be."""
        header = self.table.horizontalHeader()
        metrics = QFontMetrics(self.table.font())
        names = [t.name for t in self._templates.values()]
        statuses = [
            option.label
            for template in self._templates.values()
            for spec in template.fields
            if spec.id == "status" and spec.type == "choice"
            for option in spec.options
        ]
        padding = 24  # cell margins and the sort arrow

        def widest(texts: list[str], column: int, cap: int) -> int:
            heading = metrics.horizontalAdvance(self.tr(AssetTableModel.COLUMNS[column]))
            longest = max((metrics.horizontalAdvance(text) for text in texts), default=0)
            return min(cap, max(heading, longest) + padding)

        header.resizeSection(TEMPLATE, widest(names, TEMPLATE, 230))
        header.resizeSection(STATUS, widest(statuses, STATUS, 150))
        small = QFontMetrics(badge_font(self.table.font()))
        pill = max(small.horizontalAdvance(badge_label(k, short=True)) for k in BADGE_LABELS)
        header.resizeSection(SHARED, max(pill + 28, metrics.horizontalAdvance(
            self.tr(AssetTableModel.COLUMNS[SHARED])) + padding))  # fmt: skip
        header.resizeSection(UPDATED, widest([friendly_time("2026-12-30T23:59:00")], UPDATED, 180))

    def _show_sort_indicator(self) -> None:
        header = self.table.horizontalHeader()
        column = self.model.sort_column
        header.blockSignals(True)  # only a person's click sorts
        header.setSortIndicator(-1 if column is None else column, self.model.sort_order)
        header.blockSignals(False)

    def _sort_chosen(self, column: int, order: Qt.SortOrder) -> None:
        if column < 0:
            return
        self._list_sort = (column, order)
        if self.model.searching or self._query():
            self._search_sort = (column, order)
            self.scope.setText(self._scope_text(self._search_sort))
        self.model.sort(column, order)

    # ---------------------------------------------------------------- search

    def _search(self) -> None:
        query = self._query()
        if query:
            if self.sidebar.currentRow() != ALL_ITEMS_ROW:
                # Search covers the whole space; the sidebar says so.
                self.sidebar.blockSignals(True)
                self.sidebar.setCurrentRow(ALL_ITEMS_ROW)
                self.sidebar.blockSignals(False)
            if not self.model.searching:
                self.scope.setText(self.tr("Searching your whole space…"))
                self.scope.show()
            self.search_requested.emit(query)
        else:
            self._search_sort = None
            self._refresh()

    def _review(self, signal: Any) -> None:
        chosen = self._selected_id()
        if chosen is None and self.model.rowCount() == 1:
            chosen = self.model.summary(0).id  # the only one: no need to pick it first
        if chosen is None:
            self.review_hint.setText(self.tr("Choose an item in the list first."))
            return
        signal.emit(chosen)

    def _activated(self, index: QModelIndex) -> None:
        self.open_requested.emit(self.model.summary(index.row()).id)
