"""The sync dialogs and panels on their own, with real widgets and plain data: what they
show, what they let a person do, and what they ask for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.syncing.disclosure import (
    LinkedAsset,
    Preview,
    PreviewAsset,
    PreviewAttachment,
    PreviewField,
)
from app.syncing.outbox import OutboxEntry
from app.syncing.status import AssetSyncStatus, FeedbackItem, ReceiptInfo, SubmissionState
from store.records import AssetSummary
from sync import errors
from ui.connect_dialog import ConnectDialog, server_address
from ui.disclose_dialog import DiscloseDialog
from ui.feedback_panel import FeedbackPanel
from ui.library import SHARED, LibraryPage
from ui.messages import describe, describe_account_problem
from ui.outbox_view import OutboxView
from ui.review_requests import ReviewRequestsDialog
from ui.settings_dialog import OrganisationsPage
from ui.sync_banner import SyncBanner
from ui.sync_jobs import AccountView, FeedbackView, PointView, ReviewedAsset, ReviewRequest

SOON = (datetime.now(UTC) + timedelta(days=20)).isoformat()
PAST = (datetime.now(UTC) - timedelta(days=2)).isoformat()


def account(points: tuple[PointView, ...] = (), **changes: object) -> AccountView:
    values: dict[str, object] = dict(
        id="acc-1", label="Support team (cairn.example.org)", workspace_name="Support team",
        host="cairn.example.org", server_url="https://cairn.example.org", email="sam@example.org",
        role="member", device_name="Cairn on laptop", points=points, last_sync=None,
    )  # fmt: skip
    values.update(changes)
    return AccountView(**values)  # type: ignore[arg-type]


POINTS = (
    PointView("p-closed", "Q2 evidence", "locked", PAST, True),
    PointView("p-open", "Q3 evidence", "open", SOON, True),
    PointView("p-locked", "Annual review", "locked", None, True),
)


def a_preview(point_id: str = "p-open", account_id: str = "acc-1") -> Preview:
    asset = PreviewAsset(
        asset_id="a1", version=3, title="Run a retrospective", template="SMART action plan",
        fields=(PreviewField("specific", "Specific", "markdown", "Run one <b>by March</b>.",
                             "Run one <b>by March</b>."),),
        attachments=(PreviewAttachment("f1", "whiteboard.png", 120_000, "0" * 64, "image/png"),),
        tags=(), skills=("facilitation",), status="In progress",
    )  # fmt: skip
    return Preview(
        account_id=account_id, server_url="https://cairn.example.org", workspace_id="w1",
        workspace_name="Support team", point_id=point_id, point_name="Q3 evidence",
        assets=(asset,), not_included=(LinkedAsset("a2", "Private notes", ("a1",)),),
        snapshots=(),
    )  # fmt: skip


def entry(state: str, **changes: object) -> OutboxEntry:
    values: dict[str, object] = dict(
        id=f"e-{state}", submission_id=f"s-{state}", account_id="acc-1",
        server_url="https://cairn.example.org", workspace_name="Support team", point_id="p-open",
        point_name="Q3 evidence", titles=("Run a retrospective",), asset_ids=("a1",), state=state,
        attempts=0, last_error=None, error_code=None, next_attempt=None,
        queued_at="2026-03-01T09:00:00+00:00", delivered_at=None, receipt_id=None,
        attachment_bytes=0,
    )  # fmt: skip
    values.update(changes)
    return OutboxEntry(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------- connect


def test_connect_needs_an_address_and_a_code_and_shows_it_is_working(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = ConnectDialog("Cairn on laptop")
    qtbot.addWidget(dialog)
    assert dialog.device.text() == "Cairn on laptop"
    assert not dialog.connect_button.isEnabled()
    qtbot.keyClicks(dialog.address, "cairn.example.org/")
    assert not dialog.connect_button.isEnabled()
    qtbot.keyClicks(dialog.code, " ABCD-EFGH ")
    assert dialog.connect_button.isEnabled()

    with qtbot.waitSignal(dialog.connect_requested) as asked:
        qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    assert asked.args == ["https://cairn.example.org", "ABCD-EFGH", "Cairn on laptop"]
    assert dialog.running
    assert not dialog.connect_button.isEnabled()
    assert not dialog.code.isEnabled()
    assert dialog.status.text() == "Connecting to cairn.example.org…"
    assert dialog.cancel_button.isEnabled()  # the person can always walk away

    dialog.failed(describe(errors.InviteInvalid("invite_invalid", "used", 403)), "code")
    assert dialog.status.text().startswith("That invite code does not work")
    assert dialog.code.isEnabled()
    assert dialog.connect_button.isEnabled()
    assert dialog.code.selectedText() == "ABCD-EFGH"  # ready to be typed over


def test_addresses_are_taken_as_typed_with_https_assumed() -> None:
    assert server_address(" cairn.example.org ") == "https://cairn.example.org"
    assert server_address("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


# ------------------------------------------------------------------ disclose


def test_disclose_asks_for_a_point_before_anything_can_be_confirmed(qtbot) -> None:  # type: ignore[no-untyped-def]
    other = account(id="acc-2", label="Leadership (hr.example.org)", workspace_name="Leadership")
    dialog = DiscloseDialog(["Run a retrospective"], [account(POINTS), other])
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.confirm_button.isEnabled()
    assert dialog.chosen_point() is None  # two open points: the person chooses
    closed = dialog.points.item(0)
    assert "Closed" in closed.text()
    assert not closed.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "Open, due" in dialog.points.item(1).text()
    assert "withdraw" in dialog.points.item(1).text()
    assert "cannot be withdrawn" in dialog.points.item(2).text()

    with qtbot.waitSignal(dialog.preview_requested) as asked:
        dialog.points.setCurrentRow(1)
    assert asked.args == ["acc-1", "p-open", False]
    assert not dialog.confirm_button.isEnabled()  # not until the preview is there
    dialog.show_preview(a_preview(point_id="p-locked"))  # an answer for an earlier choice
    assert not dialog.confirm_button.isEnabled()
    dialog.show_preview(a_preview())
    assert dialog.confirm_button.isEnabled()
    text = dialog.preview.toPlainText()
    assert "Specific" in text
    assert "Run one <b>by March</b>." in text
    assert "whiteboard.png — 120 kB" in text
    assert "Linked but not included: “Private notes”" in text
    assert "1 item and 1 file (120 kB) go to Q3 evidence in Support team" in dialog.summary.text()

    with qtbot.waitSignal(dialog.preview_requested) as asked:
        dialog.include_tags.setChecked(True)
    assert asked.args == ["acc-1", "p-open", True]
    dialog.show_preview(a_preview())
    with qtbot.waitSignal(dialog.confirm_requested) as confirmed:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert confirmed.args[0].point_id == "p-open"
    assert not dialog.points.isEnabled()
    dialog.queue_failed("“Run a retrospective” changed after the preview; look at the preview "
                        "again.")  # fmt: skip
    assert "changed after the preview" in dialog.status.text()
    assert dialog.points.isEnabled()
    assert not dialog.confirm_button.isEnabled()

    dialog.account.setCurrentIndex(1)
    assert dialog.no_points.text().startswith("Leadership has no submission points yet")
    assert not dialog.confirm_button.isEnabled()


def test_disclose_is_usable_from_the_keyboard(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = DiscloseDialog(["Run a retrospective"], [account(POINTS)])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.points_label.buddy() is dialog.points
    assert dialog.account_label.buddy() is dialog.account
    dialog.points.setFocus()
    with qtbot.waitSignal(dialog.preview_requested):
        qtbot.keyClick(dialog.points, Qt.Key.Key_Down)
        qtbot.keyClick(dialog.points, Qt.Key.Key_Down)
    assert dialog.chosen_point() in ("p-open", "p-locked")


# ------------------------------------------------------------------ feedback


def test_the_feedback_tab_shows_states_reasons_and_the_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = FeedbackPanel()
    qtbot.addWidget(panel)
    panel.resize(340, 700)
    panel.show()
    failed = entry("failed", last_error="the deadline of 'Q3 evidence' has passed")
    receipt = ReceiptInfo("r1", "s-delivered", "Support team", "Q3 evidence", "received",
                          "2026-03-02T10:00:00+00:00", "0" * 64, "key")  # fmt: skip
    delivered = entry("delivered", receipt_id="r1", delivered_at="2026-03-02T10:00:00+00:00")
    comment = FeedbackItem("f1", "s-delivered", "Support team", "comment", "Alex", "reviewer",
                           "Good plan; add a review date.", None, None, None,
                           "2026-03-03T10:00:00+00:00")  # fmt: skip
    decision = FeedbackItem("f2", "s-delivered", "Support team", "decision", "Alex", "reviewer",
                            "Well evidenced.", "validated", 4, "Clarity",
                            "2026-03-04T10:00:00+00:00")  # fmt: skip
    status = AssetSyncStatus(
        "a1", (SubmissionState("s-failed", "Support team", "Q3 evidence", "failed", failed, None),
               SubmissionState("s-delivered", "Support team", "Q3 evidence", "delivered",
                               delivered, receipt)),
        (comment, decision), decision, (), (),
    )  # fmt: skip
    with qtbot.waitSignal(panel.count_changed) as counted:
        panel.set_view(FeedbackView("a1", status, frozenset({"s-delivered"}),
                                    {"s-delivered": "r1"}))  # fmt: skip
    assert counted.args == [2]
    first, second = panel.rows
    assert first.state.text() == "Not sent: The deadline of 'Q3 evidence' has passed."
    assert not first.retry_button.isHidden()
    assert not first.discard_button.isHidden()
    assert first.withdraw_button.isHidden()
    with qtbot.waitSignal(panel.retry_requested) as retried:
        qtbot.mouseClick(first.retry_button, Qt.MouseButton.LeftButton)
    assert retried.args == ["e-failed"]
    assert second.state.text().startswith("Delivered ")
    assert "receipt is kept" in second.state.text()
    assert second.retry_button.isHidden()
    with qtbot.waitSignal(panel.withdraw_requested) as withdrawn:
        qtbot.mouseClick(second.withdraw_button, Qt.MouseButton.LeftButton)
    assert withdrawn.args == ["r1", "Q3 evidence"]
    assert panel.feedback_texts() == ["Good plan; add a review date.", "Well evidenced."]
    card = panel.cards[1]
    assert card.author.text() == "Alex · Reviewer"
    assert card.decision is not None
    assert card.decision.text() == "Validated"
    assert card.rating is not None
    assert card.rating.text() == "★★★★☆"
    assert panel.empty is None
    badge = panel.content.findChild(QLabel, "decision_badge")
    assert isinstance(badge, QLabel)
    assert badge.text() == "Validated"

    first.show_progress("uploading", 50_000, 100_000, "")
    assert first.state.text() == "Sending files… 50 kB of 100 kB"


def test_an_asset_never_shared_says_what_sharing_does(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = FeedbackPanel()
    qtbot.addWidget(panel)
    panel.set_view(None, saved=False)
    assert panel.empty is not None
    assert panel.empty.text() == (
        "Save this item first; then it can be shared.")
    assert not panel.share_button.isEnabled()
    panel.set_view(None, saved=True)
    assert panel.empty is not None
    assert panel.empty.text().startswith("Not shared with an organisation yet.")
    assert "you see exactly what is sent first" in panel.empty.text()
    assert panel.share_button.isEnabled()
    assert panel.public_button.isEnabled()


# -------------------------------------------------------------------- outbox


def test_the_outbox_lists_every_entry_and_offers_retry_and_discard(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = OutboxView()
    qtbot.addWidget(view)
    view.show()
    assert view.empty.isVisible()
    assert not view.list.isVisible()
    waiting = entry("queued", last_error="the server could not be reached",
                    next_attempt="2026-03-01T09:05:00+00:00", queued_at="2026-03-01T09:00:00+00:00")
    refused = entry("failed", last_error="the deadline of 'Q3 evidence' has passed",
                    queued_at="2026-03-01T08:00:00+00:00")
    done = entry("delivered", delivered_at="2026-02-01T09:00:00+00:00",
                 queued_at="2026-02-01T08:00:00+00:00")
    view.set_entries([done, refused, waiting])  # oldest first, as read
    assert view.list.isVisible()
    assert not view.empty.isVisible()
    rows = [view.list.topLevelItem(n) for n in range(3)]
    assert [r.text(2) for r in rows if r] == ["Queued", "Failed", "Delivered"]  # newest first
    assert rows[0] is not None
    assert "Next try" in rows[0].text(3)
    assert view.status.text() == ("1 waiting to be sent; 1 not sent (see why, then Retry or "
                                  "Discard)")  # fmt: skip

    assert not view.retry_button.isEnabled()
    assert not view.discard_button.isEnabled()
    assert rows[2] is not None
    view.list.setCurrentItem(rows[2])  # delivered: nothing to do
    assert not view.retry_button.isEnabled()
    assert not view.discard_button.isEnabled()
    assert rows[1] is not None
    view.list.setCurrentItem(rows[1])
    with qtbot.waitSignal(view.retry_requested) as retried:
        qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
    assert retried.args == [["e-failed"]]
    with qtbot.waitSignal(view.discard_requested) as discarded:
        qtbot.mouseClick(view.discard_button, Qt.MouseButton.LeftButton)
    assert discarded.args == ["e-failed"]


# ------------------------------------------------------------------- library


def test_the_library_shows_a_badge_per_asset_and_offers_sharing(qtbot) -> None:  # type: ignore[no-untyped-def]
    page = LibraryPage()
    qtbot.addWidget(page)
    page.resize(1100, 600)
    page.show()

    def summary(asset_id: str, title: str) -> AssetSummary:
        return AssetSummary(asset_id, 1, title, "builtin/journal", None, [], [],
                            "2026-03-01T09:00:00+00:00", "2026-03-01T09:00:00+00:00")  # fmt: skip

    page.set_assets([summary("a", "Alpha"), summary("b", "Beta"), summary("c", "Gamma")])
    header = page.table.horizontalHeader()
    assert header.isSectionHidden(SHARED)
    page.set_badges({"a": "needs_more_evidence", "b": "failed"})
    assert not header.isSectionHidden(SHARED)
    model = page.model

    def shown(asset_id: str, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return model.index(model.row_of(asset_id), SHARED).data(role)

    assert shown("a") == "Needs evidence"
    assert shown("a", Qt.ItemDataRole.ToolTipRole) == "Needs more evidence"
    assert shown("b") == "Failed"
    assert shown("c") == ""
    model.sort(SHARED, Qt.SortOrder.AscendingOrder)
    assert [model.summary(n).id for n in range(3)] == ["b", "a", "c"]  # attention first

    page.table.selectRow(model.row_of("a"))
    page.table.selectionModel().select(
        model.index(model.row_of("c"), 0),
        page.table.selectionModel().SelectionFlag.Select
        | page.table.selectionModel().SelectionFlag.Rows,
    )
    assert sorted(page.chosen_ids()) == ["a", "c"]
    rect = page.table.visualRect(model.index(model.row_of("a"), 0))
    page.table.customContextMenuRequested.emit(rect.center())
    assert page.menu is not None
    share = next(a for a in page.menu.actions() if a.text().startswith("Share with"))
    with qtbot.waitSignal(page.share_requested) as asked:
        share.trigger()
    assert sorted(asked.args[0]) == ["a", "c"]
    page.menu.close()
    page.set_badges({})
    assert header.isSectionHidden(SHARED)


# --------------------------------------------------- messages, banner, settings


@pytest.mark.parametrize(
    ("error", "start"),
    [
        (errors.ServerUnreachable("refused"), "The server could not be reached."),
        (errors.InvalidServerAddress("x"), "That is not a server address."),
        (errors.UnexpectedAnswer("html"), "Something answers at that address, but it is not"),
        (errors.CertificateRejected("x"), "The server's security certificate is not trusted"),
        (errors.ServerKeyChanged(b"a" * 32, b"b" * 32), "The server's signing key has changed"),
        (errors.BadServerSignature("bad"), "The server sent something without a valid"),
        (errors.TokenRevoked("token_revoked", "revoked", 401), "The organisation has disconnected"),
        (errors.TokenExpired("token_expired", "expired", 401), "This device's connection has"),
        (errors.ServerBusy("busy", status=503), "The server is busy."),
        (errors.ServerFailed("boom", status=500),
         "The server had a problem of its own (error 500)"),
        (errors.Rejected("point_locked", "'Q3' is locked on submission", 409),
         "The server refused: 'Q3' is locked on submission."),
    ],
)
def test_sync_errors_read_as_sentences(error: Exception, start: str) -> None:
    assert describe(error).startswith(start)
    assert describe(error).endswith(".")


def test_the_banner_names_the_organisation_and_what_to_do(qtbot) -> None:  # type: ignore[no-untyped-def]
    banner = SyncBanner()
    qtbot.addWidget(banner)
    revoked = account(problem_code="token_revoked", problem_message="whatever")
    banner.set_accounts([account(id="ok")])
    assert banner.isHidden()  # no problem, no banner
    banner.set_accounts([account(id="ok"), revoked])
    assert not banner.isHidden()
    assert banner.message.text() == describe_account_problem("token_revoked", "Support team")
    assert banner.message.text() == ("This device was disconnected by Support team; your outbox "
                                     "is kept — reconnect with a new invite.")  # fmt: skip
    assert not banner.reconnect_button.isHidden()
    assert banner.organisations_button.isHidden()
    with qtbot.waitSignal(banner.reconnect_requested) as asked:
        banner.reconnect_button.click()
    assert asked.args == ["https://cairn.example.org"]
    banner.dismiss_button.click()
    assert banner.isHidden()
    banner.set_accounts([revoked])
    assert banner.isHidden()  # dismissed stays dismissed for that problem
    banner.set_accounts([account(problem_code="server_key_changed")])
    assert not banner.isHidden()
    assert "signs with a key Cairn does not trust" in banner.message.text()
    assert banner.reconnect_button.isHidden()
    assert not banner.organisations_button.isHidden()
    bad = describe_account_problem("bad_signature", "Support team")
    assert bad.startswith("Support team sent something without a valid signature")


def test_the_organisations_tab_lists_accounts_and_asks_to_disconnect(qtbot) -> None:  # type: ignore[no-untyped-def]
    page = OrganisationsPage(unlocked=True)
    qtbot.addWidget(page)
    page.show()
    assert page.empty.isVisible()
    assert "invite code" in page.empty.text()
    assert page.connect_button.isEnabled()
    assert not page.disconnect_button.isEnabled()
    page.set_accounts([account(last_sync="2026-03-01T09:00:00+00:00"),
                       account(id="acc-2", workspace_name="Leadership",
                               problem_code="token_revoked")])  # fmt: skip
    assert page.list.topLevelItemCount() == 2
    first, second = page.list.topLevelItem(0), page.list.topLevelItem(1)
    assert first is not None
    assert second is not None
    assert [first.text(n) for n in range(3)] == ["Support team", "cairn.example.org",
                                                 "sam@example.org"]  # fmt: skip
    assert second.text(3) == "Stopped"
    page.list.setCurrentItem(second)
    assert page.problem.isVisible()
    assert "disconnected by Leadership" in page.problem.text()
    with qtbot.waitSignal(page.disconnect_requested) as asked:
        qtbot.mouseClick(page.disconnect_button, Qt.MouseButton.LeftButton)
    assert asked.args == ["acc-2"]

    locked = OrganisationsPage(unlocked=False)
    qtbot.addWidget(locked)
    assert not locked.connect_button.isEnabled()
    assert locked.empty.text().startswith("Unlock a space")


def test_review_requests_show_the_submission_and_need_a_review_to_send(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = ReviewRequestsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.empty.isVisible()
    assert not dialog.send_button.isVisible()
    asset = ReviewedAsset("Plan: calmer incident calls", "SMART action plan",
                          (("Approach", "Use a <i>checklist</i>."),), (("steps.pdf", 48_000),))
    done = ReviewedAsset("Reflection: the outage", "Structured reflection (Gibbs)", (), ())
    dialog.set_requests([
        ReviewRequest("r2", "acc-1", "Support team", "s2", "2026-03-02T09:00:00+00:00", (done,),
                      reviewed_at="2026-03-03T09:00:00+00:00"),
        ReviewRequest("r1", "acc-1", "Support team", "s1", "2026-03-01T09:00:00+00:00", (asset,)),
    ])  # fmt: skip
    assert dialog.chosen() is not None
    assert dialog.chosen().id == "r1"  # type: ignore[union-attr]  # the first still to write
    text = dialog.submission.toPlainText()
    assert "Use a <i>checklist</i>." in text
    assert "steps.pdf — 48 kB" in text
    assert not dialog.send_button.isEnabled()
    qtbot.keyClicks(dialog.text, "Clear steps.")
    dialog.rating.setCurrentIndex(dialog.rating.findData(5))
    with qtbot.waitSignal(dialog.send_requested) as sent:
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    assert sent.args == ["r1", "Clear steps.", 5]
    assert not dialog.send_button.isEnabled()  # once
    dialog.failed("The server could not be reached.")
    assert dialog.send_button.isEnabled()
