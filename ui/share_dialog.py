"""Share publicly: publish the chosen items as a read-only web page on a workspace
server, with comments on or off and an optional expiry; copy the link; revoke pages.

The dialog chooses and shows; the sync controller makes the preview (store job),
publishes and revokes (network jobs) and reports back.
"""

from __future__ import annotations

from datetime import date, datetime, time

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.syncing.disclosure import Preview
from app.syncing.status import ShareInfo
from ui.connections import section_heading
from ui.disclose_dialog import PreviewView
from ui.library import friendly_time
from ui.sync_jobs import AccountView
from ui.theme import error_style, hint_style

SHARE_ROLE = Qt.ItemDataRole.UserRole


def end_of_day(day: QDate) -> datetime:
    """The last minute of that day where the person is, as an aware datetime."""
    return datetime.combine(date(day.year(), day.month(), day.day()), time(23, 59)).astimezone()


class ShareDialog(QDialog):
    """A new public page for the chosen items, and the pages already published."""

    preview_requested = Signal(str)  # account id
    publish_requested = Signal(object, str, bool, object)  # Preview, title, comments, expiry
    revoke_requested = Signal(str)  # share id
    connect_requested = Signal()

    def __init__(self, titles: list[str], accounts: list[AccountView],
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("ShareDialog")
        self.setWindowTitle(self.tr("Share Publicly"))
        self.running = False
        self.published_now = False  # a page was just published: Publish again only on a change
        self.accounts = list(accounts)
        self.shares: list[ShareInfo] = []

        self.intro = QLabel(self.tr(
            "Anyone with the link can read this page, without signing in. It shows the "
            "items as they are now; later changes are not published."), self)  # fmt: skip
        self.intro.setWordWrap(True)
        self.account = QComboBox(self)
        self.account.setObjectName("share_account")
        self.account.setAccessibleName(self.tr("Published by the server of"))
        for account in accounts:
            self.account.addItem(account.label, account.id)
        self.connect_button = QPushButton(self.tr("Co&nnect…"), self)
        self.connect_button.setObjectName("share_connect")
        self.title = QLineEdit(titles[0] if titles else "", self)
        self.title.setObjectName("share_title")
        self.title.setMaxLength(500)
        self.title.setAccessibleName(self.tr("Page heading"))
        self.comments = QCheckBox(self.tr("Let readers leave &comments"), self)
        self.comments.setObjectName("share_comments")
        self.expires = QCheckBox(self.tr("Take the page down &after"), self)
        self.expires.setObjectName("share_expires")
        self.expiry = QDateEdit(QDate.currentDate().addDays(30), self)
        self.expiry.setObjectName("share_expiry")
        self.expiry.setCalendarPopup(True)
        self.expiry.setDisplayFormat("d MMM yyyy")
        self.expiry.setMinimumDate(QDate.currentDate())
        self.expiry.setAccessibleName(self.tr("Expiry date"))
        self.expiry.setEnabled(False)
        self.preview = PreviewView(self)
        self.preview.setObjectName("share_preview")
        self.preview.setMinimumHeight(160)
        self.preview.clear_preview(self.tr("Preparing the preview…"))
        self.progress = QProgressBar(self)
        self.progress.setObjectName("share_progress")
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel(self)
        self.status.setObjectName("share_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.link = QLineEdit(self)
        self.link.setObjectName("share_link")
        self.link.setReadOnly(True)
        self.link.setAccessibleName(self.tr("Link to the page"))
        self.link.setPlaceholderText(self.tr("The link appears here once the page is published"))
        self.copy_button = QPushButton(self.tr("C&opy"), self)
        self.copy_button.setObjectName("share_copy")
        self.link.hide()
        self.copy_button.hide()
        self.pages = QTreeWidget(self)
        self.pages.setObjectName("share_pages")
        self.pages.setAccessibleName(self.tr("Public pages of these items"))
        self.pages.setHeaderLabels([self.tr("Page"), self.tr("Comments"), self.tr("Until")])
        self.pages.setRootIsDecorated(False)
        self.pages.setMaximumHeight(140)
        header = self.pages.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.no_pages = QLabel(self.tr("None yet."), self)
        self.no_pages.setObjectName("share_no_pages")
        self.no_pages.setStyleSheet(hint_style())
        self.copy_page_button = QPushButton(self.tr("Copy &Link"), self)
        self.copy_page_button.setObjectName("share_copy_page")
        self.revoke_button = QPushButton(self.tr("&Revoke…"), self)
        self.revoke_button.setObjectName("share_revoke")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.publish_button = self.buttons.addButton(self.tr("&Publish"),
                                                     QDialogButtonBox.ButtonRole.AcceptRole)
        self.publish_button.setObjectName("share_publish")
        self.publish_button.setEnabled(False)
        self.publish_button.setDefault(True)

        self.account.currentIndexChanged.connect(lambda _i: self._request_preview())
        self.expires.toggled.connect(self.expiry.setEnabled)
        for changed in (self.title.textChanged, self.comments.toggled, self.expires.toggled,
                        self.expiry.dateChanged):  # fmt: skip
            changed.connect(self._changed)
        self.publish_button.clicked.connect(self._publish)
        self.copy_button.clicked.connect(lambda: self._copy(self.link.text()))
        self.connect_button.clicked.connect(self.connect_requested)
        self.pages.currentItemChanged.connect(lambda *_: self._update())
        self.copy_page_button.clicked.connect(self._copy_page)
        self.revoke_button.clicked.connect(self._revoke)
        self.buttons.rejected.connect(self.reject)

        account_row = QHBoxLayout()
        account_row.addWidget(self.account, 1)
        account_row.addWidget(self.connect_button)
        expiry_row = QHBoxLayout()
        expiry_row.addWidget(self.expires)
        expiry_row.addWidget(self.expiry)
        expiry_row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for text, widget, row in ((self.tr("&Server"), self.account, account_row),
                                  (self.tr("&Heading"), self.title, None)):  # fmt: skip
            caption = QLabel(text, self)
            caption.setBuddy(widget)
            form.addRow(caption, row if row is not None else widget)
        form.addRow("", self.comments)
        form.addRow("", expiry_row)
        publish_row = QHBoxLayout()
        publish_row.addWidget(self.link, 1)
        publish_row.addWidget(self.copy_button)
        page_buttons = QHBoxLayout()
        page_buttons.addStretch(1)
        page_buttons.addWidget(self.copy_page_button)
        page_buttons.addWidget(self.revoke_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(section_heading(self.tr("What the page will show"), self))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(publish_row)
        layout.addSpacing(10)
        layout.addWidget(section_heading(self.tr("Public pages of these items"), self))
        layout.addWidget(self.pages)
        layout.addWidget(self.no_pages)
        layout.addLayout(page_buttons)
        layout.addWidget(self.buttons)
        self.resize(640, 760)
        self.set_shares([])
        if not accounts:
            self.preview.clear_preview(self.tr("Public pages are published by your "
                                               "organisation's server: connect to one first."))
        self._update()

    # ------------------------------------------------------------- choosing

    def chosen_account(self) -> AccountView | None:
        wanted = self.account.currentData()
        return next((a for a in self.accounts if a.id == wanted), None)

    def set_accounts(self, accounts: list[AccountView]) -> None:
        wanted = self.account.currentData()
        self.accounts = list(accounts)
        self.account.blockSignals(True)
        self.account.clear()
        for account in accounts:
            self.account.addItem(account.label, account.id)
        self.account.setCurrentIndex(max(0, self.account.findData(wanted)))
        self.account.blockSignals(False)
        self._request_preview()

    def _request_preview(self) -> None:
        self.preview.shown = None
        self._update()
        account = self.chosen_account()
        if account is not None:
            self.preview.clear_preview(self.tr("Preparing the preview…"))
            self.preview_requested.emit(account.id)

    def show_preview(self, shown: Preview) -> None:
        account = self.chosen_account()
        if account is not None and shown.account_id == account.id:
            self.preview.show_preview(shown)
            self._update()

    def preview_failed(self, message: str) -> None:
        self.preview.clear_preview("")
        self._fail(message)

    def _changed(self) -> None:
        self.published_now = False
        self._update()

    def _update(self) -> None:
        ready = (self.preview.shown is not None and bool(self.title.text().strip())
                 and not self.published_now)  # fmt: skip
        self.publish_button.setEnabled(ready and not self.running)
        item = self.pages.currentItem()
        share = self._share(item)
        live = share is not None and not share.revoked
        self.copy_page_button.setEnabled(live and bool(share and share.url))
        self.revoke_button.setEnabled(live and not self.running)

    # ------------------------------------------------------------ publishing

    def _publish(self) -> None:
        shown = self.preview.shown
        if shown is None or not self.publish_button.isEnabled():
            return
        expiry = end_of_day(self.expiry.date()) if self.expires.isChecked() else None
        self.begin(self.tr("Publishing the page…"))
        self.publish_requested.emit(shown, " ".join(self.title.text().split()),
                                    self.comments.isChecked(), expiry)  # fmt: skip

    def begin(self, text: str) -> None:
        self.running = True
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setStyleSheet("")
        self.status.setText(text)
        self._update()

    def progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def published(self, share: ShareInfo) -> None:
        self.running = False
        self.published_now = True
        self.progress.hide()
        self.link.setText(share.url or "")
        self.link.setCursorPosition(0)
        self.link.show()
        self.copy_button.show()
        self.copy_button.setEnabled(bool(share.url))
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Published. Anyone with the link can read the page."))
        self.set_shares([share, *[s for s in self.shares if s.share_id != share.share_id]])
        first = self.pages.topLevelItem(0)
        if first is not None:
            self.pages.setCurrentItem(first)
        self.copy_button.setFocus()

    def failed(self, message: str) -> None:
        self.running = False
        self.progress.hide()
        self._fail(message)

    def _fail(self, message: str) -> None:
        self.status.setStyleSheet(error_style())
        self.status.setText(message)
        self._update()

    def _copy(self, text: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)
            self.status.setStyleSheet("")
            self.status.setText(self.tr("The link is copied."))

    # ---------------------------------------------------------- the pages

    def set_shares(self, shares: list[ShareInfo]) -> None:
        self.shares = list(shares)
        current = self._share(self.pages.currentItem())
        self.pages.clear()
        for share in shares:
            if share.revoked:
                page = self.tr("{title} (revoked)").format(title=share.title)
            else:
                page = share.url or self.tr("{title} (not published: its link was lost)").format(
                    title=share.title)  # fmt: skip
            until = friendly_time(share.expires_at) if share.expires_at else self.tr("No expiry")
            item = QTreeWidgetItem(self.pages, [
                page, self.tr("On") if share.comments_enabled else self.tr("Off"),
                "" if share.revoked else until])  # fmt: skip
            item.setData(0, SHARE_ROLE, share.share_id)
            item.setToolTip(0, page)
            if share.revoked:
                item.setDisabled(True)
            if current is not None and current.share_id == share.share_id:
                self.pages.setCurrentItem(item)
        self.pages.setVisible(bool(shares))
        self.no_pages.setVisible(not shares)
        self._update()

    def _share(self, item: QTreeWidgetItem | None) -> ShareInfo | None:
        if item is None:
            return None
        wanted = item.data(0, SHARE_ROLE)
        return next((s for s in self.shares if s.share_id == wanted), None)

    def _copy_page(self) -> None:
        share = self._share(self.pages.currentItem())
        if share is not None and share.url:
            self._copy(share.url)

    def _revoke(self) -> None:
        share = self._share(self.pages.currentItem())
        if share is not None and not share.revoked:
            self.revoke_requested.emit(share.share_id)

    def revoked(self, share: ShareInfo) -> None:
        self.running = False
        self.progress.hide()
        self.status.setStyleSheet("")
        self.status.setText(self.tr("The page is taken down; its link no longer works."))
        self.set_shares([share if s.share_id == share.share_id else s for s in self.shares])
