"""First run: the welcome, creating a space, and the recovery key shown once."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
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

from app.files import atomic_writer
from app.passphrase import strength
from store.recovery import normalise_recovery_key
from ui.theme import error_style

#: Error text: a red that keeps 4.5:1 contrast on the light window background.


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    label.setWordWrap(True)
    return label


def busy_bar(parent: QWidget) -> QProgressBar:
    """A thin indeterminate bar shown while slow work (key derivation) runs."""
    bar = QProgressBar(parent)
    bar.setRange(0, 0)
    bar.setMaximumHeight(6)
    bar.setTextVisible(False)
    bar.hide()
    return bar


def _body(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class Page(QWidget):
    """A centred column of fixed readable width, the shape of every first-run page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.column = QWidget(self)
        self.column.setMaximumWidth(560)
        self.column_layout = QVBoxLayout(self.column)
        self.column_layout.setSpacing(14)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(self.column, 3)
        outer.addStretch(1)


class WelcomePage(Page):
    """Says in two sentences what Cairn is, then offers to create or open a space."""

    create_requested = Signal()
    open_requested = Signal()
    restore_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("WelcomePage")
        self.title = _heading(self.tr("Welcome to Cairn"), self.column)
        self.intro = _body(
            self.tr(
                "Cairn is your own learning space: plans, reflections and the evidence of "
                "what you learn at work, kept in one encrypted file on this computer. "
                "It is private unless you choose to share, and it goes with you when you "
                "change jobs."
            ),
            self.column,
        )
        self.create_button = QPushButton(self.tr("Create my space"), self.column)
        self.create_button.setObjectName("create_button")
        self.create_button.setDefault(True)
        self.open_button = QPushButton(self.tr("Open an existing space…"), self.column)
        self.open_button.setObjectName("open_button")
        self.restore_button = QPushButton(self.tr("Restore from an archive…"), self.column)
        self.restore_button.setObjectName("restore_button")
        self.restore_button.setToolTip(self.tr(
            "A portable archive (.cairn) exported from Cairn, for example on your last "
            "work computer"))  # fmt: skip

        self.create_button.clicked.connect(self.create_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.restore_button.clicked.connect(self.restore_requested)

        buttons = QHBoxLayout()
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        self.column_layout.addStretch(2)
        self.column_layout.addWidget(self.title)
        self.column_layout.addWidget(self.intro)
        self.column_layout.addSpacing(8)
        self.column_layout.addLayout(buttons)
        self.column_layout.addStretch(3)


class PassphraseFields(QWidget):
    """A passphrase typed twice, with a strength hint; `ready` when usable."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.passphrase = QLineEdit(self)
        self.passphrase.setObjectName("passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(self.tr("Passphrase"))
        self.confirm = QLineEdit(self)
        self.confirm.setObjectName("confirm")
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm.setAccessibleName(self.tr("Repeat the passphrase"))
        self.meter = QProgressBar(self)
        self.meter.setObjectName("strength_meter")
        self.meter.setRange(0, 4)
        self.meter.setTextVisible(False)
        self.meter.setMaximumHeight(6)
        self.hint = QLabel(self)
        self.hint.setObjectName("strength_hint")
        self.hint.setWordWrap(True)
        self.mismatch = QLabel(self)
        self.mismatch.setObjectName("mismatch")
        self.mismatch.setStyleSheet(error_style())

        self.passphrase.textChanged.connect(self._update)
        self.confirm.textChanged.connect(self._update)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("&Passphrase"), self.passphrase)
        form.addRow("", self.meter)
        form.addRow("", self.hint)
        form.addRow(self.tr("&Repeat it"), self.confirm)
        form.addRow("", self.mismatch)
        self._update()

    def _update(self) -> None:
        score, hint = strength(self.passphrase.text())
        self.meter.setValue(score)
        self.hint.setText(self.tr(hint))
        typed = self.confirm.text()
        different = bool(typed) and typed != self.passphrase.text()
        self.mismatch.setText(self.tr("The two passphrases differ.") if different else "")
        self.changed.emit()

    @property
    def ready(self) -> bool:
        text = self.passphrase.text()
        return bool(text) and text == self.confirm.text()

    def clear(self) -> None:
        self.passphrase.clear()
        self.confirm.clear()


class CreateSpacePage(Page):
    """Choose a passphrase (and where the file goes), then ask to create the space."""

    create_requested = Signal(str, str)  # path, passphrase
    back_requested = Signal()

    def __init__(self, default_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CreateSpacePage")
        self.path = Path(default_path)
        self.title = _heading(self.tr("Create your space"), self.column)
        self.intro = _body(
            self.tr(
                "Your passphrase encrypts everything in the space. Cairn never stores it "
                "and cannot recover it for you, so choose one you will remember: a few "
                "unrelated words work well."
            ),
            self.column,
        )
        self.fields = PassphraseFields(self.column)
        self.location = QLabel(self.column)
        self.location.setObjectName("location")
        self.location.setWordWrap(True)
        self.location.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_button = QPushButton(self.tr("Choose another place…"), self.column)
        self.status = QLabel(self.column)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.progress = busy_bar(self.column)
        self.back_button = QPushButton(self.tr("Back"), self.column)
        self.create_button = QPushButton(self.tr("Create space"), self.column)
        self.create_button.setObjectName("create_space_button")
        self.create_button.setDefault(True)

        self.fields.changed.connect(self._update)
        self.choose_button.clicked.connect(self._choose)
        self.back_button.clicked.connect(self.back_requested)
        self.create_button.clicked.connect(self._create)
        self.fields.confirm.returnPressed.connect(self._create)

        where = QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(self.choose_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.create_button)
        self.column_layout.addStretch(1)
        self.column_layout.addWidget(self.title)
        self.column_layout.addWidget(self.intro)
        self.column_layout.addWidget(self.fields)
        self.column_layout.addLayout(where)
        self.column_layout.addWidget(self.progress)
        self.column_layout.addWidget(self.status)
        self.column_layout.addLayout(buttons)
        self.column_layout.addStretch(2)
        self.set_path(self.path)

    def set_path(self, path: Path) -> None:
        self.path = Path(path)
        self.location.setText(self.tr("The space will be saved as {path}").format(path=self.path))
        self._update()

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.progress.setVisible(busy)
        self.status.setText(message)
        self.fields.setEnabled(not busy)
        self.choose_button.setEnabled(not busy)
        self._update(busy)

    def _update(self, busy: bool = False) -> None:
        self.create_button.setEnabled(self.fields.ready and not self.progress.isVisible())

    def _choose(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(
            self, self.tr("Where should the space be saved?"), str(self.path),
            self.tr("Cairn spaces (*.cairn)"),
        )  # fmt: skip
        if chosen:
            path = Path(chosen)
            self.set_path(path if path.suffix else path.with_suffix(".cairn"))

    def _create(self) -> None:
        if self.fields.ready:
            self.create_requested.emit(str(self.path), self.fields.passphrase.text())


class RestoreSpacePage(CreateSpacePage):
    """Make a new space from a portable archive: the archive's passphrase, then the
    new space's own passphrase and place."""

    restore_requested = Signal(str, str, str, str)  # path, passphrase, archive, its passphrase

    def __init__(self, default_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(default_path, parent)
        self.setObjectName("RestoreSpacePage")
        self.archive = Path()
        self.title.setText(self.tr("Restore your space"))
        self.archive_label = QLabel(self.column)
        self.archive_label.setObjectName("archive_label")
        self.archive_label.setWordWrap(True)
        self.archive_passphrase = QLineEdit(self.column)
        self.archive_passphrase.setObjectName("archive_passphrase")
        self.archive_passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.archive_passphrase.setPlaceholderText(self.tr("The passphrase of the archive"))
        self.archive_passphrase.setAccessibleName(self.tr("Archive passphrase"))
        self.intro.setText(self.tr(
            "Everything in the archive comes back: every item with its history, your files "
            "and your signing key. Then choose a passphrase for the space on this computer "
            "(it may be the one you used before)."))  # fmt: skip
        self.create_button.setText(self.tr("Restore space"))
        self.create_button.setObjectName("restore_space_button")
        self.archive_passphrase.textChanged.connect(lambda _t: self._update())
        index = self.column_layout.indexOf(self.intro) + 1
        self.column_layout.insertWidget(index, self.archive_label)
        self.column_layout.insertWidget(index + 1, self.archive_passphrase)
        self.setTabOrder(self.archive_passphrase, self.fields.passphrase)

    def start(self, archive: Path) -> None:
        self.archive = archive
        self.archive_label.setText(self.tr("From {archive}").format(archive=archive))
        self.archive_passphrase.clear()
        self.fields.clear()
        self.set_busy(False)

    def _update(self, busy: bool = False) -> None:
        ready = self.fields.ready and bool(getattr(self, "archive_passphrase", None)
                                           and self.archive_passphrase.text())  # fmt: skip
        self.create_button.setEnabled(ready and not self.progress.isVisible())

    def set_busy(self, busy: bool, message: str = "") -> None:
        super().set_busy(busy, message)
        self.archive_passphrase.setEnabled(not busy)

    def _create(self) -> None:
        if self.create_button.isEnabled():
            self.restore_requested.emit(
                str(self.path), self.fields.passphrase.text(),
                str(self.archive), self.archive_passphrase.text())  # fmt: skip


class RecoveryKeyPage(Page):
    """Shows the recovery key once; continuing needs it typed back (or pasted)."""

    continue_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RecoveryKeyPage")
        self._key = ""
        self.title = _heading(self.tr("Your recovery key"), self.column)
        self.intro = _body(
            self.tr(
                "If you ever forget your passphrase, this key is the only way back into your "
                "space. Write it down or save it somewhere safe, away from this computer. "
                "Cairn will not show it again."
            ),
            self.column,
        )
        self.key_label = QLabel(self.column)
        self.key_label.setObjectName("recovery_key")
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.key_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(self.font().pointSizeF() * 1.25)
        self.key_label.setFont(mono)
        self.key_label.setStyleSheet(
            "padding: 12px; border: 1px solid palette(mid); border-radius: 6px;"
        )
        self.copy_button = QPushButton(self.tr("Copy"), self.column)
        self.save_button = QPushButton(self.tr("Save to a file…"), self.column)
        self.retype_label = _body(
            self.tr("To be sure you have it, type or paste it here:"), self.column
        )
        self.retype = QLineEdit(self.column)
        self.retype.setObjectName("retype")
        self.retype.setAccessibleName(self.tr("Recovery key, typed again"))
        self.check = QLabel(self.column)
        self.check.setObjectName("check")
        self.continue_button = QPushButton(self.tr("Continue to my space"), self.column)
        self.continue_button.setObjectName("continue_button")
        self.continue_button.setDefault(True)

        self.copy_button.clicked.connect(self._copy)
        self.save_button.clicked.connect(self._save)
        self.retype.textChanged.connect(self._update)
        self.continue_button.clicked.connect(self._continue)
        self.retype.returnPressed.connect(self._continue)

        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.copy_button)
        actions.addWidget(self.save_button)
        actions.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.check, 1)
        bottom.addWidget(self.continue_button)
        self.column_layout.addStretch(1)
        self.column_layout.addWidget(self.title)
        self.column_layout.addWidget(self.intro)
        self.column_layout.addWidget(self.key_label)
        self.column_layout.addLayout(actions)
        self.column_layout.addSpacing(8)
        self.column_layout.addWidget(self.retype_label)
        self.column_layout.addWidget(self.retype)
        self.column_layout.addLayout(bottom)
        self.column_layout.addStretch(2)
        self._update()

    def show_key(self, key: str) -> None:
        self._key = key
        groups = key.split("-")
        rows = ["  ".join(groups[i : i + 7]) for i in range(0, len(groups), 7)]
        self.key_label.setText("\n".join(rows))
        self.retype.clear()
        self._update()

    def forget_key(self) -> None:
        """Drop the key from the widgets once the person has moved on."""
        self._key = ""
        self.key_label.clear()
        self.retype.clear()

    def _matches(self) -> bool:
        return bool(self._key) and normalise_recovery_key(
            self.retype.text()
        ) == normalise_recovery_key(self._key)

    def _update(self) -> None:
        matches = self._matches()
        self.continue_button.setEnabled(matches)
        typed = self.retype.text().strip()
        if matches:
            self.check.setText(self.tr("That matches."))
        elif typed and len(normalise_recovery_key(typed)) >= len(normalise_recovery_key(self._key)):
            self.check.setText(self.tr("That does not match yet; check each group."))
        else:
            self.check.setText("")

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self._key)
        self.check.setText(self.tr("Copied. Paste it somewhere safe, then clear your clipboard."))

    def _save(self) -> None:
        chosen, _ = QFileDialog.getSaveFileName(
            self, self.tr("Save the recovery key"), "cairn-recovery-key.txt",
            self.tr("Text files (*.txt)"),
        )  # fmt: skip
        if chosen:
            self.save_to(Path(chosen))

    def save_to(self, path: Path) -> None:
        with atomic_writer(path) as handle:
            handle.write(
                (
                    "Cairn recovery key\n\n"
                    f"{self._key}\n\n"
                    "It opens your Cairn space if you forget the passphrase. Keep it safe.\n"
                ).encode()
            )
        self.check.setText(self.tr("Saved to {path}.").format(path=path))

    def _continue(self) -> None:
        if self._matches():
            self.continue_requested.emit()
