"""Status badges for an asset's life in workspaces: the words and the colours, shared by
the library's column and the editor's Feedback tab."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ui.theme import is_dark

#: Every badge ``ui.sync_jobs.library_badges`` gives, in the order a person cares.
LABELS = {
    "failed": "Failed",
    "sending": "Sending",
    "queued": "Queued",
    "validated": "Validated",
    "needs_more_evidence": "Needs more evidence",
    "not_yet": "Not yet",
    "feedback": "Feedback",
    "delivered": "Delivered",
    "withdrawn": "Withdrawn",
}

# (background, text) for light and dark palettes; each text colour keeps at least
# 4.5:1 against its background.
_LIGHT = {
    "failed": ("#f6d9d9", "#8f1b1b"),
    "sending": ("#e4e8ed", "#343c46"),
    "queued": ("#e4e8ed", "#343c46"),
    "validated": ("#d9eee0", "#1b5530"),
    "needs_more_evidence": ("#f8e8c8", "#6e4300"),
    "not_yet": ("#f1dede", "#7c2a2a"),
    "feedback": ("#e2def3", "#43377f"),
    "delivered": ("#d9e9f1", "#1b4f66"),
    "withdrawn": ("#e9e9e9", "#4d4d4d"),
}
_DARK = {
    "failed": ("#4a2323", "#f5b3b3"),
    "sending": ("#323840", "#d2d8df"),
    "queued": ("#323840", "#d2d8df"),
    "validated": ("#1f3d2a", "#a6e0b9"),
    "needs_more_evidence": ("#45341a", "#f2cd8a"),
    "not_yet": ("#482727", "#f1b0b0"),
    "feedback": ("#302c4b", "#cbc3f4"),
    "delivered": ("#1e3743", "#a6d4e8"),
    "withdrawn": ("#35383c", "#c0c4c9"),
}


#: Shorter words where a column is narrow (the full label is the tooltip).
SHORT_LABELS = {"needs_more_evidence": "Needs evidence"}

#: The badge kind of an item view's cell, for ``BadgeDelegate``.
BADGE_ROLE = Qt.ItemDataRole.UserRole + 3


def badge_label(kind: str, short: bool = False) -> str:
    text = (short and SHORT_LABELS.get(kind)) or LABELS.get(kind) or kind.replace(
        "_", " ").capitalize()  # fmt: skip
    return QCoreApplication.translate("badges", text)


def badge_font(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(font.pointSizeF() * 0.9)
    small.setWeight(QFont.Weight.DemiBold)
    return small


def badge_colours(kind: str, palette: QPalette | None = None) -> tuple[QColor, QColor]:
    table = _DARK if is_dark(palette or QGuiApplication.palette()) else _LIGHT
    background, text = table.get(kind, table["queued"])
    return QColor(background), QColor(text)


def badge_style(kind: str) -> str:
    """A style sheet making a QLabel a small rounded badge."""
    background, text = badge_colours(kind)
    return (f"background: {background.name()}; color: {text.name()}; border-radius: 9px; "
            "padding: 2px 9px; font-weight: 600;")  # fmt: skip


class BadgeDelegate(QStyledItemDelegate):
    """Cells with a ``BADGE_ROLE`` kind drawn as a small coloured badge with their text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:  # fmt: skip
        kind = index.data(BADGE_ROLE)
        if not kind:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        background, ink = badge_colours(str(kind), opt.palette)
        font = badge_font(opt.font)
        metrics = QFontMetrics(font)
        rect = opt.rect.adjusted(4, 0, -4, 0)
        width = min(rect.width(), metrics.horizontalAdvance(text) + 16)
        height = min(rect.height() - 4, metrics.height() + 4)
        pill = QRect(rect.left(), rect.top() + (rect.height() - height) // 2, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(background)
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setFont(font)
        painter.setPen(ink)
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, pill.width() - 12)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, shown)
        painter.restore()
