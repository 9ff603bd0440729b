"""Peer-review requests: colleagues' submissions this person was asked to review, each
shown as it was sent, with a box for the review and an optional rating. The sync
controller sends the review (a network job) and reports back."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.connections import section_heading
from ui.disclose_dialog import PreviewView
from ui.library import friendly_time
from ui.sync_jobs import ReviewRequest
from ui.theme import error_style, hint_style

REQUEST_ROLE = Qt.ItemDataRole.UserRole


class ReviewRequestsDialog(QDialog):
    """The requests on the left; the chosen one, the review and Send on the right."""

    send_requested = Signal(str, str, object)  # request id, text, rating (int or None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ReviewRequestsDialog")
        self.setWindowTitle(self.tr("Review Requests"))
        self.requests: list[ReviewRequest] = []
        self.running = False

        self.list = QListWidget(self)
        self.list.setObjectName("review_requests")
        self.list.setAccessibleName(self.tr("Review requests"))
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.empty = QLabel(self.tr(
            "No review requests.\n\nWhen your organisation asks you to review a colleague's "
            "submission, it arrives here with the next sync."), self)  # fmt: skip
        self.empty.setObjectName("review_requests_empty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(hint_style())
        self.submission = PreviewView(self)
        self.submission.setObjectName("review_submission")
        self.submission.setAccessibleName(self.tr("The submission to review"))
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("review_text")
        self.text.setAccessibleName(self.tr("Your review"))
        self.text.setPlaceholderText(self.tr("What works, and what would make it stronger?"))
        self.text.setTabChangesFocus(True)
        self.text_label = QLabel(self.tr("Your &review"), self)
        self.text_label.setBuddy(self.text)
        self.rating = QComboBox(self)
        self.rating.setObjectName("review_rating")
        self.rating.addItem(self.tr("No rating"), None)
        for stars in range(1, 6):
            self.rating.addItem("★" * stars + "☆" * (5 - stars), stars)
            self.rating.setItemData(stars, self.tr("{n} of 5").format(n=stars),
                                    Qt.ItemDataRole.AccessibleTextRole)  # fmt: skip
        self.rating_label = QLabel(self.tr("R&ating"), self)
        self.rating_label.setBuddy(self.rating)
        self.status = QLabel(self)
        self.status.setObjectName("review_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.send_button = self.buttons.addButton(self.tr("&Send Review"),
                                                  QDialogButtonBox.ButtonRole.ActionRole)
        self.send_button.setObjectName("review_send")

        self.list.currentItemChanged.connect(lambda *_: self._show_chosen())
        self.text.textChanged.connect(self._update)
        self.send_button.clicked.connect(self._send)
        self.buttons.rejected.connect(self.reject)

        right = QWidget(self)
        self.detail = right
        rating_row = QHBoxLayout()
        rating_row.addWidget(self.rating_label)
        rating_row.addWidget(self.rating)
        rating_row.addStretch(1)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(section_heading(self.tr("The submission"), right))
        right_layout.addWidget(self.submission, 3)
        right_layout.addWidget(self.text_label)
        right_layout.addWidget(self.text, 1)
        right_layout.addLayout(rating_row)
        right_layout.addWidget(self.status)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.empty, 1)
        splitter = QSplitter(self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([250, 550])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.buttons)
        self.resize(860, 600)
        self.set_requests([])

    def set_requests(self, requests: list[ReviewRequest] | tuple[ReviewRequest, ...]) -> None:
        """The requests as read (newest first), keeping the one chosen."""
        chosen = self.chosen()
        self.requests = list(requests)
        self.list.blockSignals(True)
        self.list.clear()
        for request in self.requests:
            state = (self.tr("Reviewed {when}").format(when=friendly_time(request.reviewed_at))
                     if request.reviewed_at else self.tr("To review"))  # fmt: skip
            item = QListWidgetItem(f"{request.titles or self.tr('Untitled')}\n"
                                   f"{request.workspace_name} · {state}", self.list)  # fmt: skip
            item.setData(REQUEST_ROLE, request.id)
            if chosen is not None and chosen.id == request.id:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            first = next((n for n, r in enumerate(self.requests) if not r.reviewed_at), 0)
            self.list.setCurrentRow(first)
        self.list.blockSignals(False)
        self.list.setVisible(bool(self.requests))
        self.detail.setVisible(bool(self.requests))
        self.send_button.setVisible(bool(self.requests))
        self.empty.setVisible(not self.requests)
        now = self.chosen()
        if chosen is None or now is None or chosen.id != now.id:
            self._show_chosen()
        self._update()

    def chosen(self) -> ReviewRequest | None:
        item = self.list.currentItem()
        wanted = item.data(REQUEST_ROLE) if item is not None else None
        return next((r for r in self.requests if r.id == wanted), None)

    def _show_chosen(self) -> None:
        request = self.chosen()
        self.status.clear()
        self.text.clear()
        self.rating.setCurrentIndex(0)
        if request is None:
            self.submission.clear_preview(self.tr("Choose a request to read the submission."))
        else:
            self.submission.show_assets(request.assets)
            if request.reviewed_at:
                self.status.setText(self.tr("You sent a review {when}; sending again replaces "
                                            "it.").format(when=friendly_time(request.reviewed_at)))
        self._update()

    def _update(self) -> None:
        ready = self.chosen() is not None and bool(self.text.toPlainText().strip())
        self.send_button.setEnabled(ready and not self.running)
        for widget in (self.text, self.rating):
            widget.setEnabled(self.chosen() is not None and not self.running)

    def _send(self) -> None:
        request = self.chosen()
        text = self.text.toPlainText().strip()
        if request is None or not text or self.running:
            return
        self.running = True
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Sending your review…"))
        self._update()
        self.send_requested.emit(request.id, text, self.rating.currentData())

    def sent(self, request: ReviewRequest) -> None:
        self.running = False
        self.set_requests([request if r.id == request.id else r for r in self.requests])
        self.status.setStyleSheet("")
        self.status.setText(self.tr("Sent. {org} has your review.").format(
            org=request.workspace_name))  # fmt: skip
        self._update()

    def failed(self, message: str) -> None:
        self.running = False
        self.status.setStyleSheet(error_style())
        self.status.setText(message)
        self._update()
