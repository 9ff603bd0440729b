"""Workspace sync from the desktop, against a real server: connect through the dialog,
share an item after checking the preview, the background push, feedback coming home
into the editor and the library's badge, withdrawing, and a device the organisation
disconnected or a server whose key changed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlmodel import col, select

from app.forms.library import TemplateLibrary
from app.space import Space
from app.syncing.accounts import accounts, save_account
from store.records import AssetRecord
from sync.server import directory, reviews
from sync.server.models import SubmissionAsset
from tests.live_server import LiveServer, running_server
from tests.server.client import Org, make_invite, make_org
from ui.library import SHARED
from ui.main_window import MainWindow

WAIT = 20000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("ui-sync-server"), "sqlite") as live:
        yield live


def smart_plan(space: Space, title: str = "Run a retrospective") -> AssetRecord:
    template = TemplateLibrary.load().get("smart-plan")
    return space.add_asset(template.qualified_id, title,
                           {"specific": "Run our team's first retrospective.",
                            "deadline": "2026-03-01"}, template=template)  # fmt: skip


def add_feedback(server: LiveServer, submission_id: str, text: str = "",
                 decision: str | None = None) -> None:  # fmt: skip
    with server.session() as session:
        submission = reviews.submission_or_404(session, submission_id)
        reviewer = directory.user_for_email(session, "reviewer@example.org")
        reviews.add_feedback(session, submission, reviewer, "reviewer",
                             "decision" if decision else "comment", text=text,
                             decision=decision, rating=4 if decision else None)  # fmt: skip
        session.commit()


def connect_through_dialog(qtbot, window: MainWindow, server: LiveServer, org: Org,  # type: ignore[no-untyped-def]
                           address: str | None = None) -> None:  # fmt: skip
    window.sync.connect_action.trigger()
    dialog = window.sync.connect_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.device.text()  # prefilled with this computer's name
    assert not dialog.connect_button.isEnabled()
    if address is not None:
        dialog.address.setText(address)
    qtbot.keyClicks(dialog.code, make_invite(server, org))
    assert dialog.connect_button.isEnabled()
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.sync.connect_dialog is None, timeout=WAIT)
    # Connecting is followed by a first sync (which brings the submission points).
    qtbot.waitUntil(lambda: not window.sync.syncing and any(
        a.workspace_name == org.name and a.last_sync for a in window.sync.accounts),
        timeout=WAIT)  # fmt: skip


def choose(window: MainWindow, *asset_ids: str) -> None:
    table = window.library.table
    table.clearSelection()
    for asset_id in asset_ids:
        row = window.library.model.row_of(asset_id)
        table.selectionModel().select(
            window.library.model.index(row, 0),
            table.selectionModel().SelectionFlag.Select | table.selectionModel().SelectionFlag.Rows,
        )


def badge(window: MainWindow, asset_id: str) -> str:
    model = window.library.model
    return str(model.index(model.row_of(asset_id), SHARED).data())


def answer_next_box(button_text: str) -> None:
    """Click the button of the next confirmation box (it runs its own event loop)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        for button in box.buttons():
            if button.text().replace("&", "") == button_text:
                button.click()
                return

    QTimer.singleShot(0, click)


def test_connect_share_push_and_feedback_comes_home(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer, tmp_path: Path
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    org = make_org(server, mode="open")
    notes = space.add_asset("builtin/journal", "Private notes", {"entry": "not for work"})
    plan = smart_plan(space)
    space.edit_asset(plan.id, add_links=[notes.id])
    photo = tmp_path / "whiteboard.png"
    photo.write_bytes(os.urandom(120_000))
    space.attach(plan.id, photo)
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2, timeout=WAIT)
    assert window.library.table.horizontalHeader().isSectionHidden(SHARED)  # nothing shared

    connect_through_dialog(qtbot, window, server, org, address=server.url)
    assert window.sync.status_button.isVisible()

    # Share the plan: the preview shows what goes, and what stays behind.
    choose(window, plan.id)
    window.sync.share_action.trigger()
    qtbot.waitUntil(lambda: window.sync.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.disclose_dialog
    assert dialog is not None
    assert "Run a retrospective" in dialog.chosen.text()
    assert dialog.account.currentText().startswith(org.name)
    assert dialog.points.count() == 1  # the only open point is chosen for the person
    qtbot.waitUntil(lambda: dialog.preview.shown is not None, timeout=WAIT)
    text = dialog.preview.toPlainText()
    assert "Specific" in text
    assert "Run our team's first retrospective." in text
    assert "whiteboard.png — 120 kB" in text
    assert "Linked but not included: “Private notes”" in text
    assert "not for work" not in text
    assert "1 item and 1 file (120 kB) go to Q3 evidence" in dialog.summary.text()
    assert dialog.confirm_button.isEnabled()
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.sync.disclose_dialog is None, timeout=WAIT)

    # The background push delivers it; the library says so.
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Delivered", timeout=WAIT)
    assert not window.library.table.horizontalHeader().isSectionHidden(SHARED)
    assert badge(window, notes.id) == ""
    snap = window.sync.snapshot
    assert snap is not None
    [entry] = snap.entries
    assert entry.state == "delivered"
    with server.session() as session:
        sent = session.exec(select(SubmissionAsset.asset_id).where(
            col(SubmissionAsset.submission_id) == entry.submission_id)).all()  # fmt: skip
    assert list(sent) == [plan.id]  # the linked journal entry never left

    # A reviewer writes and decides; a sync brings it into the open editor.
    window.editing.open_asset(plan.id)
    qtbot.waitUntil(lambda: window.editor is not None and window.editor.record is not None,
                    timeout=WAIT)  # fmt: skip
    editor = window.editor
    assert editor is not None
    qtbot.waitUntil(lambda: any("Delivered" in t for t in editor.feedback.state_texts()),
                    timeout=WAIT)  # fmt: skip
    assert editor.feedback.rows[0].withdraw_button.isVisibleTo(editor.feedback)  # open point
    add_feedback(server, entry.submission_id, "Good plan; add a review date.")
    add_feedback(server, entry.submission_id, "Well evidenced.", decision="validated")
    window.sync.sync_action.trigger()
    qtbot.waitUntil(lambda: editor.feedback.feedback_texts() == [
        "Good plan; add a review date.", "Well evidenced."], timeout=WAIT)  # fmt: skip
    card = editor.feedback.cards[1]
    assert card.author.text().endswith(" · Reviewer")
    assert card.decision is not None
    assert card.decision.text() == "Validated"
    assert card.rating is not None
    assert card.rating.accessibleName() == "Rating: 4 of 5"
    tabs = editor.side_tabs
    assert tabs.tabText(tabs.indexOf(editor.feedback)) == "Feedback (2)"
    editor.feedback.grab()  # renders without trouble
    window.editing.leave_editor()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Validated", timeout=WAIT)


def test_withdraw_from_the_feedback_tab_where_the_point_allows(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    org = make_org(server, mode="open")
    plan = smart_plan(space, "Coach a new starter")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    window.sync.share_with_organisation([plan.id])
    qtbot.waitUntil(lambda: window.sync.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.disclose_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Delivered", timeout=WAIT)

    window.editing.open_asset(plan.id)
    qtbot.waitUntil(lambda: window.editor is not None and bool(window.editor.feedback.rows),
                    timeout=WAIT)  # fmt: skip
    editor = window.editor
    assert editor is not None
    qtbot.waitUntil(lambda: editor.feedback.rows[0].withdraw_button.isVisibleTo(editor.feedback),
                    timeout=WAIT)  # fmt: skip
    answer_next_box("Withdraw")
    editor.feedback.rows[0].withdraw_button.click()
    qtbot.waitUntil(lambda: any("Withdrawn" in t for t in editor.feedback.state_texts()),
                    timeout=WAIT)  # fmt: skip


def test_a_disconnected_device_says_so_keeps_the_outbox_and_reconnects(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    org = make_org(server, mode="open")
    plan = smart_plan(space, "Lead the quarterly review")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    [account] = accounts(space)
    with server.session() as session:
        directory.revoke_device(session, account.device_id)
        session.commit()

    window.sync.share_with_organisation([plan.id])
    qtbot.waitUntil(lambda: window.sync.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.disclose_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)
    dialog.confirm_button.click()

    banner = window.sync.banner
    qtbot.waitUntil(banner.isVisible, timeout=WAIT)
    assert banner.message.text() == (
        f"This device was disconnected by {org.name}; your outbox is kept — reconnect with a "
        "new invite."
    )
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Queued", timeout=WAIT)  # kept, waiting

    # Connect Again: the address is filled in; a new invite sends what waited.
    banner.reconnect_button.click()
    connect = window.sync.connect_dialog
    assert connect is not None
    assert connect.address.text() == server.url
    qtbot.keyClicks(connect.code, make_invite(server, org, email=account.email))
    connect.connect_button.click()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Delivered", timeout=WAIT)
    assert not banner.isVisible()


def test_a_server_key_that_changed_is_refused_with_a_warning(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    org = make_org(server)
    plan = smart_plan(space, "Present at the all-hands")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    [account] = accounts(space)
    account.server_key, account.earlier_keys = os.urandom(32).hex(), []  # pinned elsewhere
    save_account(space, account)

    window.sync.share_with_organisation([plan.id])
    qtbot.waitUntil(lambda: window.sync.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.disclose_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)
    dialog.confirm_button.click()

    banner = window.sync.banner
    qtbot.waitUntil(banner.isVisible, timeout=WAIT)
    assert "signs with a key Cairn does not trust" in banner.message.text()
    assert banner.organisations_button.isVisibleTo(banner)
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Queued", timeout=WAIT)
    with server.session() as session:
        assert not session.exec(select(SubmissionAsset).where(
            col(SubmissionAsset.asset_id) == plan.id)).all()  # fmt: skip
