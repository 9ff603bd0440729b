"""The editor's Feedback tab: where the asset was sent and what became of it (queued,
sending, delivered with its receipt, failed with the reason), the feedback thread with
decisions and ratings, and its public pages. It requests; the sync controller acts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.syncing.status import FeedbackItem, SubmissionState
from ui.attachments import human_size
from ui.badges import badge_label, badge_style
from ui.connections import section_heading
from ui.library import friendly_time
from ui.messages import as_sentence
from ui.sync_jobs import FeedbackView
from ui.theme import error_style, hint_style

ROLE_LABELS = {"reviewer": "Reviewer", "admin": "Admin", "peer": "Peer reviewer"}


def _wrapped(text: str, parent: QWidget, style: str = "") -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if style:
        label.setStyleSheet(style)
    return label


def _badge(kind: str, parent: QWidget) -> QLabel:
    label = QLabel(badge_label(kind), parent)
    label.setObjectName(f"badge_{kind}")
    label.setStyleSheet(badge_style(kind))
    return label


class SubmissionRow(QFrame):
    """One submission of the asset: where to, its state, and what can be done."""

    def __init__(self, submission: SubmissionState, withdrawable: bool, receipt_id: str | None,
                 panel: FeedbackPanel, parent: QWidget) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("submission_row")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.submission = submission
        entry = submission.entry
        self.entry_id = entry.id if entry is not None else None

        self.heading = _wrapped(self.tr("{point} · {org}").format(
            point=submission.point_name or self.tr("Submission"),
            org=submission.workspace_name), self)  # fmt: skip
        font = self.heading.font()
        font.setWeight(font.Weight.DemiBold)
        self.heading.setFont(font)
        self.badge = _badge(submission.state, self)
        self.state = _wrapped(self._state_text(), self)
        self.state.setObjectName("submission_state")
        self.state.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if submission.state == "failed":
            self.state.setStyleSheet(error_style())
        self.progress = QProgressBar(self)
        self.progress.setObjectName("submission_progress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.setVisible(submission.state == "sending")
        self.progress.setRange(0, 0)
        self.retry_button = QPushButton(self.tr("&Retry"), self)
        self.retry_button.setObjectName("retry_button")
        self.retry_button.setVisible(submission.state == "failed" or (
            submission.state == "queued" and bool(entry and entry.last_error)))  # fmt: skip
        self.discard_button = QPushButton(self.tr("Discard…"), self)
        self.discard_button.setObjectName("discard_button")
        self.discard_button.setVisible(submission.state in ("queued", "failed"))
        self.withdraw_button = QPushButton(self.tr("&Withdraw…"), self)
        self.withdraw_button.setObjectName("withdraw_button")
        self.withdraw_button.setVisible(withdrawable and receipt_id is not None)

        if self.entry_id is not None:
            entry_id = self.entry_id
            self.retry_button.clicked.connect(lambda: panel.retry_requested.emit(entry_id))
            self.discard_button.clicked.connect(lambda: panel.discard_requested.emit(entry_id))
        if receipt_id is not None:
            point = submission.point_name
            self.withdraw_button.clicked.connect(
                lambda: panel.withdraw_requested.emit(receipt_id, point))

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.discard_button, self.withdraw_button, self.retry_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        if any(not b.isHidden() for b in (self.retry_button, self.discard_button,
                                          self.withdraw_button)):  # fmt: skip
            layout.addLayout(buttons)

    def _state_text(self) -> str:
        submission, entry = self.submission, self.submission.entry
        state = submission.state
        if state == "delivered" and submission.receipt is not None:
            return self.tr("Delivered {when}. The server's signed receipt is kept.").format(
                when=friendly_time(submission.receipt.received_at))  # fmt: skip
        if state == "withdrawn":
            return self.tr("Withdrawn: reviewers no longer see it.")
        if state == "sending":
            return self.tr("Sending…")
        if state == "failed":
            reason = submission.reason or self.tr("the server refused it")
            return self.tr("Not sent: {reason}").format(reason=as_sentence(reason))
        size = entry.attachment_bytes if entry else 0
        files = self.tr(" with {size} of files").format(size=human_size(size)) if size else ""
        if entry is not None and entry.last_error:
            when = friendly_time(entry.next_attempt) if entry.next_attempt else ""
            text = self.tr("Waiting to be sent{files}: {reason}").format(
                files=files, reason=as_sentence(entry.last_error))  # fmt: skip
            return text + (" " + self.tr("Next try {when}.").format(when=when) if when else "")
        return self.tr("Queued{files}; it is sent in the background when the server can be "
                       "reached.").format(files=files)  # fmt: skip

    def show_progress(self, phase: str, done: int, total: int, message: str) -> None:
        if phase in ("uploading", "submitting"):
            self.progress.show()
            if phase == "uploading" and total > 0:
                self.progress.setRange(0, total)
                self.progress.setValue(min(done, total))
                self.state.setText(self.tr("Sending files… {done} of {total}").format(
                    done=human_size(done), total=human_size(total)))  # fmt: skip
            else:
                self.progress.setRange(0, 0)
                self.state.setText(self.tr("Sending the signed submission…"))
            self.badge.setText(badge_label("sending"))
            self.badge.setStyleSheet(badge_style("sending"))



class FeedbackCard(QFrame):
    """One piece of feedback: who, in what role, when; the decision and rating; the text."""

    def __init__(self, item: FeedbackItem, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("feedback_card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        role = self.tr(ROLE_LABELS.get(item.author_role, item.author_role.capitalize()))
        self.author = _wrapped(self.tr("{author} · {role}").format(
            author=item.author or self.tr("Someone"), role=role), self)  # fmt: skip
        self.author.setObjectName("feedback_author")
        font = self.author.font()
        font.setWeight(font.Weight.DemiBold)
        self.author.setFont(font)
        self.when = _wrapped(friendly_time(item.created_at), self, hint_style())
        self.when.setObjectName("feedback_time")
        self.decision = _badge(item.decision, self) if item.decision else None
        self.rating: QLabel | None = None
        if item.rating is not None:
            stars = "★" * item.rating + "☆" * (5 - item.rating)
            self.rating = QLabel(stars, self)
            self.rating.setObjectName("feedback_rating")
            self.rating.setAccessibleName(self.tr("Rating: {n} of 5").format(n=item.rating))
            self.rating.setToolTip(self.tr("Rating: {n} of 5").format(n=item.rating)
                                   + (f" · {item.rubric}" if item.rubric else ""))  # fmt: skip
        self.text = _wrapped(item.text, self) if item.text else None
        if self.text is not None:
            self.text.setObjectName("feedback_text")
            self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        layout.addWidget(self.author)
        layout.addWidget(self.when)
        if self.decision is not None or self.rating is not None:
            row = QHBoxLayout()
            if self.decision is not None:
                row.addWidget(self.decision)
            if self.rating is not None:
                row.addWidget(self.rating)
            row.addStretch(1)
            layout.addLayout(row)
        if self.text is not None:
            layout.addWidget(self.text)


class FeedbackPanel(QWidget):
    """Shows a ``FeedbackView``; buttons request, the controller decides."""

    share_requested = Signal()
    share_publicly_requested = Signal()
    retry_requested = Signal(str)  # outbox entry id
    discard_requested = Signal(str)  # outbox entry id
    withdraw_requested = Signal(str, str)  # receipt id, point name
    count_changed = Signal(int)  # pieces of feedback shown (for the tab's title)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FeedbackPanel")
        self.view: FeedbackView | None = None
        self.rows: list[SubmissionRow] = []
        self.cards: list[FeedbackCard] = []
        self.empty: QLabel | None = None  # the hint shown when there is nothing yet

        self.content = QWidget(self)
        self.content.setObjectName("feedback_content")
        self.column = QVBoxLayout(self.content)
        self.column.setContentsMargins(0, 4, 4, 4)
        self.column.setSpacing(6)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self.content)
        self.share_button = QPushButton(self.tr("Share with an &Organisation…"), self)
        self.share_button.setObjectName("feedback_share")
        self.public_button = QPushButton(self.tr("Share &Publicly…"), self)
        self.public_button.setObjectName("feedback_public")

        self.share_button.clicked.connect(self.share_requested)
        self.public_button.clicked.connect(self.share_publicly_requested)

        buttons = QHBoxLayout()
        buttons.addWidget(self.share_button)
        buttons.addWidget(self.public_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area, 1)
        layout.addLayout(buttons)
        self.set_view(None)

    # -------------------------------------------------------------- showing

    def set_view(self, view: FeedbackView | None, *, saved: bool = True) -> None:
        """Show what the space knows about the asset (None: nothing yet)."""
        self.view = view
        self._clear()
        self.share_button.setEnabled(saved)
        self.public_button.setEnabled(saved)
        status = view.status if view else None
        if status is None or not (status.submissions or status.feedback or status.shares):
            hint = (self.tr("Not shared with an organisation yet.\n\nShare it to ask for "
                            "feedback: you see exactly what is sent first. What reviewers "
                            "say, and their decision, appears here.") if saved
                    else self.tr("Save this item first; then it can be shared."))  # fmt: skip
            self.empty = _wrapped(hint, self.content, hint_style())
            self.empty.setObjectName("feedback_empty")
            self.column.addWidget(self.empty)
            self.column.addStretch(1)
            self.count_changed.emit(0)
            return
        assert view is not None
        if status.decision is not None and status.decision.decision:
            self._heading(self.tr("Decision"))
            decision = status.decision
            row = QHBoxLayout()
            badge = _badge(decision.decision or "", self.content)
            badge.setObjectName("decision_badge")
            row.addWidget(badge)
            who = _wrapped(self.tr("{author}, {when}").format(
                author=decision.author, when=friendly_time(decision.created_at)),
                self.content, hint_style())  # fmt: skip
            row.addWidget(who, 1)
            self.column.addLayout(row)
        if status.submissions:
            self._heading(self.tr("Shared with"))
            for submission in status.submissions:
                row_widget = SubmissionRow(
                    submission, submission.submission_id in view.withdrawable,
                    view.receipts.get(submission.submission_id), self, self.content)  # fmt: skip
                self.rows.append(row_widget)
                self.column.addWidget(row_widget)
        self._heading(self.tr("Feedback"))
        if status.feedback:
            for item in status.feedback:
                card = FeedbackCard(item, self.content)
                self.cards.append(card)
                self.column.addWidget(card)
        else:
            none = _wrapped(self.tr("No feedback yet. It appears here after the next sync once "
                                    "a reviewer has written."), self.content, hint_style())
            none.setObjectName("feedback_none")
            self.column.addWidget(none)
        live = [s for s in status.shares if not s.revoked]
        if status.shares:
            self._heading(self.tr("Public pages"))
            text = (self.tr("1 public page is live.") if len(live) == 1 else
                    self.tr("{n} public pages are live.").format(n=len(live)))  # fmt: skip
            self.column.addWidget(_wrapped(text, self.content))
            for comment in status.share_comments:
                note = _wrapped(self.tr("{author} commented: {text}").format(
                    author=comment.author_name or self.tr("A reader"), text=comment.text),
                    self.content)  # fmt: skip
                note.setObjectName("share_comment")
                self.column.addWidget(note)
        self.column.addStretch(1)
        self.count_changed.emit(len(status.feedback))

    def _heading(self, text: str) -> None:
        heading = section_heading(text, self.content)
        if self.column.count():
            self.column.addSpacing(6)
        self.column.addWidget(heading)

    def _clear(self) -> None:
        self.rows, self.cards, self.empty = [], [], None
        _empty_layout(self.column)

    def show_progress(self, entry_id: str, phase: str, done: int, total: int,
                      message: str = "") -> None:  # fmt: skip
        for row in self.rows:
            if row.entry_id == entry_id:
                row.show_progress(phase, done, total, message)

    def state_texts(self) -> list[str]:
        """What each submission row says (tests, accessibility checks)."""
        return [row.state.text() for row in self.rows]

    def feedback_texts(self) -> list[str]:
        return [card.text.text() for card in self.cards if card.text is not None]


def _empty_layout(layout: QLayout) -> None:
    """Take everything out of a layout, deleting its widgets and inner layouts' widgets."""
    while layout.count():
        item = layout.takeAt(0)
        if item is None:
            continue
        widget, inner = item.widget(), item.layout()
        if widget is not None:
            widget.deleteLater()
        elif inner is not None:
            _empty_layout(inner)
            inner.deleteLater()
