"""A banner above the pages for a problem that stopped sync with a whole workspace: a
device the organisation disconnected, a server key that changed, a bad signature."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ui.badges import badge_colours
from ui.messages import describe_account_problem
from ui.sync_jobs import AccountView

#: Problems a new invite mends.
RECONNECT = frozenset({"token_revoked", "token_expired", "not_authorised"})


class SyncBanner(QFrame):
    """Says what stopped, for the first account with a problem; Connect Again or Dismiss."""

    reconnect_requested = Signal(str)  # the server address, to prefill
    organisations_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SyncBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.account: AccountView | None = None
        self._dismissed: set[tuple[str, str]] = set()

        self.message = QLabel(self)
        self.message.setObjectName("banner_message")
        self.message.setWordWrap(True)
        self.reconnect_button = QPushButton(self.tr("Connect &Again…"), self)
        self.reconnect_button.setObjectName("banner_reconnect")
        self.organisations_button = QPushButton(self.tr("Organisations…"), self)
        self.organisations_button.setObjectName("banner_organisations")
        self.dismiss_button = QPushButton(self.tr("Dismiss"), self)
        self.dismiss_button.setObjectName("banner_dismiss")

        self.reconnect_button.clicked.connect(self._reconnect)
        self.organisations_button.clicked.connect(self.organisations_requested)
        self.dismiss_button.clicked.connect(self._dismiss)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.reconnect_button)
        layout.addWidget(self.organisations_button)
        layout.addWidget(self.dismiss_button)
        self.hide()

    def set_accounts(self, accounts: list[AccountView] | tuple[AccountView, ...]) -> None:
        """Show the first problem not dismissed; hide when there is none."""
        troubled = [a for a in accounts if a.problem_code
                    and (a.id, a.problem_code) not in self._dismissed]  # fmt: skip
        self.account = troubled[0] if troubled else None
        if self.account is None:
            self.hide()
            return
        account = self.account
        text = describe_account_problem(account.problem_code, account.workspace_name,
                                        account.problem_message or "")  # fmt: skip
        if len(troubled) > 1:
            text += " " + self.tr("(And {n} more workspaces need attention: see Organisations.)"
                                  ).format(n=len(troubled) - 1)  # fmt: skip
        self.message.setText(text)
        self.reconnect_button.setVisible(account.problem_code in RECONNECT)
        self.organisations_button.setVisible(account.problem_code not in RECONNECT)
        background, ink = badge_colours("needs_more_evidence")  # the warm "attention" pair
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, background)
        palette.setColor(QPalette.ColorRole.WindowText, ink)
        self.message.setPalette(palette)
        self.setPalette(palette)
        self.show()

    def _reconnect(self) -> None:
        if self.account is not None:
            self.reconnect_requested.emit(self.account.server_url)

    def _dismiss(self) -> None:
        if self.account is not None and self.account.problem_code:
            self._dismissed.add((self.account.id, self.account.problem_code))
        self.hide()

    def clear(self) -> None:
        self.account = None
        self._dismissed.clear()
        self.hide()
