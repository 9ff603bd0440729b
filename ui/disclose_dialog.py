"""Share with an organisation: choose the workspace and submission point, see exactly
what would leave the device, and confirm.

The dialog only chooses and shows. The sync controller makes the preview (a store job)
each time the destination changes, and queues the signed submission on Confirm.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.syncing.disclosure import Preview
from ui.attachments import human_size
from ui.first_run import _body
from ui.library import friendly_time
from ui.sync_jobs import AccountView, PointView, ReviewedAsset
from ui.theme import error_style, hint_style

POINT_ROLE = Qt.ItemDataRole.UserRole
_HINT = "color: palette(placeholder-text);"


def point_summary(point: PointView, tr: Callable[[str], str]) -> str:
    """One line on a point: whether it is open, its deadline, and its mode."""
    if not point.is_open():
        return tr("Closed: it no longer takes submissions")
    due = (tr("due {when}").format(when=friendly_time(point.deadline)) if point.deadline
           else tr("no deadline"))  # fmt: skip
    if point.mode == "open":
        return tr("Open, {due} · you can withdraw what you send until then").format(due=due)
    return tr("Locked, {due} · one final submission; it cannot be withdrawn").format(due=due)


class PreviewView(QTextBrowser):
    """Exactly what would be sent: every field with its label and value, every attachment
    with its size, and the linked items that are not included. Text only: nothing the
    person wrote is read as HTML."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("disclosure_preview")
        self.setAccessibleName(self.tr("What will be sent"))
        self.setOpenLinks(False)
        self.setTabChangesFocus(True)
        self.shown: Preview | None = None

    def show_preview(self, shown: Preview) -> None:
        self.shown = shown
        e = html.escape
        parts = []
        for asset in shown.assets:
            rows = [(f.label, f.text) for f in asset.fields]
            named = {f.name.casefold() for f in asset.fields} | {
                f.label.casefold() for f in asset.fields}  # fmt: skip
            if asset.skills and "skills" not in named:  # a skills field shows them already
                rows.append((self.tr("Skills"), ", ".join(asset.skills)))
            if asset.tags:
                rows.append((self.tr("Tags"), ", ".join(asset.tags)))
            parts.append(self._asset_html(asset.title, asset.template, rows,
                                          [(a.name, a.size) for a in asset.attachments]))
        if shown.not_included:
            names = ", ".join(f"“{e(n.title or self.tr('Untitled'))}”"
                              for n in shown.not_included)  # fmt: skip
            heading = e(self.tr("Linked but not included:"))
            note = e(self.tr("These stay on this device; the links to them are left out."))
            parts.append(f"<p style='margin-top:18px'><b>{heading}</b> {names}<br>"
                         f"<span style='{_HINT}'>{note}</span></p>")
        self.setHtml("".join(parts))

    def show_assets(self, assets: Sequence[ReviewedAsset]) -> None:
        """Someone else's submission, as sent (for a peer review)."""
        self.shown = None
        self.setHtml("".join(self._asset_html(a.title, a.template, list(a.fields),
                                              list(a.files)) for a in assets))  # fmt: skip

    def _asset_html(self, title: str, template: str, rows: list[tuple[str, str]],
                    files: list[tuple[str, int]]) -> str:  # fmt: skip
        e = html.escape
        parts = [f"<h3 style='margin-bottom:2px'>{e(title)}</h3>"
                 f"<p style='{_HINT} margin-top:0'>{e(template)}</p>"]  # fmt: skip
        if rows:
            cells = "".join(
                f"<tr><td style='padding:3px 12px 3px 0' valign='top'><b>{e(label)}</b></td>"
                f"<td style='padding:3px 0'>{e(text).replace(chr(10), '<br>')}</td></tr>"
                for label, text in rows
            )
            parts.append(f"<table cellspacing='0'>{cells}</table>")
        else:
            parts.append(f"<p style='{_HINT}'>{e(self.tr('No answers: only the title.'))}</p>")
        if files:
            items = "".join(f"<li>{e(name)} — {e(human_size(size))}</li>" for name, size in files)
            parts.append(f"<p style='margin-bottom:0'><b>{e(self.tr('Files'))}</b></p>"
                         f"<ul style='margin-top:2px'>{items}</ul>")  # fmt: skip
        else:
            parts.append(f"<p style='{_HINT}'>{e(self.tr('No files.'))}</p>")
        return "".join(parts)

    def clear_preview(self, text: str = "") -> None:
        self.shown = None
        self.setHtml(f"<p style='color: palette(placeholder-text);'>{html.escape(text)}</p>")


class DiscloseDialog(QDialog):
    """Choose where to send the chosen items, see the preview, Sign and Queue."""

    preview_requested = Signal(str, str, bool)  # account id, point id, include tags
    confirm_requested = Signal(object)  # the Preview that was shown
    refresh_requested = Signal(str)  # account id: bring its points up to date
    connect_requested = Signal()

    def __init__(self, titles: list[str], accounts: list[AccountView],
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("DiscloseDialog")
        self.setWindowTitle(self.tr("Share with an Organisation"))
        self.running = False
        self.accounts: list[AccountView] = []

        self.chosen = _body(self._chosen_text(titles), self)
        self.chosen.setObjectName("disclose_chosen")
        self.account = QComboBox(self)
        self.account.setObjectName("disclose_account")
        self.account.setAccessibleName(self.tr("Organisation"))
        self.account_label = QLabel(self.tr("&Organisation"), self)
        self.account_label.setBuddy(self.account)
        self.connect_button = QPushButton(self.tr("Co&nnect Another…"), self)
        self.connect_button.setObjectName("disclose_connect")
        self.points = QListWidget(self)
        self.points.setObjectName("disclose_points")
        self.points.setAccessibleName(self.tr("Submission point"))
        self.points.setWordWrap(True)
        self.points.setSpacing(3)
        self.points_label = QLabel(self.tr("Submission &point"), self)
        self.points_label.setBuddy(self.points)
        self.refresh_button = QPushButton(self.tr("&Refresh"), self)
        self.refresh_button.setObjectName("disclose_refresh")
        self.refresh_button.setToolTip(self.tr("Ask the server for its submission points now"))
        self.no_points = QLabel(self)
        self.no_points.setObjectName("disclose_no_points")
        self.no_points.setWordWrap(True)
        self.no_points.setStyleSheet(hint_style())
        self.no_points.hide()
        self.include_tags = QCheckBox(self.tr("Also send my &tags"), self)
        self.include_tags.setObjectName("disclose_tags")
        self.include_tags.setToolTip(self.tr("Tags are personal; they stay on this device "
                                             "unless you tick this."))  # fmt: skip
        self.preview_label = QLabel(self.tr("What will be sent"), self)
        font = self.preview_label.font()
        font.setBold(True)
        self.preview_label.setFont(font)
        self.preview = PreviewView(self)
        self.preview.clear_preview(self.tr("Choose a submission point to see exactly what will "
                                           "be sent."))  # fmt: skip
        self.summary = QLabel(self)
        self.summary.setObjectName("disclose_summary")
        self.summary.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setObjectName("disclose_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.confirm_button = self.buttons.addButton(self.tr("&Sign and Queue"),
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm_button.setObjectName("disclose_confirm")
        self.confirm_button.setEnabled(False)
        self.confirm_button.setDefault(True)

        self.account.currentIndexChanged.connect(lambda _i: self._account_chosen())
        self.points.currentItemChanged.connect(lambda *_: self._request_preview())
        self.include_tags.toggled.connect(lambda _on: self._request_preview())
        self.refresh_button.clicked.connect(self._refresh)
        self.connect_button.clicked.connect(self.connect_requested)
        self.confirm_button.clicked.connect(self._confirm)
        self.buttons.rejected.connect(self.reject)

        account_row = QHBoxLayout()
        account_row.addWidget(self.account, 1)
        account_row.addWidget(self.connect_button)
        points_row = QHBoxLayout()
        points_row.addWidget(self.points_label, 1)
        points_row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.chosen)
        layout.addSpacing(6)
        layout.addWidget(self.account_label)
        layout.addLayout(account_row)
        layout.addLayout(points_row)
        layout.addWidget(self.points)
        layout.addWidget(self.no_points)
        layout.addWidget(self.include_tags)
        layout.addSpacing(6)
        layout.addWidget(self.preview_label)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(680, 720)
        self.set_accounts(accounts)

    def _chosen_text(self, titles: list[str]) -> str:
        if len(titles) == 1:
            return self.tr("You are about to share “{title}”. Nothing is sent until you "
                           "confirm.").format(title=titles[0])  # fmt: skip
        names = ", ".join(f"“{t}”" for t in titles[:5]) + ("…" if len(titles) > 5 else "")
        return self.tr("You are about to share {n} items: {names}. Nothing is sent until you "
                       "confirm.").format(n=len(titles), names=names)  # fmt: skip

    # ------------------------------------------------------------ choosing

    def set_accounts(self, accounts: list[AccountView], keep: str | None = None) -> None:
        """The connected workspaces (again after a refresh), keeping the choice."""
        wanted = keep or (self.account.currentData() if self.account.count() else None)
        point = self.chosen_point()
        self.accounts = list(accounts)
        self.account.blockSignals(True)
        self.account.clear()
        for account in accounts:
            self.account.addItem(account.label, account.id)
        self.account.setCurrentIndex(max(0, self.account.findData(wanted)) if wanted else 0)
        self.account.blockSignals(False)
        self._account_chosen(point)

    def chosen_account(self) -> AccountView | None:
        wanted = self.account.currentData()
        return next((a for a in self.accounts if a.id == wanted), None)

    def chosen_point(self) -> str | None:
        item = self.points.currentItem()
        return str(item.data(POINT_ROLE)) if item is not None else None

    def _account_chosen(self, keep_point: str | None = None) -> None:
        account = self.chosen_account()
        self.points.blockSignals(True)
        self.points.clear()
        usable = 0
        for point in account.points if account else ():
            item = QListWidgetItem(f"{point.name}\n{point_summary(point, self.tr)}", self.points)
            item.setData(POINT_ROLE, point.id)
            item.setToolTip(point_summary(point, self.tr))
            if point.is_open():
                usable += 1
            else:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
        if keep_point is not None:
            for row in range(self.points.count()):
                item = self.points.item(row)
                if item.data(POINT_ROLE) == keep_point and item.flags() & Qt.ItemFlag.ItemIsEnabled:
                    self.points.setCurrentItem(item)
        elif usable == 1:  # the only choice: chosen already
            for row in range(self.points.count()):
                item = self.points.item(row)
                if item.flags() & Qt.ItemFlag.ItemIsEnabled:
                    self.points.setCurrentItem(item)
        self.points.blockSignals(False)
        rows = sum(self.points.sizeHintForRow(r) + 2 * self.points.spacing()
                   for r in range(self.points.count()))  # fmt: skip
        self.points.setFixedHeight(min(170, rows + 2 * self.points.frameWidth() + 2))
        if account is None:
            text = self.tr("Connect to an organisation first.")
        elif not account.points:
            text = self.tr("{org} has no submission points yet. Refresh to ask the server "
                           "again.").format(org=account.workspace_name)  # fmt: skip
        elif not usable:
            text = self.tr("Every submission point of {org} is closed.").format(
                org=account.workspace_name)  # fmt: skip
        else:
            text = ""
        self.no_points.setText(text)
        self.no_points.setVisible(bool(text))
        self.points.setVisible(bool(account and account.points))
        self.refresh_button.setEnabled(account is not None and not self.running)
        self._request_preview()

    def _request_preview(self, keep_status: bool = False) -> None:
        account, point = self.chosen_account(), self.chosen_point()
        self.confirm_button.setEnabled(False)
        self.summary.clear()
        if not keep_status:
            self.status.clear()
        if account is None or point is None:
            self.preview.clear_preview(self.tr("Choose a submission point to see exactly what "
                                               "will be sent."))  # fmt: skip
            return
        self.preview.clear_preview(self.tr("Preparing the preview…"))
        self.preview_requested.emit(account.id, point, self.include_tags.isChecked())

    def _refresh(self) -> None:
        account = self.chosen_account()
        if account is not None:
            self.refresh_button.setEnabled(False)
            self.status.setStyleSheet("")
            self.status.setText(self.tr("Asking {host} for its submission points…").format(
                host=account.host))  # fmt: skip
            self.refresh_requested.emit(account.id)

    def refreshed(self, accounts: list[AccountView] | None, error: str = "") -> None:
        self.refresh_button.setEnabled(True)
        if error:
            self.status.setStyleSheet(error_style())
            self.status.setText(error)
            return
        self.status.clear()
        if accounts is not None:
            self.set_accounts(accounts)

    # ------------------------------------------------------------- preview

    def show_preview(self, shown: Preview) -> None:
        """The controller's preview; ignored if the choice has moved on meanwhile."""
        account, point = self.chosen_account(), self.chosen_point()
        if account is None or (shown.account_id, shown.point_id) != (account.id, point):
            return
        self.preview.show_preview(shown)
        files = shown.attachment_count
        size = human_size(shown.attachment_bytes)
        items = (self.tr("1 item") if len(shown.assets) == 1
                 else self.tr("{n} items").format(n=len(shown.assets)))  # fmt: skip
        if files == 0:
            attached = self.tr("no files")
        elif files == 1:
            attached = self.tr("1 file ({size})").format(size=size)
        else:
            attached = self.tr("{n} files ({size})").format(n=files, size=size)
        self.summary.setText(self.tr("{items} and {files} go to {point} in {org}, signed with "
                                     "your space's key.").format(
            items=items, files=attached, point=shown.point_name, org=shown.workspace_name))
        self.confirm_button.setEnabled(not self.running)

    def preview_failed(self, message: str) -> None:
        self.preview.clear_preview("")
        self.status.setStyleSheet(error_style())
        self.status.setText(message)
        self.confirm_button.setEnabled(False)

    # ------------------------------------------------------------- confirm

    def _confirm(self) -> None:
        shown = self.preview.shown
        if shown is None or not self.confirm_button.isEnabled():
            return
        self.running = True
        self.confirm_button.setEnabled(False)
        for widget in (self.account, self.points, self.include_tags, self.refresh_button,
                       self.connect_button):  # fmt: skip
            widget.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Signing and putting it in the outbox…"))
        self.confirm_requested.emit(shown)

    def queued(self) -> None:
        self.running = False
        self.accept()

    def queue_failed(self, message: str) -> None:
        self.running = False
        for widget in (self.account, self.points, self.include_tags, self.refresh_button,
                       self.connect_button):  # fmt: skip
            widget.setEnabled(True)
        self.status.setStyleSheet(error_style())
        self.status.setText(message)
        self._request_preview(keep_status=True)  # what changed is shown afresh
