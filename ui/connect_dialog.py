"""Connect to an organisation's workspace: its server address and an invite code.

The dialog gathers the three values and shows the work going on; the sync controller
runs the connection on a network job and reports back with ``connected`` or ``failed``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from ui.first_run import _body
from ui.sync_jobs import AccountView
from ui.theme import error_style, hint_style


def server_address(text: str) -> str:
    """What was typed as an address: https:// is assumed when no scheme is given."""
    address = text.strip()
    if address and "://" not in address:
        address = "https://" + address
    return address.rstrip("/")


class ConnectDialog(QDialog):
    """Server address, invite code and this computer's name; Connect, or Cancel."""

    connect_requested = Signal(str, str, str)  # address, invite code, device name

    def __init__(self, device_name: str, parent: QWidget | None = None,
                 address: str = "") -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("ConnectDialog")
        self.setWindowTitle(self.tr("Connect to an Organisation"))
        self.running = False
        self.account: AccountView | None = None

        self.intro = _body(self.tr(
            "Your organisation gives you the address of its Cairn server and an invite code. "
            "Connecting sends nothing from your space: you choose what to share, item by "
            "item, and see exactly what will be sent first."), self)  # fmt: skip
        self.address = QLineEdit(address, self)
        self.address.setObjectName("server_address")
        self.address.setPlaceholderText(self.tr("https://cairn.example.org"))
        self.address.setAccessibleName(self.tr("Server address"))
        self.code = QLineEdit(self)
        self.code.setObjectName("invite_code")
        self.code.setPlaceholderText(self.tr("The code from your invite"))
        self.code.setAccessibleName(self.tr("Invite code"))
        self.device = QLineEdit(device_name, self)
        self.device.setObjectName("device_name")
        self.device.setMaxLength(200)
        self.device.setAccessibleName(self.tr("Name of this computer"))
        self.device_hint = QLabel(self.tr("How the organisation sees this computer"), self)
        self.device_hint.setStyleSheet(hint_style())
        self.progress = QProgressBar(self)
        self.progress.setObjectName("connect_progress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setObjectName("connect_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.connect_button = self.buttons.addButton(self.tr("&Connect"),
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.connect_button.setObjectName("connect_button")
        self.connect_button.setDefault(True)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("connect_cancel")

        self.address.textChanged.connect(self._update)
        self.code.textChanged.connect(self._update)
        self.device.textChanged.connect(self._update)
        self.connect_button.clicked.connect(self._start)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for text, widget in ((self.tr("Server &address"), self.address),
                             (self.tr("&Invite code"), self.code),
                             (self.tr("This &computer"), self.device)):  # fmt: skip
            caption = QLabel(text, self)
            caption.setBuddy(widget)
            form.addRow(caption, widget)
        form.addRow("", self.device_hint)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        # Room for a two-line error under the form, no more: the dialog grows if it must.
        self.resize(540, self.sizeHint().height() + 2 * self.fontMetrics().lineSpacing())
        (self.code if address else self.address).setFocus()
        self._update()

    def _update(self) -> None:
        ready = bool(self.address.text().strip() and self.code.text().strip()
                     and self.device.text().strip())  # fmt: skip
        self.connect_button.setEnabled(ready and not self.running)

    def _start(self) -> None:
        if not self.connect_button.isEnabled():
            return
        address = server_address(self.address.text())
        self.address.setText(address)
        self.code.setText(self.code.text().strip())
        self.running = True
        for widget in (self.address, self.code, self.device):
            widget.setEnabled(False)
        self.progress.show()
        self.status.setStyleSheet("")
        host = address.split("://", 1)[-1]
        self.status.setText(self.tr("Connecting to {host}…").format(host=host))
        self._update()
        self.connect_requested.emit(address, self.code.text().strip(),
                                    " ".join(self.device.text().split()))  # fmt: skip

    def connected(self, account: AccountView) -> None:
        """The controller reports success: the dialog closes, accepted."""
        self.running = False
        self.account = account
        self.accept()

    def failed(self, message: str, field: str = "") -> None:
        """The controller reports a failure; ``field`` ("address", "code") is the one
        to fix, if the error says which."""
        self.running = False
        self.progress.hide()
        for widget in (self.address, self.code, self.device):
            widget.setEnabled(True)
        self.status.setStyleSheet(error_style())
        self.status.setText(message)
        self._update()
        target = {"address": self.address, "code": self.code}.get(field)
        if target is not None:
            target.setFocus()
            target.selectAll()
