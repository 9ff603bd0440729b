"""One input widget per template field type: each has value(), set_value() and `changed`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.forms.model import FieldSpec
from app.forms.render import markdown_to_html
from store.records import AttachmentInfo
from ui.asset_picker import AssetEntry, AssetPicker


class FormContext(QObject):
    """What link and attachment fields need from outside the form.

    The editor fills it: the other assets (to show titles and to choose from),
    this asset's attachments, and what to do when a field asks to attach files.
    """

    changed = Signal()  # assets or attachments changed: fields redraw
    attach_requested = Signal(object)  # the AttachmentInput that asked

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.assets: dict[str, AssetEntry] = {}
        self.attachments: list[AttachmentInfo] = []
        self.own_id: str | None = None
        #: Opens the chooser; tests replace it (a modal dialog cannot be clicked there).
        self.choose_assets: Callable[[list[AssetEntry], list[str], QWidget], list[str] | None] = (
            _choose_with_picker
        )

    def set_assets(self, entries: dict[str, AssetEntry], own_id: str | None) -> None:
        self.assets, self.own_id = entries, own_id
        self.changed.emit()

    def set_attachments(self, infos: list[AttachmentInfo]) -> None:
        self.attachments = list(infos)
        self.changed.emit()

    def choose(self, chosen: list[str], parent: QWidget) -> list[str] | None:
        """Ask for other assets (never this one); None when the person cancels."""
        entries = [e for e in self.assets.values() if e.id != self.own_id]
        return self.choose_assets(entries, list(chosen), parent)

    def label_for(self, asset_id: str) -> str:
        entry = self.assets.get(asset_id)
        return entry.label if entry is not None else self.tr("An item no longer in your space")


def _choose_with_picker(
    entries: list[AssetEntry], chosen: list[str], parent: QWidget
) -> list[str] | None:
    result, accepted = AssetPicker.choose(entries, chosen, parent)
    return result if accepted else None


class FieldInput(QWidget):
    """Base: a field's input; emits `changed` on every edit a person makes."""

    changed = Signal()

    def __init__(
        self, spec: FieldSpec, parent: QWidget | None = None, context: FormContext | None = None
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        self.context = context
        self.setObjectName(f"field_{spec.id}")
        self.setAccessibleName(spec.label)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError


class TextInput(FieldInput):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(spec.placeholder or spec.prompt)
        self.edit.setAccessibleName(spec.label)
        if spec.max_length:
            self.edit.setMaxLength(spec.max_length)
        self.edit.textEdited.connect(lambda _t: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)

    def value(self) -> Any:
        text = self.edit.text()
        return text if text.strip() else None

    def set_value(self, value: Any) -> None:
        self.edit.setText("" if value is None else str(value))


class MarkdownInput(FieldInput):
    """Long text with an Edit / Preview toggle; the preview is sanitised HTML."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.edit = QPlainTextEdit(self)
        self.edit.setPlaceholderText(spec.placeholder or spec.prompt)
        self.edit.setAccessibleName(spec.label)
        self.edit.setTabChangesFocus(True)
        self.edit.setMinimumHeight(72)
        self.edit.setMaximumHeight(140)
        self.preview = QTextBrowser(self)
        self.preview.setOpenExternalLinks(False)
        self.preview.setMaximumHeight(140)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.edit)
        self.pages.addWidget(self.preview)
        self.pages.setMaximumHeight(140)
        self.toggle = QToolButton(self)
        self.toggle.setText(self.tr("Preview"))
        self.toggle.setCheckable(True)
        self.toggle.setAccessibleName(self.tr("Preview {label}").format(label=spec.label))

        self.edit.textChanged.connect(self.changed)
        self.toggle.toggled.connect(self._toggle)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.pages)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignRight)

    def _toggle(self, preview: bool) -> None:
        if preview:
            self.preview.setHtml(markdown_to_html(self.edit.toPlainText()))
        self.pages.setCurrentWidget(self.preview if preview else self.edit)
        self.toggle.setText(self.tr("Edit") if preview else self.tr("Preview"))

    def value(self) -> Any:
        text = self.edit.toPlainText()
        return text if text.strip() else None

    def set_value(self, value: Any) -> None:
        self.edit.blockSignals(True)
        self.edit.setPlainText("" if value is None else str(value))
        self.edit.blockSignals(False)


class DateInput(FieldInput):
    """A date picker with a "set" box, because a date may be left unanswered."""

    def __init__(
        self, spec: FieldSpec, parent: QWidget | None = None, *, with_time: bool = False
    ) -> None:
        super().__init__(spec, parent)
        self.with_time = with_time
        self.enabled = QCheckBox(self)
        self.enabled.setAccessibleName(self.tr("Set {label}").format(label=spec.label))
        self.picker: QDateEdit | QDateTimeEdit
        if with_time:
            self.picker = QDateTimeEdit(QDateTime.currentDateTime(), self)
            self.picker.setDisplayFormat("d MMM yyyy, HH:mm")
        else:
            self.picker = QDateEdit(QDate.currentDate(), self)
            self.picker.setDisplayFormat("d MMM yyyy")
        self.picker.setCalendarPopup(True)
        self.picker.setAccessibleName(spec.label)
        self.picker.setEnabled(False)

        self.enabled.toggled.connect(self.picker.setEnabled)
        self.enabled.toggled.connect(lambda _on: self.changed.emit())
        if isinstance(self.picker, QDateTimeEdit) and with_time:
            self.picker.dateTimeChanged.connect(lambda _d: self.changed.emit())
        else:
            self.picker.dateChanged.connect(lambda _d: self.changed.emit())

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.picker)
        layout.addStretch(1)

    def value(self) -> Any:
        if not self.enabled.isChecked():
            return None
        if self.with_time:
            return self.picker.dateTime().toString("yyyy-MM-ddTHH:mm")
        return self.picker.date().toString("yyyy-MM-dd")

    def set_value(self, value: Any) -> None:
        self.enabled.setChecked(value is not None)
        if value is None:
            return
        if self.with_time:
            moment = QDateTime.fromString(str(value)[:16], "yyyy-MM-ddTHH:mm")
            if moment.isValid():
                self.picker.setDateTime(moment)
        else:
            day = QDate.fromString(str(value), "yyyy-MM-dd")
            if day.isValid():
                self.picker.setDate(day)


class NumberInput(FieldInput):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.enabled = QCheckBox(self)
        self.enabled.setAccessibleName(self.tr("Set {label}").format(label=spec.label))
        self.spin = QDoubleSpinBox(self)
        self.spin.setAccessibleName(spec.label)
        self.spin.setDecimals(0 if spec.integer else 2)
        self.spin.setRange(
            spec.minimum if spec.minimum is not None else -1e9,
            spec.maximum if spec.maximum is not None else 1e9,
        )
        if spec.unit:
            self.spin.setSuffix(f" {spec.unit}")
        self.spin.setEnabled(False)
        self.enabled.toggled.connect(self.spin.setEnabled)
        self.enabled.toggled.connect(lambda _on: self.changed.emit())
        self.spin.valueChanged.connect(lambda _v: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.enabled)
        layout.addWidget(self.spin)
        layout.addStretch(1)

    def value(self) -> Any:
        if not self.enabled.isChecked():
            return None
        number = self.spin.value()
        return int(number) if self.spec.integer or number.is_integer() else number

    def set_value(self, value: Any) -> None:
        self.enabled.setChecked(value is not None)
        if value is not None:
            self.spin.setValue(float(value))


class ScaleInput(FieldInput):
    """Radio buttons from min to max with the end labels beside them."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        low, high = int(spec.minimum or 1), int(spec.maximum or 5)
        self.group = QButtonGroup(self)
        self.group.setExclusive(False)  # so the person can clear an answer
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if spec.low_label:
            layout.addWidget(QLabel(spec.low_label, self))
        for number in range(low, high + 1):
            button = QRadioButton(str(number), self)
            button.setAccessibleName(f"{spec.label} {number}")
            self.group.addButton(button, number)
            layout.addWidget(button)
        if spec.high_label:
            layout.addWidget(QLabel(spec.high_label, self))
        layout.addStretch(1)
        self.group.idClicked.connect(self._clicked)

    def _clicked(self, number: int) -> None:
        for button in self.group.buttons():
            if self.group.id(button) != number:
                button.setChecked(False)
        self.changed.emit()

    def value(self) -> Any:
        checked = self.group.checkedId()
        return checked if checked != -1 else None

    def set_value(self, value: Any) -> None:
        for button in self.group.buttons():
            button.setChecked(self.group.id(button) == value)


class ChoiceInput(FieldInput):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.combo = QComboBox(self)
        self.combo.setAccessibleName(spec.label)
        self.combo.addItem(self.tr("(not chosen)"), None)
        for option in spec.options:
            self.combo.addItem(option.label, option.value)
        self.combo.activated.connect(lambda _i: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addStretch(1)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        self.combo.setCurrentIndex(max(index, 0))


class MultiChoiceInput(FieldInput):
    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.boxes: list[tuple[str, QCheckBox]] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for option in spec.options:
            box = QCheckBox(option.label, self)
            box.toggled.connect(lambda _on: self.changed.emit())
            self.boxes.append((option.value, box))
            layout.addWidget(box)
        layout.addStretch(1)

    def value(self) -> Any:
        chosen = [value for value, box in self.boxes if box.isChecked()]
        return chosen or None

    def set_value(self, value: Any) -> None:
        chosen = set(value or [])
        for option_value, box in self.boxes:
            box.setChecked(option_value in chosen)


class ListTextInput(FieldInput):
    """Skills, or ids: comma-separated in one line."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(spec, parent)
        self.edit = QLineEdit(self)
        self.edit.setAccessibleName(spec.label)
        self.edit.setPlaceholderText(spec.placeholder or self.tr("Separate with commas"))
        self.edit.textEdited.connect(lambda _t: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit)

    def value(self) -> Any:
        items = [part.strip() for part in self.edit.text().split(",") if part.strip()]
        return items or None

    def set_value(self, value: Any) -> None:
        self.edit.setText(", ".join(value or []))


class _Row(QFrame):
    """One removable row of a checklist or group."""

    remove_requested = Signal(object)

    def __init__(self, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body = body
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setToolTip(self.tr("Remove"))
        self.remove_button.setAccessibleName(self.tr("Remove this row"))
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 4, 4)
        layout.addWidget(body, 1)
        layout.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)


class _RowsInput(FieldInput):
    """Rows that can be added and removed (checklists and repeating groups)."""

    add_label = "Add"

    def __init__(
        self, spec: FieldSpec, parent: QWidget | None = None, context: FormContext | None = None
    ) -> None:
        super().__init__(spec, parent, context)
        self.rows: list[_Row] = []
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(4)
        self.add_button = QPushButton(self.tr(self.add_label), self)
        self.add_button.setObjectName(f"add_{spec.id}")
        self.add_button.clicked.connect(self._add_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.rows_layout)
        layout.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)

    def make_body(self) -> QWidget:
        raise NotImplementedError

    def body_value(self, body: QWidget) -> Any:
        raise NotImplementedError

    def set_body_value(self, body: QWidget, value: Any) -> None:
        raise NotImplementedError

    def add_row(self, value: Any = None) -> _Row:
        row = _Row(self.make_body(), self)
        if value is not None:
            self.set_body_value(row.body, value)
        row.remove_requested.connect(self._remove)
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        return row

    def _add_clicked(self) -> None:
        row = self.add_row()
        row.body.setFocus()
        self.changed.emit()

    def _remove(self, row: _Row) -> None:
        self.rows.remove(row)
        row.deleteLater()
        self.changed.emit()

    def value(self) -> Any:
        values = [self.body_value(row.body) for row in self.rows]
        values = [v for v in values if v]
        return values or None

    def set_value(self, value: Any) -> None:
        for row in self.rows:
            row.deleteLater()
        self.rows = []
        for item in value or []:
            self.add_row(item)


class _ChecklistItem(QWidget):
    def __init__(self, owner: ChecklistInput, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.done = QCheckBox(self)
        self.done.setAccessibleName(self.tr("Done"))
        self.text = QLineEdit(self)
        self.text.setPlaceholderText(self.tr("What will you do?"))
        self.text.setAccessibleName(self.tr("Item"))
        due_spec = FieldSpec(id="due", type="date", label=self.tr("Due"))
        self.due = DateInput(due_spec, self)
        self.done.toggled.connect(lambda _on: owner.changed.emit())
        self.text.textEdited.connect(lambda _t: owner.changed.emit())
        self.due.changed.connect(owner.changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.done)
        layout.addWidget(self.text, 1)
        layout.addWidget(QLabel(self.tr("due"), self))
        layout.addWidget(self.due)
        self.setFocusProxy(self.text)


class ChecklistInput(_RowsInput):
    add_label = "Add an item"

    def make_body(self) -> QWidget:
        return _ChecklistItem(self)

    def body_value(self, body: QWidget) -> Any:
        assert isinstance(body, _ChecklistItem)
        text = body.text.text().strip()
        if not text:
            return None
        return {"text": text, "done": body.done.isChecked(), "due": body.due.value()}

    def set_body_value(self, body: QWidget, value: Any) -> None:
        assert isinstance(body, _ChecklistItem)
        body.text.setText(str(value.get("text", "")))
        body.done.setChecked(bool(value.get("done")))
        body.due.set_value(value.get("due"))


class _GroupRow(QWidget):
    def __init__(self, owner: GroupInput, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inputs: dict[str, FieldInput] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for sub in owner.spec.fields:
            widget = make_input(sub, self, owner.context)
            widget.changed.connect(owner.changed)
            self.inputs[sub.id] = widget
            form.addRow(sub.label + (" *" if sub.required else ""), widget)
        if self.inputs:
            self.setFocusProxy(next(iter(self.inputs.values())))


class GroupInput(_RowsInput):
    add_label = "Add a row"

    def make_body(self) -> QWidget:
        return _GroupRow(self)

    def body_value(self, body: QWidget) -> Any:
        assert isinstance(body, _GroupRow)
        row = {key: widget.value() for key, widget in body.inputs.items()}
        return {key: value for key, value in row.items() if value is not None} or None

    def set_body_value(self, body: QWidget, value: Any) -> None:
        assert isinstance(body, _GroupRow)
        for key, widget in body.inputs.items():
            widget.set_value(value.get(key))


def make_input(
    spec: FieldSpec, parent: QWidget | None = None, context: FormContext | None = None
) -> FieldInput:
    """The input widget for a field of any type."""
    kind = spec.type
    if kind == "link" and context is not None:
        return LinkInput(spec, parent, context)
    if kind == "attachment" and context is not None:
        return AttachmentInput(spec, parent, context)
    if kind == "group":
        return GroupInput(spec, parent, context)
    if kind == "markdown":
        return MarkdownInput(spec, parent)
    if kind in ("date", "datetime"):
        return DateInput(spec, parent, with_time=kind == "datetime")
    if kind == "number":
        return NumberInput(spec, parent)
    if kind == "scale":
        return ScaleInput(spec, parent)
    if kind == "choice":
        return ChoiceInput(spec, parent)
    if kind == "multichoice":
        return MultiChoiceInput(spec, parent)
    if kind == "checklist":
        return ChecklistInput(spec, parent)
    if kind in ("skills", "attachment", "link"):
        return ListTextInput(spec, parent)
    return TextInput(spec, parent)


class _ChipRow(QWidget):
    """One chosen item: its label and a remove button."""

    def __init__(self, text: str, on_remove: Callable[[], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.label = QLabel(text, self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setToolTip(self.tr("Remove"))
        self.remove_button.setAccessibleName(self.tr("Remove {item}").format(item=text))
        self.remove_button.clicked.connect(on_remove)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.remove_button)


class LinkInput(FieldInput):
    """Other assets, shown by title; “Choose…” opens a filterable list."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None, context: FormContext) -> None:
        super().__init__(spec, parent, context)
        self.context: FormContext = context
        self.ids: list[str] = []
        self.rows = QVBoxLayout()
        self.rows.setSpacing(2)
        self.empty = QLabel(self.tr("Nothing linked yet."), self)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self.choose_button = QPushButton(self.tr("Choose…"), self)
        self.choose_button.setObjectName(f"choose_{spec.id}")
        self.choose_button.setAccessibleName(self.tr("Choose items for {label}").format(
            label=spec.label))  # fmt: skip

        self.choose_button.clicked.connect(self._choose)
        context.changed.connect(self._redraw)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.rows)
        layout.addWidget(self.empty)
        layout.addWidget(self.choose_button, 0, Qt.AlignmentFlag.AlignLeft)
        self._redraw()

    def _redraw(self) -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for asset_id in self.ids:
            self.rows.addWidget(
                _ChipRow(self.context.label_for(asset_id), partial(self._remove, asset_id), self)
            )
        self.empty.setVisible(not self.ids)

    def _remove(self, asset_id: str) -> None:
        self.ids = [i for i in self.ids if i != asset_id]
        self._redraw()
        self.changed.emit()

    def _choose(self) -> None:
        chosen = self.context.choose(self.ids, self)
        if chosen is not None and chosen != self.ids:
            self.ids = chosen
            self._redraw()
            self.changed.emit()

    def value(self) -> Any:
        return list(self.ids) or None

    def set_value(self, value: Any) -> None:
        self.ids = [str(v) for v in value or []]
        self._redraw()


class AttachmentInput(FieldInput):
    """Which of this asset's files answer the field; “Attach files…” adds more."""

    def __init__(self, spec: FieldSpec, parent: QWidget | None, context: FormContext) -> None:
        super().__init__(spec, parent, context)
        self.context: FormContext = context
        self.ids: list[str] = []
        self.boxes: list[tuple[str, QCheckBox]] = []
        self.rows = QVBoxLayout()
        self.rows.setSpacing(2)
        self.empty = QLabel(self.tr("No files attached yet."), self)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self.attach_button = QPushButton(self.tr("Attach files…"), self)
        self.attach_button.setObjectName(f"attach_{spec.id}")

        self.attach_button.clicked.connect(lambda: self.context.attach_requested.emit(self))
        context.changed.connect(self._redraw)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.rows)
        layout.addWidget(self.empty)
        layout.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignLeft)
        self._redraw()

    def _redraw(self) -> None:
        for _id, box in self.boxes:
            box.deleteLater()
        self.boxes = []
        chosen = set(self.ids)
        for info in self.context.attachments:
            box = QCheckBox(info.name, self)
            box.setChecked(info.id in chosen)
            box.toggled.connect(partial(self._toggled, info.id))
            self.rows.addWidget(box)
            self.boxes.append((info.id, box))
        self.empty.setVisible(not self.boxes)

    def _toggled(self, attachment_id: str, on: bool) -> None:
        self.ids = [i for i in self.ids if i != attachment_id] + ([attachment_id] if on else [])
        self.changed.emit()

    def add_chosen(self, attachment_ids: list[str]) -> None:
        """Files attached through this field belong to it."""
        self.ids += [i for i in attachment_ids if i not in self.ids]
        self._redraw()
        self.changed.emit()

    def value(self) -> Any:
        existing = {info.id for info in self.context.attachments}
        return [i for i in self.ids if i in existing] or None

    def set_value(self, value: Any) -> None:
        self.ids = [str(v) for v in value or []]
        self._redraw()
