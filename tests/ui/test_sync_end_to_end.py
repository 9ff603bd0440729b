"""Workspace sync from the desktop, against a real server: connect through the dialog,
share an item after checking the preview, the background push, feedback coming home
into the editor and the library's badge, withdrawing, and a device the organisation
disconnected or a server whose key changed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlmodel import col, select

from app.forms.library import TemplateLibrary, organisation_template_root
from app.space import Space
from app.syncing.accounts import accounts, save_account
from store.records import AssetRecord
from sync.server import directory, resources, reviews
from sync.server.models import Membership, Submission, SubmissionAsset
from tests.conftest import PASSPHRASE
from tests.live_server import REPO, LiveServer, running_server
from tests.server.client import Org, join, make_invite, make_org, snapshot
from ui.editor import TemplatePicker
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
        boxes = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QMessageBox) and w.isVisible()]  # fmt: skip
        if not boxes:
            QTimer.singleShot(20, click)
            return
        (button,) = [b for b in boxes[-1].buttons() if b.text().replace("&", "") == button_text]
        button.click()

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
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.sharing.disclose_dialog
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
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is None, timeout=WAIT)

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
    window.sync.sync_action.trigger()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Feedback", timeout=WAIT)
    assert editor.feedback.feedback_texts() == ["Good plan; add a review date."]
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

    # From the editor: what is on screen is saved first, and that is what is shown.
    window.editing.open_asset(plan.id)
    qtbot.waitUntil(lambda: window.editor is not None, timeout=WAIT)
    editor = window.editor
    assert editor is not None
    assert editor.share_button.isEnabled()
    editor.title.setText("Coach a new starter well")
    editor.title.textEdited.emit("Coach a new starter well")
    assert editor.dirty
    editor.share_org_action.trigger()
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.sharing.disclose_dialog
    assert dialog is not None
    assert "“Coach a new starter well”" in dialog.chosen.text()
    assert not editor.dirty
    qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)
    assert "Coach a new starter well" in dialog.preview.toPlainText()
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Delivered", timeout=WAIT)
    qtbot.waitUntil(lambda: bool(editor.feedback.rows), timeout=WAIT)
    qtbot.waitUntil(lambda: editor.feedback.rows[0].withdraw_button.isVisibleTo(editor.feedback),
                    timeout=WAIT)  # fmt: skip
    answer_next_box("Withdraw")
    editor.feedback.rows[0].withdraw_button.click()
    qtbot.waitUntil(lambda: any("Withdrawn" in t for t in editor.feedback.state_texts()),
                    timeout=WAIT)  # fmt: skip
    assert editor.feedback.rows[0].badge.text() == "Withdrawn"
    assert editor.feedback.rows[0].withdraw_button.isHidden()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Withdrawn", timeout=WAIT)


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

    window.sync.sharing.share_with_organisation([plan.id])
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.sharing.disclose_dialog
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

    window.sync.sharing.share_with_organisation([plan.id])
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.sharing.disclose_dialog
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
    assert window.sync.status_button.text() == "Sync stopped"

    # The way out is in Preferences: the tab opens with the workspace and what is wrong.
    banner.organisations_button.click()
    settings = window.settings_dialog
    assert settings is not None
    assert settings.tabs.currentWidget() is settings.organisations
    qtbot.waitUntil(lambda: settings.organisations.problem.isVisible(), timeout=WAIT)
    assert "signs with a key Cairn does not trust" in settings.organisations.problem.text()
    settings.close()


def test_a_refused_submission_shows_why_and_can_be_retried_or_discarded(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    org = make_org(server, mode="locked")  # one final submission per member
    first = smart_plan(space, "First try")
    second = smart_plan(space, "Second try")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 2, timeout=WAIT)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    for plan in (first, second):
        window.sync.sharing.share_with_organisation([plan.id])
        qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
        dialog = window.sync.sharing.disclose_dialog
        assert dialog is not None
        assert "cannot be withdrawn" in dialog.points.item(0).text()
        qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)
        dialog.confirm_button.click()
        qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is None, timeout=WAIT)
        qtbot.waitUntil(lambda p=plan: badge(window, p.id) in ("Delivered", "Failed"),
                        timeout=WAIT)  # fmt: skip
    assert badge(window, first.id) == "Delivered"
    assert badge(window, second.id) == "Failed"
    assert window.sync.status_button.text() == "1 not sent"

    window.editing.open_asset(second.id)
    qtbot.waitUntil(lambda: window.editor is not None and bool(window.editor.feedback.rows),
                    timeout=WAIT)  # fmt: skip
    editor = window.editor
    assert editor is not None
    [row] = editor.feedback.rows
    assert "locked on submission" in row.state.text()
    assert not row.retry_button.isHidden()
    assert row.withdraw_button.isHidden()  # a locked point keeps what it has
    with qtbot.waitSignal(window.sync.message, timeout=WAIT,
                          check_params_cb=lambda text: text.startswith("Queued again")):
        row.retry_button.click()  # refused again, for the same reason

    def refused_again() -> bool:
        snap = window.sync.snapshot
        return not window.sync.syncing and snap is not None and any(
            e.state == "failed" and e.asset_ids == (second.id,) for e in snap.entries)

    qtbot.waitUntil(refused_again, timeout=WAIT)
    window.editing.leave_editor()

    window.sync.outbox_action.trigger()
    view = window.sync.outbox_view
    assert view is not None
    qtbot.waitUntil(lambda: view.list.topLevelItemCount() == 2, timeout=WAIT)
    rows = [view.list.topLevelItem(n) for n in range(2)]
    [failed] = [row for row in rows if row is not None and row.text(2) == "Failed"]
    view.list.setCurrentItem(failed)
    answer_next_box("Cancel")
    view.discard_button.click()
    assert view.list.topLevelItemCount() == 2  # nothing without saying yes
    answer_next_box("Discard")
    view.discard_button.click()
    qtbot.waitUntil(lambda: view.list.topLevelItemCount() == 1, timeout=WAIT)
    qtbot.waitUntil(lambda: badge(window, second.id) == "", timeout=WAIT)


def test_shared_while_the_server_is_down_it_waits_and_goes_when_it_is_back(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, tmp_path: Path
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    plan = smart_plan(space, "Mentor a new colleague")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    with running_server(tmp_path / "own-server", "sqlite") as own:
        org = make_org(own)
        connect_through_dialog(qtbot, window, own, org, address=own.url)
        own.stop()
        window.sync.sharing.share_with_organisation([plan.id])
        qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
        dialog = window.sync.sharing.disclose_dialog
        assert dialog is not None
        qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)  # points kept offline
        dialog.confirm_button.click()
        qtbot.waitUntil(lambda: window.sync.status_button.text() == "Offline · 1 waiting",
                        timeout=WAIT)  # fmt: skip
        assert badge(window, plan.id) == "Queued"
        own.start()
        qtbot.waitUntil(lambda: badge(window, plan.id) == "Delivered", timeout=30000)


def test_publish_a_public_page_copy_its_link_and_revoke_it(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    plan = smart_plan(space, "Write a team charter")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    connect_through_dialog(qtbot, window, server, make_org(server), address=server.url)
    choose(window, plan.id)
    window.sync.share_public_action.trigger()
    qtbot.waitUntil(lambda: window.sync.sharing.share_dialog is not None, timeout=WAIT)
    dialog = window.sync.sharing.share_dialog
    assert dialog is not None
    assert dialog.no_pages.isVisible()
    assert dialog.title.text() == "Write a team charter"
    qtbot.waitUntil(dialog.publish_button.isEnabled, timeout=WAIT)
    assert "Run our team's first retrospective." in dialog.preview.toPlainText()
    dialog.comments.setChecked(True)
    dialog.expires.setChecked(True)
    dialog.publish_button.click()
    qtbot.waitUntil(lambda: bool(dialog.link.text()), timeout=WAIT)
    url = dialog.link.text()
    assert url.startswith(server.url + "/")
    assert requests.get(url, timeout=10).status_code == 200
    assert not dialog.publish_button.isEnabled()  # one click, one page
    dialog.copy_button.click()
    assert QApplication.clipboard().text() == url
    page = dialog.pages.topLevelItem(0)
    assert page is not None
    assert page.text(0) == url
    assert page.text(1) == "On"
    assert page.text(2) != "No expiry"

    answer_next_box("Revoke")
    dialog.revoke_button.click()
    qtbot.waitUntil(lambda: dialog.shares[0].revoked, timeout=WAIT)
    assert "(revoked)" in dialog.pages.topLevelItem(0).text(0)  # type: ignore[union-attr]
    assert requests.get(url, timeout=10).status_code in (404, 410)


def test_disconnect_from_preferences_keeps_receipts_and_feedback(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    plan = smart_plan(space, "Facilitate the offsite")
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    org = make_org(server)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    window.sync.sharing.share_with_organisation([plan.id])
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
    dialog = window.sync.sharing.disclose_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.confirm_button.isEnabled, timeout=WAIT)
    dialog.confirm_button.click()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Delivered", timeout=WAIT)
    snap = window.sync.snapshot
    assert snap is not None
    add_feedback(server, snap.entries[0].submission_id, "Not yet: add the agenda.",
                 decision="not_yet")  # fmt: skip
    window.sync.sync_action.trigger()
    qtbot.waitUntil(lambda: badge(window, plan.id) == "Not yet", timeout=WAIT)

    window.show_settings()
    settings = window.settings_dialog
    assert settings is not None
    page = settings.organisations
    qtbot.waitUntil(lambda: page.list.topLevelItemCount() == 1, timeout=WAIT)
    item = page.list.topLevelItem(0)
    assert item is not None
    assert item.text(0) == org.name
    assert page.disconnect_button.isEnabled()
    answer_next_box("Disconnect")
    page.disconnect_button.click()
    qtbot.waitUntil(lambda: page.list.topLevelItemCount() == 0, timeout=WAIT)
    assert not page.empty.isHidden()
    assert "Receipts and feedback stay" in window.statusBar().currentMessage()
    assert window.sync.accounts == ()
    assert accounts(space) == []
    settings.close()
    assert badge(window, plan.id) == "Not yet"  # what came home stays home
    window.editing.open_asset(plan.id)
    qtbot.waitUntil(lambda: window.editor is not None and bool(window.editor.feedback.cards),
                    timeout=WAIT)  # fmt: skip
    assert window.editor is not None
    assert window.editor.feedback.feedback_texts() == ["Not yet: add the agenda."]


def test_a_peer_review_request_arrives_and_the_review_goes_back(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    org = make_org(server)
    colleague = join(server, org)
    answer = colleague.submit(colleague.sign(colleague.payload(
        org.point_id, [snapshot("Plan: calmer incident calls",
                                approach="Use a checklist; name a scribe.")])))  # fmt: skip
    assert answer.status_code in (200, 201), answer.text
    submission_id = answer.json()["submission_id"]
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    [account] = accounts(space)
    with server.session() as session:
        submission = session.get(Submission, submission_id)
        membership = session.get(Membership, account.member_id)
        assert submission is not None
        assert membership is not None
        reviews.assign_peer(session, submission, membership,
                            directory.user_for_email(session, "lead@example.org"))  # fmt: skip
        session.commit()

    window.sync.sync_action.trigger()
    qtbot.waitUntil(lambda: window.sync.reviews_action.text() == "&Review Requests (1)…",
                    timeout=WAIT)  # fmt: skip
    assert "review a colleague's submission" in window.statusBar().currentMessage()
    window.sync.reviews_action.trigger()
    dialog = window.sync.sharing.reviews_dialog
    assert dialog is not None
    assert dialog.list.count() == 1
    text = dialog.submission.toPlainText()
    assert "Plan: calmer incident calls" in text
    assert "Use a checklist; name a scribe." in text
    assert not dialog.send_button.isEnabled()  # nothing written yet
    qtbot.keyClicks(dialog.text, "Clear steps. Say who calls the customer.")
    dialog.rating.setCurrentIndex(dialog.rating.findData(4))
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Sent."), timeout=WAIT)
    item = dialog.list.item(0)
    assert item is not None
    assert "Reviewed" in item.text()
    with server.session() as session:
        [review] = reviews.thread(session, submission_id)
    assert (review.kind, review.text, review.rating) == (
        "peer_review", "Clear steps. Say who calls the customer.", 4)
    qtbot.waitUntil(lambda: window.sync.reviews_action.text() == "&Review Requests…",
                    timeout=WAIT)  # fmt: skip


def test_an_organisation_template_arrives_in_the_template_picker(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer
) -> None:
    window = unlocked
    org = make_org(server)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    journal = (REPO / "templates" / "journal.toml").read_text("utf-8")
    template = journal.replace('id = "journal"', 'id = "support-log"', 1).replace(
        'name = "Journal entry"', 'name = "Support shift log"', 1)  # fmt: skip
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        resources.publish(session, server.settings(), workspace, name="Support shift log",
                          kind="template", content=template.encode())  # fmt: skip
        session.commit()
    window.sync.sync_action.trigger()
    qtbot.waitUntil(lambda: any(t.name == "Support shift log"
                                for t in window.editing.templates.values()), timeout=WAIT)
    assert "new template from your organisation" in window.statusBar().currentMessage()
    assert f"Support shift log · from {org.name}" in picker_labels(qtbot, window)
    assert "Journal entry" in picker_labels(qtbot, window)  # built-ins say nothing more
    [folder] = organisation_template_root().iterdir()
    assert org.name.lower().replace(" ", "-") not in folder.name.lower()  # only the space knows

    # Locked, the name is forgotten; unlocked again, the picker says it again.
    path = window.space.path if window.space else None
    window.lock()
    qtbot.waitUntil(lambda: window.space is None, timeout=WAIT)
    assert f"Support shift log · from {org.name}" not in picker_labels(qtbot, window)
    window.unlock_space(str(path), PASSPHRASE)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.library, timeout=WAIT)
    qtbot.waitUntil(lambda: f"Support shift log · from {org.name}" in picker_labels(qtbot, window),
                    timeout=WAIT)  # fmt: skip


def picker_labels(qtbot, window: MainWindow) -> list[str]:  # type: ignore[no-untyped-def]
    picker = TemplatePicker(sorted(window.editing.templates.values(),
                                   key=lambda t: (t.source != "builtin", t.name)))  # fmt: skip
    qtbot.addWidget(picker)
    return [picker.list.item(n).text().split("\n")[0] for n in range(picker.list.count())]


def test_documents_and_links_from_the_organisation_in_preferences(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, server: LiveServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    window = unlocked
    org = make_org(server)
    connect_through_dialog(qtbot, window, server, org, address=server.url)
    guide = b"%PDF-1.4 how we run one-to-ones " + os.urandom(50_000)
    with server.session() as session:
        workspace = directory.find_workspace(session, org.workspace_id)
        resources.publish(session, server.settings(), workspace, name="One-to-one guide",
                          kind="document", content=guide,
                          media_type="application/pdf")  # fmt: skip
        resources.publish(session, server.settings(), workspace, name="Learning portal",
                          kind="link", url="https://learning.example.org/portal")  # fmt: skip
        session.commit()
    window.sync.sync_action.trigger()
    qtbot.waitUntil(lambda: window.sync.snapshot is not None
                    and len(window.sync.snapshot.resources) == 2, timeout=WAIT)  # fmt: skip

    window.show_settings()
    settings = window.settings_dialog
    assert settings is not None
    settings.tabs.setCurrentWidget(settings.organisations)
    page = settings.organisations
    qtbot.waitUntil(lambda: page.resource_list.topLevelItemCount() == 2, timeout=WAIT)
    assert page.resources_heading.text() == f"Documents and links from {org.name}"
    rows = {page.resource_list.topLevelItem(n).text(0): page.resource_list.topLevelItem(n)
            for n in range(2)}  # fmt: skip
    assert rows["One-to-one guide"].text(1).startswith("PDF document, ")
    assert rows["Learning portal"].text(1) == "Link"
    assert rows["Learning portal"].toolTip(0) == "https://learning.example.org/portal"
    settings.resize(720, 640)
    page.grab().save(str(tmp_path / "organisations-resources.png"))

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    choose_resource(page, "Learning portal")
    assert not page.save_resource_button.isEnabled()  # a link has nothing to save
    page.open_resource_button.click()
    assert [u.toString() for u in opened] == ["https://learning.example.org/portal"]

    choose_resource(page, "One-to-one guide")
    page.open_resource_button.click()
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=WAIT)
    shown = Path(opened[1].toLocalFile())
    assert shown.name == "One-to-one guide.pdf"
    assert shown.read_bytes() == guide
    private = window.editing.private.path
    assert private is not None
    assert shown.parent == private or private in shown.parents  # wiped on lock

    copy = tmp_path / "guide copy.pdf"
    monkeypatch.setattr(page, "ask_save_path", lambda name: str(copy))
    page.save_resource_button.click()
    qtbot.waitUntil(copy.exists, timeout=WAIT)
    assert copy.read_bytes() == guide
    qtbot.waitUntil(lambda: "Saved a copy of “One-to-one guide”" in
                    window.statusBar().currentMessage(), timeout=WAIT)  # fmt: skip
    settings.close()
    window.lock()
    qtbot.waitUntil(lambda: not shown.exists(), timeout=WAIT)


def choose_resource(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Choose a resource by name (the list is filled again with each refresh)."""
    shown = page.resource_list
    items = [shown.topLevelItem(n) for n in range(shown.topLevelItemCount())]
    shown.setCurrentItem(next(i for i in items if i.text(0) == name))
