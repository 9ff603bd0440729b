"""Sharing, for the sync controller: with an organisation (the disclosure dialog, its
preview and queueing), publicly (pages published, copied, revoked), withdrawing, and
the peer reviews this person is asked to write. Store jobs for the space, network jobs
for servers; the controller owns the accounts, the background rounds and the helpers
(``job_guard``, ``confirm``, ``report``) used here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.space import Space
from app.syncing.disclosure import Preview
from app.syncing.status import ShareInfo
from ui import sync_jobs
from ui.disclose_dialog import DiscloseDialog
from ui.editor import AssetEditor
from ui.messages import describe
from ui.review_requests import ReviewRequestsDialog
from ui.share_dialog import ShareDialog
from ui.sync_jobs import AccountView, ReviewRequest, SyncSnapshot

if TYPE_CHECKING:
    from ui.sync_controller import SyncController


class _Progress(QObject):
    """Bytes a publishing job has sent, from its thread to the GUI thread (queued)."""

    shared = Signal(int, int)


class SharingFlows(QObject):
    """The dialogs that send something from the space, and what they ask for."""

    def __init__(self, sync: SyncController) -> None:
        super().__init__(sync)
        self.sync = sync
        self.runner = sync.runner
        self._space: Callable[[], Space | None] = sync.space_getter
        self.editing = sync.editing
        self.library = sync.library
        self.window = sync.window
        self.disclose_dialog: DiscloseDialog | None = None
        self.share_dialog: ShareDialog | None = None
        self.reviews_dialog: ReviewRequestsDialog | None = None
        self._progress = _Progress(self)
        self._progress.shared.connect(self._shared_progress)

    def show_snapshot(self, snap: SyncSnapshot, accounts_changed: bool) -> None:
        """What the dialogs open now show of a fresh read of the space."""
        if accounts_changed and self.disclose_dialog is not None \
                and not self.disclose_dialog.running:  # fmt: skip
            self.disclose_dialog.set_accounts(list(snap.accounts))
        if accounts_changed and self.share_dialog is not None and not self.share_dialog.running:
            self.share_dialog.set_accounts(list(snap.accounts))
        if self.reviews_dialog is not None and not self.reviews_dialog.running:
            self.reviews_dialog.set_requests(snap.review_requests)

    def close_all(self) -> None:
        """On lock: close what shows the space's data."""
        for dialog in (self.disclose_dialog, self.share_dialog, self.reviews_dialog):
            if dialog is not None:
                dialog.close()
        self.disclose_dialog = self.share_dialog = None
        self.reviews_dialog = None

    def editor_opened(self, editor: AssetEditor) -> None:
        editor.share_requested.connect(
            lambda: self._from_editor(editor, self._read_titles_then(self._open_disclose)))
        editor.share_publicly_requested.connect(lambda: self._from_editor(
            editor, self._read_titles_then(self._open_share, with_shares=True)))  # fmt: skip
        editor.feedback.withdraw_requested.connect(self.withdraw)

    def _closed(self, name: str, widget: object) -> None:
        if getattr(self, name) is widget:
            setattr(self, name, None)

    # ------------------------------------------------------------ choosing

    def _chosen_assets(self) -> list[str] | None:
        """What the menu actions act on: the asset in the editor if it is shown, else the
        items chosen in the library. None when the editor's asset cannot be saved yet."""
        editor = self.editing.editor
        if editor is not None and editor.isVisible():
            return None
        return self.library.chosen_ids()

    def _with_chosen(self, asset_ids: Sequence[str] | None,
                     action: Callable[[list[str]], None]) -> None:  # fmt: skip
        if not self.sync.active:
            return
        if asset_ids:
            action(list(asset_ids))
            return
        chosen = self._chosen_assets()
        if chosen is None and self.editing.editor is not None:
            self._from_editor(self.editing.editor, action)
        elif chosen:
            action(chosen)
        else:
            self.sync.message.emit(self.tr("Choose one or more items in the library first."))

    def _from_editor(self, editor: AssetEditor, action: Callable[[list[str]], None]) -> None:
        """Act on the editor's asset once what is on screen is saved (sharing sends what is
        stored, so the person must see that it is what they wrote)."""
        if editor.dirty and editor.record is not None:
            editor.save_now()  # a store job: it lands before the preview is read
            if editor.show_problems():
                self.sync.message.emit(self.tr("Fix what is marked first: the item is shared as "
                                               "saved."))  # fmt: skip
                return

        def then() -> None:
            if editor.record is not None:
                action([editor.record.id])

        if not editor.when_saved(then):
            self.sync.message.emit(self.tr("Fix what is marked first: the item must be saved "
                                           "before it can be shared."))  # fmt: skip

    # ------------------------------------------------------------- disclose

    def share_with_organisation(self, asset_ids: Sequence[str] | None = None) -> None:
        """Open the disclosure dialog for these assets (or the chosen ones)."""
        self._with_chosen(asset_ids, self._read_titles_then(self._open_disclose))

    def _read_titles_then(self, then: Callable[[list[str], list[str], Any], None],
                          with_shares: bool = False) -> Callable[[list[str]], None]:  # fmt: skip
        def read(ids: list[str]) -> None:
            space = self._space()
            if space is None:
                return
            guard = self.sync.job_guard(space)

            def job() -> tuple[list[tuple[str, str]], list[ShareInfo]]:
                titles = sync_jobs.asset_titles(space, ids)
                return titles, (sync_jobs.share_list(space, ids) if with_shares else [])

            def done(result: Any) -> None:
                titles, shares = result
                then(ids, [t or self.tr("Untitled") for _i, t in titles], shares)

            self.runner.run_store(job, on_done=guard(done), on_error=guard(self.sync.report))

        return read

    def _open_disclose(self, ids: list[str], titles: list[str], _shares: object) -> None:
        if self.disclose_dialog is not None:
            self.disclose_dialog.close()
        dialog = DiscloseDialog(titles, [], self.window)
        self.disclose_dialog = dialog
        dialog.preview_requested.connect(
            lambda account, point, tags: self._preview(dialog, ids, account, point, tags))
        dialog.confirm_requested.connect(lambda shown: self._queue(dialog, shown))
        dialog.refresh_requested.connect(lambda account: self._refresh_points(dialog, account))
        dialog.connect_requested.connect(lambda: self.sync.show_connect())
        dialog.finished.connect(lambda _r: self._closed("disclose_dialog", dialog))
        dialog.set_accounts(list(self.sync.accounts))
        dialog.open()
        if not self.sync.accounts:
            self.sync.show_connect()

    def _preview(self, dialog: DiscloseDialog, ids: list[str], account_id: str, point_id: str,
                 include_tags: bool) -> None:  # fmt: skip
        space = self._space()
        if space is None:
            return
        guard = self.sync.job_guard(space)
        self.runner.run_store(
            lambda: sync_jobs.make_preview(space, ids, account_id, point_id, include_tags),
            on_done=guard(dialog.show_preview),
            on_error=guard(lambda error: dialog.preview_failed(describe(error))))  # fmt: skip

    def _queue(self, dialog: DiscloseDialog, shown: object) -> None:
        space = self._space()
        if space is None or not isinstance(shown, Preview):
            return
        guard = self.sync.job_guard(space)

        def done(_entry: object) -> None:
            dialog.queued()
            self.sync.message.emit(self.tr(
                "Signed and queued for {point} in {org}. It is sent in the background; File ▸ "
                "Organisations ▸ Outbox shows how it is going.").format(
                    point=shown.point_name, org=shown.workspace_name))  # fmt: skip
            self.sync.refresh()
            self.sync.sync_now()

        self.runner.run_store(
            lambda: sync_jobs.queue(space, shown), on_done=guard(done),
            on_error=guard(lambda error: dialog.queue_failed(describe(error))))  # fmt: skip

    def _refresh_points(self, dialog: DiscloseDialog, account_id: str) -> None:
        space = self._space()
        if space is None:
            return
        guard = self.sync.job_guard(space)

        def done(view: object) -> None:
            assert isinstance(view, AccountView)
            self.sync.accounts = tuple(view if a.id == view.id else a for a in self.sync.accounts)
            dialog.refreshed(list(self.sync.accounts))
            self.sync.refresh()

        self.runner.run_network(
            lambda: sync_jobs.refresh_points(space, account_id), on_done=guard(done),
            on_error=guard(lambda error: dialog.refreshed(None, describe(error))))  # fmt: skip

    # ----------------------------------------------------- share publicly

    def share_publicly(self, asset_ids: Sequence[str] | None = None) -> None:
        """Open the public-page dialog for these assets (or the chosen ones)."""
        self._with_chosen(asset_ids, self._read_titles_then(self._open_share, with_shares=True))

    def _open_share(self, ids: list[str], titles: list[str], shares: Any) -> None:
        if self.share_dialog is not None:
            self.share_dialog.close()
        dialog = ShareDialog(titles, [], self.window)
        self.share_dialog = dialog
        dialog.preview_requested.connect(lambda account: self._share_preview(dialog, ids, account))
        dialog.publish_requested.connect(
            lambda shown, title, comments, expiry: self._publish(dialog, shown, title, comments,
                                                                 expiry))  # fmt: skip
        dialog.revoke_requested.connect(lambda share_id: self._revoke(dialog, share_id))
        dialog.connect_requested.connect(lambda: self.sync.show_connect())
        dialog.finished.connect(lambda _r: self._closed("share_dialog", dialog))
        dialog.set_shares(list(shares))
        dialog.set_accounts(list(self.sync.accounts))
        dialog.open()
        if not self.sync.accounts:
            self.sync.show_connect()

    def _share_preview(self, dialog: ShareDialog, ids: list[str], account_id: str) -> None:
        space = self._space()
        if space is None:
            return
        guard = self.sync.job_guard(space)
        self.runner.run_store(
            lambda: sync_jobs.make_preview(space, ids, account_id, "", False),
            on_done=guard(dialog.show_preview),
            on_error=guard(lambda error: dialog.preview_failed(describe(error))))  # fmt: skip

    def _publish(self, dialog: ShareDialog, shown: object, title: str, comments: bool,
                 expiry: object) -> None:  # fmt: skip
        space = self._space()
        if space is None or not isinstance(shown, Preview):
            return
        guard = self.sync.job_guard(space)
        expires_at = expiry if isinstance(expiry, datetime) else None
        relay = self._progress

        def done(share: object) -> None:
            assert isinstance(share, ShareInfo)
            dialog.published(share)
            self.sync.refresh()

        self.runner.run_network(
            lambda: sync_jobs.publish(space, shown, title, comments, expires_at,
                                      progress=relay.shared.emit),
            on_done=guard(done), on_error=guard(lambda e: dialog.failed(describe(e))))  # fmt: skip

    def _shared_progress(self, done: int, total: int) -> None:
        if self.share_dialog is not None:
            self.share_dialog.progressed(done, total)

    def _revoke(self, dialog: ShareDialog, share_id: str) -> None:
        space = self._space()
        if space is None:
            return
        if not self.sync.confirm(self.tr("Revoke"), self.tr(
                "Take this page down? Its link stops working for everyone, for good. You can "
                "publish a new page later."), self.tr("&Revoke")):  # fmt: skip
            return
        guard = self.sync.job_guard(space)
        dialog.begin(self.tr("Taking the page down…"))

        def done(share: object) -> None:
            assert isinstance(share, ShareInfo)
            dialog.revoked(share)
            self.sync.refresh()

        self.runner.run_network(lambda: sync_jobs.revoke(space, share_id), on_done=guard(done),
                                on_error=guard(lambda e: dialog.failed(describe(e))))  # fmt: skip

    # ------------------------------------------- peer reviews, withdrawing

    def show_review_requests(self) -> None:
        if not self.sync.active:
            return
        if self.reviews_dialog is None:
            dialog = ReviewRequestsDialog(self.window)
            self.reviews_dialog = dialog
            dialog.send_requested.connect(
                lambda request_id, text, rating: self._send_review(dialog, request_id, text,
                                                                   rating))  # fmt: skip
            dialog.finished.connect(lambda _r: self._closed("reviews_dialog", dialog))
        if self.sync.snapshot is not None:
            self.reviews_dialog.set_requests(self.sync.snapshot.review_requests)
        self.reviews_dialog.open()
        self.sync.refresh()

    def _send_review(self, dialog: ReviewRequestsDialog, request_id: str, text: str,
                     rating: object) -> None:  # fmt: skip
        space = self._space()
        if space is None:
            return
        guard = self.sync.job_guard(space)
        stars = rating if isinstance(rating, int) else None

        def done(request: object) -> None:
            assert isinstance(request, ReviewRequest)
            dialog.sent(request)
            self.sync.refresh()

        self.runner.run_network(
            lambda: sync_jobs.send_peer_review(space, request_id, text, stars),
            on_done=guard(done), on_error=guard(lambda e: dialog.failed(describe(e))))  # fmt: skip

    def withdraw(self, receipt_id: str, point: str) -> None:
        space = self._space()
        if space is None:
            return
        if not self.sync.confirm(self.tr("Withdraw"), self.tr(
                "Withdraw your submission to {point}? Reviewers will no longer see it. Your "
                "items, and the receipt of what you sent, stay in your space.").format(
                    point=point), self.tr("&Withdraw")):  # fmt: skip
            return
        guard = self.sync.job_guard(space)

        def done(_status: object) -> None:
            self.sync.message.emit(self.tr("Withdrawn from {point}.").format(point=point))
            self.sync.refresh()

        self.runner.run_network(lambda: sync_jobs.withdraw_submission(space, receipt_id),
                                on_done=guard(done), on_error=guard(self.sync.report))  # fmt: skip
