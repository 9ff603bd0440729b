"""Preferences: general settings, and the Security page (passphrase, recovery key)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.first_run import ERROR_STYLE, PassphraseFields, RecoveryKeyPage, _body


class SettingsDialog(QDialog):
    """Edits settings in place; security actions are requested from the window."""

    change_passphrase_requested = Signal(str)
    new_recovery_key_requested = Signal()

    def __init__(self, idle_minutes: int, unlocked: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SettingsDialog")
        self.setWindowTitle(self.tr("Preferences"))
        self.tabs = QTabWidget(self)

        general = QWidget(self.tabs)
        self.idle_minutes = QSpinBox(general)
        self.idle_minutes.setObjectName("idle_minutes")
        self.idle_minutes.setRange(0, 240)
        self.idle_minutes.setValue(idle_minutes)
        self.idle_minutes.setSuffix(self.tr(" minutes"))
        self.idle_minutes.setSpecialValueText(self.tr("Never"))
        self.idle_minutes.setAccessibleName(self.tr("Lock after inactivity"))
        self.idle_minutes.setMaximumWidth(160)
        general_form = QFormLayout(general)
        general_form.addRow(self.tr("&Lock after inactivity"), self.idle_minutes)
        general_form.addRow("", _body(self.tr(
            "Locking clears everything decrypted from the screen and from memory Cairn "
            "controls. Your work is saved first."), general))  # fmt: skip

        security = QWidget(self.tabs)
        self.passphrase = PassphraseFields(security)
        self.change_button = QPushButton(self.tr("Change passphrase"), security)
        self.change_button.setObjectName("change_passphrase")
        self.security_status = QLabel(security)
        self.security_status.setObjectName("security_status")
        self.security_status.setWordWrap(True)
        self.recovery_intro = _body(self.tr(
            "A new recovery key replaces the one you saved before, which then stops working. "
            "Do this if you think someone else may have seen it."), security)  # fmt: skip
        self.new_key_button = QPushButton(self.tr("Make a new recovery key…"), security)
        self.new_key_button.setObjectName("new_recovery_key")
        self.key_page = RecoveryKeyPage(self)
        self.key_page.continue_button.setText(self.tr("Done"))
        self.key_page.hide()
        for widget in (self.passphrase, self.change_button, self.new_key_button):
            widget.setEnabled(unlocked)
        if not unlocked:
            self.security_status.setText(self.tr("Unlock a space to change its security settings."))

        self.passphrase.changed.connect(self._update)
        self.change_button.clicked.connect(self._change)
        self.new_key_button.clicked.connect(self.new_recovery_key_requested)
        self.key_page.continue_requested.connect(self._key_done)

        security_layout = QVBoxLayout(security)
        security_layout.addWidget(QLabel(self.tr("<b>Passphrase</b>"), security))
        security_layout.addWidget(self.passphrase)
        security_layout.addWidget(self.change_button)
        security_layout.addWidget(self.security_status)
        security_layout.addSpacing(12)
        security_layout.addWidget(QLabel(self.tr("<b>Recovery key</b>"), security))
        security_layout.addWidget(self.recovery_intro)
        security_layout.addWidget(self.new_key_button)
        security_layout.addStretch(1)

        self.tabs.addTab(general, self.tr("General"))
        self.tabs.addTab(security, self.tr("Security"))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.key_page)  # shown instead of the tabs, once
        layout.addWidget(self.buttons)
        self.resize(620, 560)
        self._update()

    def _update(self) -> None:
        self.change_button.setEnabled(self.passphrase.ready and self.passphrase.isEnabled())

    def _change(self) -> None:
        if self.passphrase.ready:
            self.security_status.setStyleSheet("")
            self.security_status.setText(self.tr("Changing the passphrase…"))
            self.change_button.setEnabled(False)
            self.change_passphrase_requested.emit(self.passphrase.passphrase.text())

    def passphrase_changed(self, error: str | None) -> None:
        self.passphrase.clear()
        if error:
            self.security_status.setStyleSheet(ERROR_STYLE)
            self.security_status.setText(error)
        else:
            self.security_status.setText(self.tr("Your passphrase has been changed."))

    def show_new_key(self, key: str) -> None:
        self.key_page.show_key(key)
        self.tabs.hide()
        self.buttons.hide()  # the key must be confirmed before the dialog can close
        self.key_page.show()
        self.key_page.retype.setFocus()

    def _key_done(self) -> None:
        self.key_page.forget_key()
        self.key_page.hide()
        self.tabs.show()
        self.buttons.show()
        self.recovery_intro.setText(self.tr("Your new recovery key is in place."))
