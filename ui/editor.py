"""The asset editor: a form generated from the template, with inline validation,
debounced autosave and explicit save. The window decides what saving means."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.forms.answers import computed_values, defaults, validate
from app.forms.model import Template
from store.records import AssetRecord
from ui.fields import FieldInput, make_input
from ui.first_run import ERROR_STYLE

AUTOSAVE_MS = 1500
HINT_STYLE = "color: palette(placeholder-text);"


class AssetEditor(QWidget):
    """Edits one asset (or a new one). Emits `save_requested(title, values)` only
    when the answers are valid; shows every problem beside its field otherwise."""

    save_requested = Signal(str, dict, list)  # title, answers, tags
    close_requested = Signal()
    history_requested = Signal()

    def __init__(self, template: Template, record: AssetRecord | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("AssetEditor")
        self.template = template
        self.record = record
        self.inputs: dict[str, FieldInput] = {}
        self.problem_labels: dict[str, QLabel] = {}
        self._dirty = False

        self.back_button = QPushButton(self.tr("← Library"), self)
        self.back_button.setObjectName("back_button")
        self.status = QLabel(self)
        self.status.setObjectName("save_status")
        self.save_button = QPushButton(self.tr("Save"), self)
        self.save_button.setObjectName("save_button")
        self.history_button = QPushButton(self.tr("History…"), self)
        self.history_button.setObjectName("history_button")
        self.history_button.setEnabled(record is not None)
        self.title = QLineEdit(self)
        self.title.setObjectName("title")
        self.title.setPlaceholderText(self.tr("Give it a title"))
        self.title.setAccessibleName(self.tr("Title"))
        title_font = self.title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.5)
        self.title.setFont(title_font)
        self.title.setFrame(False)
        self.tags = QLineEdit(self)
        self.tags.setObjectName("tags")
        self.tags.setPlaceholderText(self.tr("Tags, separated by commas"))
        self.tags.setAccessibleName(self.tr("Tags"))
        self.title_problem = QLabel(self)
        self.title_problem.setStyleSheet(ERROR_STYLE)
        self.title_problem.hide()
        description = " ".join(template.description.split())
        self.about = QLabel(f"{template.name} · {description}", self)
        self.about.setWordWrap(True)
        self.about.setStyleSheet(HINT_STYLE)
        self.summary = QLabel(self)
        self.summary.setObjectName("computed")
        form = self._build_form()
        form.setMaximumWidth(760)  # a readable line length, however wide the window
        holder = QWidget(self)
        centre = QHBoxLayout(holder)
        centre.addWidget(form, 1)
        centre.addStretch(0)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(holder)
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(AUTOSAVE_MS)

        self.back_button.clicked.connect(self.close_requested)
        self.save_button.clicked.connect(self.save_now)
        self.history_button.clicked.connect(self.history_requested)
        self.title.textEdited.connect(lambda _t: self._edited())
        self.tags.textEdited.connect(lambda _t: self._edited())
        self._autosave.timeout.connect(self.save_now)
        for widget in self.inputs.values():
            widget.changed.connect(self._edited)

        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addStretch(1)
        top.addWidget(self.status)
        top.addWidget(self.history_button)
        top.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addWidget(self.title_problem)
        layout.addWidget(self.tags)
        layout.addWidget(self.about)
        layout.addWidget(self.summary)
        layout.addWidget(self.scroll_area, 1)

        self._load(record)

    def _build_form(self) -> QWidget:
        form = QWidget(self)
        column = QVBoxLayout(form)
        column.setSpacing(18)
        for section in self.template.sections:
            heading = QLabel(section.title, form)
            font = heading.font()
            font.setPointSizeF(font.pointSizeF() * 1.2)
            font.setWeight(QFont.Weight.DemiBold)
            heading.setFont(font)
            column.addWidget(heading)
            if section.prompt:
                intro = QLabel(section.prompt, form)
                intro.setWordWrap(True)
                intro.setStyleSheet(HINT_STYLE)
                column.addWidget(intro)
            for spec in section.fields:
                label = QLabel(spec.label + (" *" if spec.required else ""), form)
                bold = label.font()
                bold.setWeight(QFont.Weight.DemiBold)
                label.setFont(bold)
                widget = make_input(spec, form)
                label.setBuddy(widget)
                column.addWidget(label)
                if spec.prompt and spec.type != "markdown":  # markdown shows it inside
                    prompt = QLabel(spec.prompt, form)
                    prompt.setWordWrap(True)
                    prompt.setStyleSheet(HINT_STYLE)
                    column.addWidget(prompt)
                if spec.help:
                    widget.setToolTip(spec.help)
                column.addWidget(widget)
                problem = QLabel(form)
                problem.setObjectName(f"problem_{spec.id}")
                problem.setStyleSheet(ERROR_STYLE)
                problem.hide()
                column.addWidget(problem)
                self.inputs[spec.id] = widget
                self.problem_labels[spec.id] = problem
        column.addStretch(1)
        return form

    # ------------------------------------------------------------------ state

    def _load(self, record: AssetRecord | None) -> None:
        self.title.setText(record.title if record else "")
        self.tags.setText(", ".join(record.tags) if record else "")
        values = record.fields if record else defaults(self.template)
        for field_id, widget in self.inputs.items():
            widget.set_value(values.get(field_id))
        self._dirty = False
        self._update_summary()
        self.status.setText(self.tr("Saved") if record else self.tr("New: not saved yet"))

    def values(self) -> dict[str, Any]:
        answers = {key: widget.value() for key, widget in self.inputs.items()}
        return {key: value for key, value in answers.items() if value is not None}

    @property
    def dirty(self) -> bool:
        return self._dirty

    def _edited(self) -> None:
        self._dirty = True
        self.status.setText(self.tr("Unsaved changes"))
        self._update_summary()
        self._autosave.start()

    def _update_summary(self) -> None:
        parts = []
        values = computed_values(self.template, self.values())
        for item in self.template.computed:
            value = values.get(item.id)
            if value is None:
                continue
            unit = " %" if item.function == "progress" else (f" {item.unit}" if item.unit else "")
            parts.append(f"{item.label}: {value}{unit}")
        self.summary.setText("   ·   ".join(parts))
        self.summary.setVisible(bool(parts))

    def show_problems(self) -> int:
        """Show every problem beside its field; returns how many there are."""
        for label in self.problem_labels.values():
            label.hide()
        problems = validate(self.template, self.values())
        by_field: dict[str, list[str]] = {}
        for problem in problems:
            field_id = problem.field.split("[", 1)[0].split(".", 1)[0]
            where = problem.field[len(field_id) :].lstrip(".")
            by_field.setdefault(field_id, []).append(
                f"{where}: {problem.message}" if where else problem.message
            )
        first: QWidget | None = None
        for spec in self.template.fields:
            messages = by_field.get(spec.id)
            if not messages:
                continue
            label = self.problem_labels[spec.id]
            label.setText("; ".join(messages).capitalize())
            label.show()
            first = first or label
        if first is not None:
            # After the layout has made room for the messages just shown.
            target = first
            QTimer.singleShot(0, lambda: self.scroll_area.ensureWidgetVisible(target, 40, 60))
        title_missing = not self.title.text().strip()
        self.title_problem.setText(self.tr("A title is needed.") if title_missing else "")
        self.title_problem.setVisible(title_missing)
        return len(problems) + int(title_missing)

    def save_now(self) -> None:
        """Ask to save if the answers are valid; otherwise say what to fix."""
        self._autosave.stop()
        count = self.show_problems()
        if count:
            self.status.setText(
                self.tr("Not saved: 1 thing to fix")
                if count == 1
                else self.tr("Not saved: {count} things to fix").format(count=count)
            )
            return
        self.status.setText(self.tr("Saving…"))
        tags = [tag.strip() for tag in self.tags.text().split(",") if tag.strip()]
        self.save_requested.emit(self.title.text().strip(), self.values(), tags)

    def saved(self, record: AssetRecord) -> None:
        """The window reports a successful save."""
        self.record = record
        self._dirty = False
        self.history_button.setEnabled(True)
        self.status.setText(self.tr("Saved"))

    def reload(self, record: AssetRecord) -> None:
        """Show another version of the asset (after a restore)."""
        self.record = record
        self._load(record)

    def save_failed(self, message: str) -> None:
        self.status.setText(message)


class TemplatePicker(QDialog):
    """Choose what to write: each template with its purpose."""

    def __init__(self, templates: list[Template], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TemplatePicker")
        self.setWindowTitle(self.tr("New"))
        self.templates = templates
        self.list = QListWidget(self)
        self.list.setObjectName("templates")
        self.list.setWordWrap(True)
        self.list.setAccessibleName(self.tr("Templates"))
        for template in templates:
            item = QListWidgetItem(f"{template.name}\n{' '.join(template.description.split())}")
            item.setData(Qt.ItemDataRole.UserRole, template.qualified_id)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.setSpacing(4)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Start writing"))

        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemActivated.connect(lambda _item: self.accept())

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(self.tr("What would you like to write?"), self))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self.resize(560, 560)

    def chosen(self) -> Template | None:
        item = self.list.currentItem()
        if item is None:
            return None
        wanted = item.data(Qt.ItemDataRole.UserRole)
        return next((t for t in self.templates if t.qualified_id == wanted), None)

    @classmethod
    def get_template(cls, templates: list[Template], parent: QWidget | None = None
                     ) -> tuple[Template | None, bool]:  # fmt: skip
        dialog = cls(templates, parent)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return (dialog.chosen() if accepted else None), accepted
