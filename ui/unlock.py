"""Unlocking a space, and getting back in with the recovery key."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ui.first_run import Page, PassphraseFields, _body, _heading, busy_bar
from ui.theme import error_style


class UnlockPage(Page):
    """Pick a recent space, type the passphrase, unlock; errors said plainly."""

    unlock_requested = Signal(str, str)  # path, passphrase
    recover_requested = Signal(str)  # path
    create_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("UnlockPage")
        self.title = _heading(self.tr("Unlock your space"), self.column)
        self.spaces = QComboBox(self.column)
        self.spaces.setObjectName("spaces")
        self.spaces.setAccessibleName(self.tr("Space"))
        self.browse_button = QPushButton(self.tr("Open another…"), self.column)
        self.passphrase = QLineEdit(self.column)
        self.passphrase.setObjectName("passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(self.tr("Passphrase"))
        self.progress = busy_bar(self.column)
        self.progress.setObjectName("progress")
        self.status = QLabel(self.column)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.error = QLabel(self.column)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(error_style())
        self.forgot_button = QPushButton(self.tr("Forgot your passphrase?"), self.column)
        self.forgot_button.setObjectName("forgot_button")
        self.forgot_button.setFlat(True)
        self.new_button = QPushButton(self.tr("Create a new space…"), self.column)
        self.new_button.setFlat(True)
        self.unlock_button = QPushButton(self.tr("Unlock"), self.column)
        self.unlock_button.setObjectName("unlock_button")
        self.unlock_button.setDefault(True)

        self.passphrase.returnPressed.connect(self._unlock)
        self.passphrase.textChanged.connect(lambda _text: self.error.clear())
        self.unlock_button.clicked.connect(self._unlock)
        self.browse_button.clicked.connect(self._browse)
        self.forgot_button.clicked.connect(self._forgot)
        self.new_button.clicked.connect(self.create_requested)

        chooser = QHBoxLayout()
        chooser.addWidget(self.spaces, 1)
        chooser.addWidget(self.browse_button)
        space_label = QLabel(self.tr("&Space"), self.column)
        space_label.setBuddy(self.spaces)
        form = QFormLayout()
        form.addRow(space_label, chooser)
        form.addRow(self.tr("&Passphrase"), self.passphrase)
        buttons = QHBoxLayout()
        buttons.addWidget(self.forgot_button)
        buttons.addWidget(self.new_button)
        buttons.addStretch(1)
        buttons.addWidget(self.unlock_button)
        for first, second in ((self.spaces, self.passphrase), (self.passphrase, self.unlock_button),
                              (self.unlock_button, self.forgot_button),
                              (self.forgot_button, self.new_button),
                              (self.new_button, self.browse_button)):  # fmt: skip
            QWidget.setTabOrder(first, second)
        self.column_layout.addStretch(2)
        self.column_layout.addWidget(self.title)
        self.column_layout.addLayout(form)
        self.column_layout.addWidget(self.progress)
        self.column_layout.addWidget(self.status)
        self.column_layout.addWidget(self.error)
        self.column_layout.addLayout(buttons)
        self.column_layout.addStretch(3)

    def set_spaces(self, paths: list[Path], current: Path | None = None) -> None:
        self.spaces.clear()
        for path in paths:
            self.spaces.addItem(path.name, str(path))
            self.spaces.setItemData(self.spaces.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        if current is not None:
            index = self.spaces.findData(str(current))
            if index >= 0:
                self.spaces.setCurrentIndex(index)

    def current_path(self) -> str:
        return str(self.spaces.currentData() or "")

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.status.setText(self.tr("Unlocking… deriving your key takes a moment.") if busy else "")
        for widget in (self.passphrase, self.unlock_button, self.spaces, self.browse_button,
                       self.forgot_button, self.new_button):  # fmt: skip
            widget.setEnabled(not busy)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.passphrase.selectAll()
        self.passphrase.setFocus()

    def reset(self) -> None:
        self.passphrase.clear()
        self.error.clear()
        self.set_busy(False)
        self.passphrase.setFocus()

    def _unlock(self) -> None:
        if self.current_path() and self.passphrase.text() and not self.progress.isVisible():
            self.error.clear()
            self.unlock_requested.emit(self.current_path(), self.passphrase.text())

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open a space"), "", self.tr("Cairn spaces (*.cairn);;All files (*)")
        )
        if chosen:
            self.spaces.insertItem(0, Path(chosen).name, chosen)
            self.spaces.setCurrentIndex(0)

    def _forgot(self) -> None:
        if self.current_path():
            self.recover_requested.emit(self.current_path())


class RecoverPage(Page):
    """The recovery key and a new passphrase."""

    recover_requested = Signal(str, str, str)  # path, recovery key, new passphrase
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RecoverPage")
        self.path = ""
        self.title = _heading(self.tr("Set a new passphrase"), self.column)
        self.intro = _body(
            self.tr(
                "Type the recovery key you saved when you created this space, then choose a "
                "new passphrase. Everything in the space stays as it is."
            ),
            self.column,
        )
        self.key = QLineEdit(self.column)
        self.key.setObjectName("recovery_key")
        self.key.setAccessibleName(self.tr("Recovery key"))
        self.key.setPlaceholderText("ABCD-EFGH-…")
        self.fields = PassphraseFields(self.column)
        self.progress = busy_bar(self.column)
        self.error = QLabel(self.column)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(error_style())
        self.back_button = QPushButton(self.tr("Back"), self.column)
        self.recover_button = QPushButton(self.tr("Set passphrase and unlock"), self.column)
        self.recover_button.setObjectName("recover_button")
        self.recover_button.setDefault(True)

        self.key.textChanged.connect(self._update)
        self.fields.changed.connect(self._update)
        self.back_button.clicked.connect(self.back_requested)
        self.recover_button.clicked.connect(self._recover)

        form = QFormLayout()
        form.addRow(self.tr("Recovery &key"), self.key)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.recover_button)
        self.column_layout.addStretch(1)
        self.column_layout.addWidget(self.title)
        self.column_layout.addWidget(self.intro)
        self.column_layout.addLayout(form)
        self.column_layout.addWidget(self.fields)
        self.column_layout.addWidget(self.progress)
        self.column_layout.addWidget(self.error)
        self.column_layout.addLayout(buttons)
        self.column_layout.addStretch(2)
        self._update()

    def start(self, path: str) -> None:
        self.path = path
        self.key.clear()
        self.fields.clear()
        self.error.clear()
        self.set_busy(False)
        self.key.setFocus()

    def set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.key.setEnabled(not busy)
        self.fields.setEnabled(not busy)
        self._update()

    def _update(self) -> None:
        ready = bool(self.key.text().strip()) and self.fields.ready
        self.recover_button.setEnabled(ready and not self.progress.isVisible())

    def _recover(self) -> None:
        if self.recover_button.isEnabled():
            self.recover_requested.emit(self.path, self.key.text(), self.fields.passphrase.text())
