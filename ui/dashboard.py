"""The dashboard: active plans, recent reflections, activity over time, skills."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.dashboard import Dashboard

HINT_STYLE = "color: palette(placeholder-text);"


def _pretty_date(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return date.fromisoformat(iso[:10]).strftime("%-d %b")
    except ValueError:
        return ""


class Card(QFrame):
    """A titled panel; its body is rebuilt on each update."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title, self)
        font = self.title.font()
        font.setWeight(QFont.Weight.DemiBold)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.body = QVBoxLayout()
        self.body.setSpacing(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addWidget(self.title)
        layout.addLayout(self.body)
        layout.addStretch(1)

    def clear(self) -> None:
        while self.body.count():
            item = self.body.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.setParent(None)  # gone from view and from findChildren at once
                widget.deleteLater()

    def hint(self, text: str) -> None:
        label = QLabel(text, self)
        label.setWordWrap(True)
        label.setStyleSheet(HINT_STYLE)
        self.body.addWidget(label)


class ActivityChart(QWidget):
    """Entries written per month as bars, painted (no chart module needed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("activity_chart")
        self.months: list[tuple[str, int, float]] = []
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(self.tr("Entries per month"))

    def set_months(self, months: list[tuple[str, int, float]]) -> None:
        self.months = months
        total = sum(count for _, count, _ in months)
        self.setAccessibleDescription(
            self.tr("{total} entries in the last {n} months").format(total=total, n=len(months))
        )
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.months:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.WindowText)
        bar_colour = palette.color(QPalette.ColorRole.Highlight)
        label_height = self.fontMetrics().height() + 6
        top = self.fontMetrics().height() + 4
        area = QRectF(4, top, self.width() - 8, self.height() - label_height - top)
        peak = max(1, max(count for _, count, _ in self.months))
        slot = area.width() / len(self.months)
        for index, (month, count, _hours) in enumerate(self.months):
            height = area.height() * count / peak
            bar = QRectF(
                area.left() + index * slot + slot * 0.18,
                area.bottom() - height,
                slot * 0.64,
                height,
            )
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bar_colour)
            painter.drawRoundedRect(bar, 3, 3)
            painter.setPen(text_colour)
            if count:
                painter.drawText(
                    QRectF(bar.left() - 8, bar.top() - top, bar.width() + 16, top),
                    Qt.AlignmentFlag.AlignCenter,
                    str(count),
                )
            name = date(int(month[:4]), int(month[5:7]), 1).strftime("%b")
            label_box = QRectF(area.left() + index * slot, area.bottom() + 4, slot, label_height)
            painter.drawText(
                label_box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name
            )
        painter.end()


class DashboardPage(QWidget):
    """Four cards; asks to open an asset when one is clicked."""

    open_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DashboardPage")
        self.plans = Card(self.tr("Active plans"), self)
        self.reflections = Card(self.tr("Recent reflections"), self)
        self.activity = Card(self.tr("Learning activity"), self)
        self.skills = Card(self.tr("Skills"), self)
        self.chart = ActivityChart(self)
        self.chart_caption = QLabel(self)
        self.chart_caption.setStyleSheet(HINT_STYLE)
        self.activity.body.addWidget(self.chart, 1)
        self.activity.body.addWidget(self.chart_caption)
        grid = QGridLayout(self)
        grid.setSpacing(14)
        grid.addWidget(self.plans, 0, 0)
        grid.addWidget(self.activity, 0, 1)
        grid.addWidget(self.reflections, 1, 0)
        grid.addWidget(self.skills, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

    def set_dashboard(self, board: Dashboard) -> None:
        self.plans.clear()
        if not board.plans:
            self.plans.hint(
                self.tr("No active plans. A SMART plan turns an intention into steps: File ▸ New.")
            )
        table = QWidget(self.plans)
        grid = QGridLayout(table)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        for row, plan in enumerate(board.plans[:6]):
            name = QPushButton(plan.title, table)
            name.setFlat(True)
            name.setStyleSheet("text-align: left; padding: 0;")
            name.clicked.connect(lambda _c=False, i=plan.asset_id: self.open_requested.emit(i))
            bar = QProgressBar(table)
            bar.setRange(0, 100)
            bar.setValue(plan.progress or 0)
            bar.setFormat("%p %" if plan.progress is not None else self.tr("no actions yet"))
            bar.setAccessibleName(self.tr("Progress of {title}").format(title=plan.title))
            review = QLabel(table)
            if plan.next_review:
                review.setText(self.tr("review {day}").format(day=_pretty_date(plan.next_review)))
            review.setStyleSheet(HINT_STYLE)
            grid.addWidget(name, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(review, row, 2)
        if board.plans:
            self.plans.body.addWidget(table)
        else:
            table.deleteLater()

        self.reflections.clear()
        if not board.recent_reflections:
            self.reflections.hint(
                self.tr("Nothing reflected on yet. What happened this week that surprised you?")
            )
        for item in board.recent_reflections:
            button = QPushButton(f"{item.title}  ·  {_pretty_date(item.updated)}", self.reflections)
            button.setFlat(True)
            button.setStyleSheet("text-align: left; padding: 2px 0;")
            button.clicked.connect(lambda _c=False, i=item.asset_id: self.open_requested.emit(i))
            self.reflections.body.addWidget(button)

        self.chart.set_months(board.activity)
        entries = sum(count for _, count, _ in board.activity)
        hours = sum(h for _, _, h in board.activity)
        caption = self.tr("{entries} entries in the last 12 months").format(entries=entries)
        if hours:
            caption += self.tr(" · {hours:g} hours of CPD logged").format(hours=hours)
        self.chart_caption.setText(caption)

        self.skills.clear()
        if not board.skills:
            self.skills.hint(self.tr("Rate a skill with a skill self-assessment to see it here."))
        for rating in board.skills[:8]:
            dots = "●" * int(round(rating.rating)) + "○" * max(
                0, rating.out_of - int(round(rating.rating))
            )
            label = QLabel(f"{rating.skill}", self.skills)
            value = QLabel(dots, self.skills)
            value.setAccessibleName(
                self.tr("{skill}: {rating} of {out_of}").format(
                    skill=rating.skill, rating=rating.rating, out_of=rating.out_of
                )
            )
            skill_row = QWidget(self.skills)
            line = QHBoxLayout(skill_row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(label, 1)
            line.addWidget(value)
            self.skills.body.addWidget(skill_row)
