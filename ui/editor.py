"""The asset editor: a form generated from the template, with inline validation,
debounced autosave, explicit save and undo; beside it the asset's files and
links, and its feedback from organisations. The window decides what saving,
attaching, opening and sharing mean."""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.forms.answers import computed_values, defaults, validate
from app.forms.model import Template
from app.syncing.pulling import organisation_names
from store.records import AssetRecord, AttachmentInfo
from ui.asset_picker import AssetEntry
from ui.attachments import AttachmentsPanel, local_files
from ui.connections import ConnectionsPanel, section_heading
from ui.feedback_panel import FeedbackPanel
from ui.fields import AttachmentInput, FieldInput, FormContext, make_input
from ui.icons import icon
from ui.theme import error_style

AUTOSAVE_MS = 1500
#: Edits closer together than this are undone together (typing a sentence is one step).
UNDO_MERGE_MS = 800
HINT_STYLE = "color: palette(placeholder-text);"


class EditorState(NamedTuple):
    """Everything undo can take back: what the person typed and chose."""

    title: str
    tags: str
    values: dict[str, Any]
    links: tuple[str, ...]


class AssetEditor(QWidget):
    """Edits one asset (or a new one). Emits `save_requested(title, values)` only
    when the answers are valid; shows every problem beside its field otherwise."""

    save_requested = Signal(str, dict, list, list)  # title, answers, tags, hand-made links
    close_requested = Signal()
    history_requested = Signal()
    open_requested = Signal(str)  # another asset, from a link
    attach_requested = Signal(list, object)  # file paths, the AttachmentInput that asked or None
    undo_changed = Signal()  # can_undo / can_redo may have changed
    share_requested = Signal()  # with an organisation
    share_publicly_requested = Signal()  # as a public web page

    def __init__(self, template: Template, record: AssetRecord | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("AssetEditor")
        self.template = template
        self.record = record
        self.inputs: dict[str, FieldInput] = {}
        self.problem_labels: dict[str, QLabel] = {}
        self._dirty = False
        self._undo: list[EditorState] = []
        self._redo: list[EditorState] = []
        self._applying = False
        self._after_save: list[Any] = []
        self.context = FormContext(self)
        self.setAcceptDrops(True)  # files dropped anywhere on the editor are attached

        self.back_button = QPushButton(icon("back"), self.tr("Library"), self)
        self.back_button.setObjectName("back_button")
        self.status = QLabel(self)
        self.status.setObjectName("save_status")
        self.save_button = QPushButton(icon("save"), self.tr("Save"), self)
        self.save_button.setObjectName("save_button")
        self.history_button = QPushButton(icon("history"), self.tr("History…"), self)
        self.history_button.setObjectName("history_button")
        self.history_button.setEnabled(record is not None)
        self.share_button = QPushButton(icon("share"), self.tr("Share"), self)
        self.share_button.setObjectName("share_button")
        self.share_menu = QMenu(self.share_button)
        self.share_org_action = self.share_menu.addAction(
            icon("workspace"), self.tr("With an &Organisation…"))
        self.share_public_action = self.share_menu.addAction(icon("link"),
                                                             self.tr("&Publicly…"))
        self.share_button.setMenu(self.share_menu)
        self.share_button.setEnabled(record is not None)
        self.undo_button = QPushButton(icon("undo"), self.tr("Undo"), self)
        self.undo_button.setObjectName("undo_button")
        self.undo_button.setToolTip(QKeySequence(QKeySequence.StandardKey.Undo).toString(
            QKeySequence.SequenceFormat.NativeText))  # fmt: skip
        self.redo_button = QPushButton(icon("redo"), self.tr("Redo"), self)
        self.redo_button.setObjectName("redo_button")
        self.redo_button.setToolTip(QKeySequence(QKeySequence.StandardKey.Redo).toString(
            QKeySequence.SequenceFormat.NativeText))  # fmt: skip
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
        self.title_problem.setStyleSheet(error_style())
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
        self.side_tabs = QTabWidget(self)
        self.side_tabs.setObjectName("editor_side_tabs")
        self.side_tabs.setDocumentMode(True)
        side = QWidget(self.side_tabs)
        side.setObjectName("editor_side")
        self.attachments = AttachmentsPanel(side)
        self.connections = ConnectionsPanel(self.context, side)
        self.feedback = FeedbackPanel(self.side_tabs)
        self.feedback.set_view(None, saved=record is not None)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 6, 0, 0)
        side_layout.addWidget(section_heading(self.tr("Files"), side))
        side_layout.addWidget(self.attachments)
        side_layout.addSpacing(12)
        side_layout.addWidget(self.connections)
        side_layout.addStretch(1)
        self.side_tabs.addTab(side, self.tr("Files && Links"))
        self.side_tabs.addTab(self.feedback, icon("workspace"), self.tr("Feedback"))
        self.side_tabs.setMinimumWidth(280)
        self.side_tabs.setMaximumWidth(360)
        self.side = side
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._undo_merge = QTimer(self)
        self._undo_merge.setSingleShot(True)
        self._undo_merge.setInterval(UNDO_MERGE_MS)

        self.back_button.clicked.connect(self.close_requested)
        self.save_button.clicked.connect(self.save_now)
        self.history_button.clicked.connect(self.history_requested)
        self.share_org_action.triggered.connect(self.share_requested)
        self.share_public_action.triggered.connect(self.share_publicly_requested)
        self.feedback.share_requested.connect(self.share_requested)
        self.feedback.share_publicly_requested.connect(self.share_publicly_requested)
        self.feedback.count_changed.connect(self._feedback_counted)
        self.title.textEdited.connect(lambda _t: self._edited())
        self.tags.textEdited.connect(lambda _t: self._edited())
        self._autosave.timeout.connect(self.save_now)
        self._undo_merge.timeout.connect(self._record_step)
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        for widget in self.inputs.values():
            widget.changed.connect(self._edited)
        self.connections.links_changed.connect(self._edited)
        self.connections.open_requested.connect(self.open_requested)
        self.attachments.add_requested.connect(lambda paths: self.attach_requested.emit(paths,
                                                                                        None))
        self.context.attach_requested.connect(self._field_wants_files)
        application = QApplication.instance()
        if application is not None:
            application.installEventFilter(self)  # see eventFilter: Ctrl+Z is the editor's

        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addStretch(1)
        top.addWidget(self.status)
        top.addWidget(self.undo_button)
        top.addWidget(self.redo_button)
        top.addWidget(self.history_button)
        top.addWidget(self.share_button)
        top.addWidget(self.save_button)
        main = QVBoxLayout()
        main.setContentsMargins(0, 0, 0, 0)
        main.addWidget(self.title)
        main.addWidget(self.title_problem)
        main.addWidget(self.tags)
        main.addWidget(self.about)
        main.addWidget(self.summary)
        main.addWidget(self.scroll_area, 1)
        body = QHBoxLayout()
        body.addLayout(main, 1)
        body.addSpacing(12)
        body.addWidget(self.side_tabs)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)

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
                widget = make_input(spec, form, self.context)
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
                problem.setStyleSheet(error_style())
                problem.hide()
                column.addWidget(problem)
                self.inputs[spec.id] = widget
                self.problem_labels[spec.id] = problem
        column.addStretch(1)
        return form

    # ------------------------------------------------------------------ state

    def _load(self, record: AssetRecord | None) -> None:
        values = record.fields if record else defaults(self.template)
        links = [link["target"] for link in record.links if "field" not in link] if record else []
        self._apply(EditorState(
            record.title if record else "",
            ", ".join(record.tags) if record else "",
            values,
            tuple(links),
        ))  # fmt: skip
        self.context.own_id = record.id if record else None
        self._undo, self._redo = [], []
        self._baseline = self._state()
        self._dirty = False
        self.status.setText(self.tr("Saved") if record else self.tr("New: not saved yet"))
        self._undo_state_changed()

    def _state(self) -> EditorState:
        return EditorState(self.title.text(), self.tags.text(), copy.deepcopy(self.values()),
                           tuple(self.connections.targets))  # fmt: skip

    def _apply(self, state: EditorState) -> None:
        self._applying = True
        try:
            self.title.setText(state.title)
            self.tags.setText(state.tags)
            for field_id, widget in self.inputs.items():
                widget.set_value(copy.deepcopy(state.values.get(field_id)))
            self.connections.set_targets(list(state.links))
        finally:
            self._applying = False
        self._update_summary()

    # ------------------------------------------------------------------- undo

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) or self._state() != self._baseline

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def _record_step(self) -> None:
        """Make what is on screen one undoable step (if it changed)."""
        self._undo_merge.stop()
        current = self._state()
        if current != self._baseline:
            self._undo.append(self._baseline)
            self._baseline = current
            self._redo.clear()
        self._undo_state_changed()

    def undo(self) -> None:
        self._record_step()
        if not self._undo:
            return
        self._redo.append(self._baseline)
        self._baseline = self._undo.pop()
        self._apply(self._baseline)
        self._changed_by_undo()

    def redo(self) -> None:
        self._record_step()
        if not self._redo:
            return
        self._undo.append(self._baseline)
        self._baseline = self._redo.pop()
        self._apply(self._baseline)
        self._changed_by_undo()

    def _changed_by_undo(self) -> None:
        self._dirty = True
        self.status.setText(self.tr("Unsaved changes"))
        self._autosave.start()
        self._undo_state_changed()

    def _undo_state_changed(self) -> None:
        self.undo_button.setEnabled(self.can_undo)
        self.redo_button.setEnabled(self.can_redo)
        self.undo_changed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Text boxes take Ctrl+Z for their own undo; in the editor, undo is the
        # editor's (it also covers ticks, rows and links), so let the shortcut through.
        return (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and isinstance(watched, QWidget)
            and (event.matches(QKeySequence.StandardKey.Undo)
                 or event.matches(QKeySequence.StandardKey.Redo))
            and self.isAncestorOf(watched)
        )  # fmt: skip

    def values(self) -> dict[str, Any]:
        answers = {key: widget.value() for key, widget in self.inputs.items()}
        return {key: value for key, value in answers.items() if value is not None}

    @property
    def dirty(self) -> bool:
        return self._dirty

    def _edited(self) -> None:
        if self._applying:
            return
        self._dirty = True
        self.status.setText(self.tr("Unsaved changes"))
        self._update_summary()
        self._autosave.start()
        self._undo_merge.start()
        self.undo_button.setEnabled(True)
        self.undo_changed.emit()

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
        self.save_requested.emit(self.title.text().strip(), self.values(), tags,
                                 list(self.connections.targets))  # fmt: skip

    def saved(self, record: AssetRecord) -> None:
        """The window reports a successful save."""
        self.record = record
        self.context.own_id = record.id
        self._dirty = False
        self.history_button.setEnabled(True)
        self.share_button.setEnabled(True)
        if self.feedback.view is None:
            self.feedback.set_view(None, saved=True)
        self.status.setText(self.tr("Saved"))
        self.attachments.set_enabled_actions(True)
        waiting, self._after_save = self._after_save, []
        for then in waiting:
            then()

    def when_saved(self, then: Any) -> bool:
        """Run `then` once the asset exists in the space (saving it now if new).

        False when it cannot be saved yet (the problems are shown)."""
        if self.record is not None:
            then()
            return True
        self.save_now()
        if self.show_problems():
            return False
        self._after_save.append(then)
        return True

    def reload(self, record: AssetRecord) -> None:
        """Show another version of the asset (after a restore)."""
        self.record = record
        self._load(record)

    def save_failed(self, message: str) -> None:
        self._after_save.clear()
        self.status.setText(message)

    # ------------------------------------------------------- files and links

    def set_directory(self, entries: dict[str, AssetEntry]) -> None:
        """Every asset in the space, for showing and choosing links."""
        self.context.set_assets(entries, self.record.id if self.record else None)

    def preset_links(self, targets: list[str]) -> None:
        """Start a new asset already linked to these (part of what it starts as, not an edit)."""
        self.connections.set_targets(targets)
        self._baseline = self._state()

    def set_linked_from(self, entries: list[AssetEntry]) -> None:
        self.connections.set_linked_from(entries)

    def set_attachments(self, infos: list[AttachmentInfo]) -> None:
        self.context.set_attachments(infos)
        self.attachments.set_attachments(infos)

    def attachments_added(self, infos: list[AttachmentInfo], asked_by: object) -> None:
        """New files are in the space; a field that asked for them gets them."""
        if isinstance(asked_by, AttachmentInput) and asked_by in self.findChildren(
            AttachmentInput
        ):
            asked_by.add_chosen([info.id for info in infos])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_files(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_files(event.mimeData())
        if paths:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.attach_requested.emit(paths, None)

    def _field_wants_files(self, field_input: object) -> None:
        paths = self.attachments.ask_files()
        if paths:
            self.attach_requested.emit(paths, field_input)

    def show_feedback_tab(self) -> None:
        self.side_tabs.setCurrentWidget(self.feedback)

    def _feedback_counted(self, count: int) -> None:
        index = self.side_tabs.indexOf(self.feedback)
        self.side_tabs.setTabText(index, self.tr("Feedback ({n})").format(n=count) if count
                                  else self.tr("Feedback"))  # fmt: skip

    def clear_sensitive(self) -> None:
        """Forget undo steps, files and feedback (on lock: the editor is about to go)."""
        self._undo.clear()
        self._redo.clear()
        self.attachments.clear()
        self.connections.clear()
        self.feedback.set_view(None)
        application = QApplication.instance()
        if application is not None:
            application.removeEventFilter(self)


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
        # Organisations' templates say whose they are (a few small files, read once).
        organisations = (organisation_names()
                         if any(t.source.startswith("org/") for t in templates) else {})
        for template in templates:
            name = template.name
            if template.source.startswith("org/"):
                folder = template.source.split("/", 1)[1]
                name = self.tr("{name} · from {org}").format(
                    name=name, org=organisations.get(folder, folder))  # fmt: skip
            item = QListWidgetItem(f"{name}\n{' '.join(template.description.split())}")
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
