"""Export and Import: choose a format and a place, then watch it happen (and cancel).

The dialogs only gather choices and show progress; the window runs the job on
the store thread (see MainWindow.export_space / import_into_space).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.first_run import _body
from ui.theme import error_style

EXPORT_FORMATS = {
    "portable": "Portable archive (.cairn, encrypted; opens in Cairn anywhere)",
    "html": "Web portfolio (a folder of pages, works offline)",
    "pdf": "PDF document",
    "markdown": "Markdown notes (for Obsidian or any editor)",
    "leap2a": "LEAP2A package (for Mahara, PebblePad)",
}
IMPORT_FORMATS = {
    "": "Find out from the file",
    "portable": "Portable archive (.cairn)",
    "leap2a": "LEAP2A package or XML (Mahara, PebblePad)",
    "markdown": "Markdown notes (a folder; type a path for a zip or one file)",
}
SUFFIXES = {"portable": ".cairn-archive", "pdf": ".pdf", "leap2a": ".zip"}


class TransferProgress(QObject):
    """Progress from the job's thread to the dialog (queued), and the cancel flag."""

    changed = Signal(int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel = threading.Event()

    def report(self, done: int, total: int) -> None:
        self.changed.emit(done, total)  # from the store thread: delivered queued


class _TransferDialog(QDialog):
    """What both dialogs share: a form, a progress bar, Start and Cancel."""

    def __init__(self, title: str, start_label: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName("transfer_progress")
        self.progress_bar.hide()
        self.status = QLabel(self)
        self.status.setObjectName("transfer_status")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        role = QDialogButtonBox.ButtonRole.AcceptRole
        self.start_button = self.buttons.addButton(start_label, role)
        self.start_button.setObjectName("start_transfer")
        self.progress = TransferProgress(self)
        self.running = False

        self.buttons.rejected.connect(self._cancel)
        self.start_button.clicked.connect(self._start)
        self.progress.changed.connect(self._progressed)

        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.resize(620, 360)

    def _add_path_row(self, label: str, edit: QLineEdit, choose: QPushButton) -> None:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(choose)
        caption = QLabel(label, self)
        caption.setBuddy(edit)  # so that the mnemonic works (and is not shown as "&")
        self.form.addRow(caption, row)

    def _start(self) -> None:
        raise NotImplementedError

    def _cancel(self) -> None:
        if self.running:
            self.progress.cancel.set()
            self.status.setStyleSheet("")
            self.status.setText(self.tr("Stopping… nothing half-done is kept."))
        else:
            self.reject()

    def _progressed(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, total if total > 0 else 0)
        if total > 0:
            self.progress_bar.setValue(min(done, total))

    def begin(self, text: str) -> None:
        self.running = True
        self.progress.cancel.clear()
        self.start_button.setEnabled(False)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.status.setStyleSheet("")
        self.status.setText(text)

    def job_done(self, error: str | None, summary: str = "") -> None:
        """The window reports the outcome."""
        self.running = False
        self.progress_bar.hide()
        self.start_button.setEnabled(True)
        if error:
            self.status.setStyleSheet(error_style())
            self.status.setText(error)
            return
        self.status.setText(summary)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Close"))
        self.start_button.hide()


class ExportDialog(_TransferDialog):
    """Choose what to export, in which format, where; a portable archive gets a passphrase."""

    #: format, destination, scope ("" = all, "tag:T", "id:ID"), archive passphrase, title
    export_requested = Signal(str, str, str, str, str)

    def __init__(self, tags: list[str], chosen: tuple[str, str] | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(self.tr("Export"), self.tr("&Export"), parent)
        self.setObjectName("ExportDialog")
        self.format = QComboBox(self)
        self.format.setObjectName("export_format")
        for value, label in EXPORT_FORMATS.items():
            self.format.addItem(self.tr(label), value)
        self.scope = QComboBox(self)
        self.scope.setObjectName("export_scope")
        self.scope.addItem(self.tr("Everything in the space"), "")
        if chosen is not None:
            asset_id, title = chosen
            self.scope.addItem(self.tr("Only “{title}”").format(title=title), f"id:{asset_id}")
        for tag in tags:
            self.scope.addItem(self.tr("Items tagged “{tag}”").format(tag=tag), f"tag:{tag}")
        self.heading = QLineEdit(self)
        self.heading.setObjectName("export_title")
        self.heading.setPlaceholderText(self.tr("Learning portfolio"))
        self.heading.setAccessibleName(self.tr("Heading"))
        self.destination = QLineEdit(self)
        self.destination.setObjectName("export_destination")
        self.destination.setAccessibleName(self.tr("Save as"))
        self.choose = QPushButton(self.tr("C&hoose…"), self)
        self.passphrase = QLineEdit(self)
        self.passphrase.setObjectName("archive_passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(self.tr("Archive passphrase"))
        self.confirm = QLineEdit(self)
        self.confirm.setObjectName("archive_confirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setAccessibleName(self.tr("Repeat the archive passphrase"))
        self.archive_hint = _body(self.tr(
            "The archive holds your whole space, with its history and files, encrypted with "
            "this passphrase (it may differ from your space's). Keep it safe: without it the "
            "archive cannot be opened. It never includes an employer's sign-in."),
            self)  # fmt: skip

        self.format.currentIndexChanged.connect(lambda _i: self._format_changed())
        self.choose.clicked.connect(self._choose)

        self.form.addRow(self.tr("&Format"), self.format)
        self.form.addRow(self.tr("&What"), self.scope)
        self.form.addRow(self.tr("&Heading"), self.heading)
        self._add_path_row(self.tr("&Save as"), self.destination, self.choose)
        self.form.addRow(self.tr("&Passphrase"), self.passphrase)
        self.form.addRow(self.tr("&Repeat it"), self.confirm)
        self.form.addRow("", self.archive_hint)
        self._format_changed()

    def chosen_format(self) -> str:
        return str(self.format.currentData())

    def _format_changed(self) -> None:
        portable = self.chosen_format() == "portable"
        titled = self.chosen_format() in ("html", "pdf")
        for widget, shown in ((self.passphrase, portable), (self.confirm, portable),
                              (self.archive_hint, portable), (self.heading, titled)):  # fmt: skip
            widget.setVisible(shown)
            label = self.form.labelForField(widget)
            if label is not None:
                label.setVisible(shown)
        self.scope.setEnabled(not portable)  # the archive is the whole space
        if portable:
            self.scope.setCurrentIndex(0)

    def _choose(self) -> None:
        chosen = self._ask_destination(self.chosen_format())
        if chosen:
            self.destination.setText(chosen)

    def _ask_destination(self, fmt: str) -> str:
        if fmt in ("html", "markdown"):
            return QFileDialog.getExistingDirectory(self, self.tr("An empty folder to export into"))
        suffix = SUFFIXES.get(fmt, "")
        chosen, _ = QFileDialog.getSaveFileName(self, self.tr("Save the export as"),
                                                f"cairn-export{suffix}")  # fmt: skip
        return chosen

    def _start(self) -> None:
        destination = self.destination.text().strip()
        fmt = self.chosen_format()
        if not destination:
            self.status.setStyleSheet(error_style())
            self.status.setText(self.tr("Choose where to save the export."))
            return
        passphrase = ""
        if fmt == "portable":
            passphrase = self.passphrase.text()
            if not passphrase or passphrase != self.confirm.text():
                self.status.setStyleSheet(error_style())
                self.status.setText(self.tr("Type the archive passphrase twice, the same both "
                                            "times."))  # fmt: skip
                return
        self.begin(self.tr("Exporting…"))
        self.export_requested.emit(fmt, destination, str(self.scope.currentData()), passphrase,
                                   self.heading.text().strip())  # fmt: skip


class ImportDialog(_TransferDialog):
    """Bring in a portable archive (merged into this space), LEAP2A or Markdown notes."""

    import_requested = Signal(str, str, str)  # format ("" = detect), source, archive passphrase

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Import"), self.tr("&Import"), parent)
        self.setObjectName("ImportDialog")
        self.format = QComboBox(self)
        self.format.setObjectName("import_format")
        for value, label in IMPORT_FORMATS.items():
            self.format.addItem(self.tr(label), value)
        self.source = QLineEdit(self)
        self.source.setObjectName("import_source")
        self.source.setAccessibleName(self.tr("File or folder to import"))
        self.choose = QPushButton(self.tr("C&hoose…"), self)
        self.passphrase = QLineEdit(self)
        self.passphrase.setObjectName("import_passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText(self.tr("Only for a portable archive"))
        self.passphrase.setAccessibleName(self.tr("Archive passphrase"))

        self.choose.clicked.connect(self._choose)

        self.form.addRow(self.tr("&Format"), self.format)
        self._add_path_row(self.tr("&From"), self.source, self.choose)
        self.form.addRow(self.tr("Archive &passphrase"), self.passphrase)
        self.form.addRow("", _body(self.tr(
            "Everything is brought in at once or not at all. An archive's items are merged "
            "with yours: the newer version of an item wins and the other stays in its "
            "history. What cannot be brought in is listed when it is done."), self))  # fmt: skip

    def _choose(self) -> None:
        chosen = self._ask_source()
        if chosen:
            self.source.setText(chosen)

    def _ask_source(self) -> str:
        if self.format.currentData() == "markdown":  # notes usually come as a folder
            return QFileDialog.getExistingDirectory(self, self.tr("A folder of Markdown notes"))
        chosen, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import from"), "",
            self.tr("Archives and packages (*.cairn-archive *.cairn *.zip *.xml *.md);;"
                    "All files (*)"))  # fmt: skip
        return chosen

    def _start(self) -> None:
        source = self.source.text().strip()
        if not source or not Path(source).exists():
            self.status.setStyleSheet(error_style())
            self.status.setText(self.tr("Choose a file or folder that exists."))
            return
        self.begin(self.tr("Importing…"))
        self.import_requested.emit(str(self.format.currentData()), source, self.passphrase.text())
