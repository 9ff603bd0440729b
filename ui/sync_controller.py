"""The sync controller: connects the space to organisations' workspaces and carries out
what the sync dialogs, the editor's Feedback tab and the library request, as jobs on
the task runner (ui/sync_jobs.py holds them; ui/sharing.py the flows that send
something: sharing, publishing, withdrawing, peer reviews).

Where each job runs: reading and changing the space alone (previews, queueing, retry,
discard, disconnect, the status of every asset) are store jobs, one at a time in
order; anything that talks to a server (connect, the background push and pull,
publishing, revoking, withdrawing) is a network job. While the space is unlocked and
connected, a background round of push and pull runs at start, after each submission
is queued, when the outbox says an entry is due again (its backoff is app/syncing's),
and every few minutes to fetch feedback. Locking stops it: the timer, and the round
under way at its next step; whatever a stopped round reports is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QToolButton, QWidget

from app.forms.library import TemplateLibrary
from app.space import Space
from app.syncing.accounts import NEEDS_A_PERSON, default_device_name
from app.syncing.outbox import PushProgress
from app.syncing.pulling import forget_organisation_names, learn_organisation_names
from app.syncing.resources import (
    OrganisationResource,
    document_content,
    document_file_name,
    save_document,
)
from sync.errors import (
    CertificateRejected,
    InvalidServerAddress,
    InviteInvalid,
    ServerUnreachable,
    UnexpectedAnswer,
)
from ui import sync_jobs
from ui.connect_dialog import ConnectDialog
from ui.editing import RISKY_SUFFIXES, EditingController
from ui.editor import AssetEditor
from ui.icons import icon
from ui.library import LibraryPage
from ui.messages import as_sentence, describe
from ui.outbox_view import OutboxView
from ui.settings_dialog import OrganisationsPage, SettingsDialog
from ui.sharing import SharingFlows
from ui.sync_banner import SyncBanner
from ui.sync_jobs import AccountView, SyncOutcome, SyncSnapshot
from ui.tasks import TaskRunner

#: How often a connected, unlocked space asks for feedback when nothing is due sooner.
PULL_INTERVAL_MS = 5 * 60_000
#: The shortest pause between two background rounds (an entry due "now" included).
MIN_WAIT_MS = 2_000


class _Relay(QObject):
    """Push progress from a network job's thread, delivered on the GUI thread (queued)."""

    pushed = Signal(object)  # PushProgress


class SyncController(QObject):
    """Everything sync in the desktop app; the window creates it, starts it after unlock
    and stops it on lock."""

    message = Signal(str)  # for the status bar
    settings_requested = Signal()  # the Organisations tab of Preferences

    def __init__(
        self,
        runner: TaskRunner,
        space: Callable[[], Space | None],
        editing: EditingController,
        library: LibraryPage,
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.runner = runner
        self._space = self.space_getter = space
        self.editing = editing
        self.library = library
        self.window = window
        self.accounts: tuple[AccountView, ...] = ()
        self.snapshot: SyncSnapshot | None = None
        self.connect_dialog: ConnectDialog | None = None
        self.outbox_view: OutboxView | None = None
        self.settings_page: OrganisationsPage | None = None
        self._active = False
        self._generation = 0  # bumped by start and stop: late results of before are dropped
        self._cancel = threading.Event()
        self._syncing = False
        self._pending: bool | None = None  # a round asked for while one runs: its only_due
        self._offline = False
        self._announced: set[str] = set()  # problems already said in the status bar
        self._progress_text = ""
        self._wants_organisations_tab = False
        self._relay = _Relay(self)
        self.sharing = SharingFlows(self)

        self.banner = SyncBanner(window)
        self.status_button = QToolButton(window)
        self.status_button.setObjectName("sync_status")
        self.status_button.setAutoRaise(True)
        self.status_button.setIcon(icon("sync"))
        self.status_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.status_button.hide()
        self.timer = QTimer(self)
        self.timer.setObjectName("sync_timer")
        self.timer.setSingleShot(True)
        self.menu = QMenu(self.tr("&Organisations"), window)
        self.menu.setObjectName("organisations_menu")
        self.connect_action = QAction(self.tr("&Connect to an Organisation…"), self)
        self.share_action = QAction(icon("share"), self.tr("&Share with an Organisation…"), self)
        self.share_public_action = QAction(icon("link"), self.tr("Share &Publicly…"), self)
        self.outbox_action = QAction(self.tr("&Outbox…"), self)
        self.reviews_action = QAction(self.tr("&Review Requests…"), self)
        self.sync_action = QAction(icon("sync"), self.tr("S&ync Now"), self)
        for action in (self.connect_action, None, self.share_action, self.share_public_action,
                       None, self.outbox_action, self.reviews_action,
                       self.sync_action):  # fmt: skip
            if action is None:
                self.menu.addSeparator()
            else:
                self.menu.addAction(action)
                action.setEnabled(False)

        self.connect_action.triggered.connect(lambda: self.show_connect())
        self.share_action.triggered.connect(lambda: self.sharing.share_with_organisation())
        self.share_public_action.triggered.connect(lambda: self.sharing.share_publicly())
        self.outbox_action.triggered.connect(self.show_outbox)
        self.reviews_action.triggered.connect(self.sharing.show_review_requests)
        self.sync_action.triggered.connect(lambda: self.sync_now(only_due=False))
        self.status_button.clicked.connect(self.show_outbox)
        self.timer.timeout.connect(lambda: self.sync_now())
        self.banner.reconnect_requested.connect(self.show_connect)
        self.banner.organisations_requested.connect(self._show_organisations)
        self._relay.pushed.connect(self._pushed)
        editing.editor_opened.connect(self._editor_opened)
        library.share_requested.connect(self.sharing.share_with_organisation)
        library.share_publicly_requested.connect(self.sharing.share_publicly)

    # -------------------------------------------------------------- lifetime

    def start(self) -> None:
        """The space is unlocked: read its accounts, and sync if it has any."""
        self._generation += 1
        self._active = True
        self._cancel = threading.Event()
        self._syncing = False
        self._pending = None
        self._offline = False
        self._announced.clear()
        for action in self.menu.actions():
            action.setEnabled(True)
        self._learn_organisation_names()
        self.refresh(then_sync=True)

    def stop(self) -> None:
        """The space is locking: stop syncing, close what shows its data, forget it."""
        self._generation += 1
        self._active = False
        self._cancel.set()
        self.timer.stop()
        for dialog in (self.connect_dialog, self.outbox_view):
            if dialog is not None:
                dialog.close()
        self.connect_dialog, self.outbox_view = None, None
        self.sharing.close_all()
        self.reviews_action.setText(self.tr("&Review Requests…"))
        self.accounts, self.snapshot = (), None
        self.banner.clear()
        self.status_button.hide()
        self.library.set_badges({})
        forget_organisation_names()
        for action in self.menu.actions():
            action.setEnabled(False)

    def _learn_organisation_names(self) -> None:
        """The template picker names organisations' templates after them; those names
        are only in the space (their folders have opaque names), so learn them now."""
        space = self._space()
        if space is None:
            return
        generation = self._generation

        def learnt(_names: object) -> None:
            if generation != self._generation:  # locked meanwhile: forget them again
                forget_organisation_names()

        self.runner.run_store(lambda: learn_organisation_names(space), on_done=learnt,
                              on_error=self.job_guard(space)(self.report))  # fmt: skip

    @property
    def active(self) -> bool:
        return self._active

    @property
    def syncing(self) -> bool:
        """Whether a round of push and pull is under way."""
        return self._syncing

    def job_guard(self, space: Space) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Wraps a job's callbacks so that they do nothing once the space is locked (or
        locked and unlocked again) in between."""
        generation = self._generation

        def guard(callback: Callable[..., None]) -> Callable[..., None]:
            def guarded(*args: Any) -> None:
                if generation == self._generation and self._space() is space:
                    callback(*args)

            return guarded

        return guard

    # --------------------------------------------------------------- reading

    def refresh(self, then_sync: bool = False) -> None:
        """Read accounts, outbox, badges (and the open editor's feedback) in one store job."""
        space = self._space()
        if space is None or not self._active:
            return
        editor = self.editing.editor
        asset_id = editor.record.id if editor is not None and editor.record else None
        guard = self.job_guard(space)

        def done(result: object) -> None:
            assert isinstance(result, SyncSnapshot)
            self._show_snapshot(result)
            if then_sync and result.accounts:
                self.sync_now()

        self.runner.run_store(lambda: sync_jobs.snapshot(space, asset_id), on_done=guard(done),
                              on_error=guard(self.report))  # fmt: skip

    def _show_snapshot(self, snap: SyncSnapshot) -> None:
        changed = snap.accounts != self.accounts
        self.snapshot, self.accounts = snap, snap.accounts
        self.library.set_badges(snap.badges)
        self.banner.set_accounts(snap.accounts)
        if self.outbox_view is not None:
            self.outbox_view.set_entries(snap.entries)
        to_write = snap.reviews_to_write
        self.reviews_action.setText(self.tr("&Review Requests ({n})…").format(n=to_write)
                                    if to_write else self.tr("&Review Requests…"))  # fmt: skip
        if self.settings_page is not None:
            self.settings_page.set_accounts(snap.accounts)
            self.settings_page.set_resources(snap.resources)
        self.sharing.show_snapshot(snap, changed)
        editor = self.editing.editor
        if snap.feedback is not None and editor is not None and editor.record is not None \
                and editor.record.id == snap.feedback.asset_id:  # fmt: skip
            editor.feedback.set_view(snap.feedback)
        self._update_status()
        self._schedule()

    def _update_status(self) -> None:
        snap = self.snapshot
        if snap is None or not (snap.accounts or snap.waiting or snap.failed):
            self.status_button.hide()
            return
        if self._syncing:
            text = self._progress_text or self.tr("Syncing…")
        elif snap.failed:
            text = (self.tr("1 not sent") if snap.failed == 1
                    else self.tr("{n} not sent").format(n=snap.failed))  # fmt: skip
        elif any(a.problem_code for a in snap.accounts):
            text = self.tr("Sync stopped")
        elif snap.waiting and self._offline:
            text = self.tr("Offline · {n} waiting").format(n=snap.waiting)
        elif snap.waiting:
            text = self.tr("{n} waiting to be sent").format(n=snap.waiting)
        elif self._offline:
            text = self.tr("Offline")
        else:
            synced = [a.last_sync for a in snap.accounts if a.last_sync]
            text = (self.tr("Synced {time}").format(time=_clock(max(synced))) if synced
                    else self.tr("Not synced yet"))  # fmt: skip
        self.status_button.setText(text)
        self.status_button.setToolTip(self.tr("Workspace sync: {state}. Click to see the "
                                              "outbox.").format(state=text))  # fmt: skip
        self.status_button.show()

    # ------------------------------------------------------------ background

    def _schedule(self) -> None:
        """Wake for the next entry due (app/syncing's backoff decides when) or the next
        pull, whichever is sooner."""
        snap = self.snapshot
        if not self._active or self._syncing or snap is None or not snap.accounts:
            self.timer.stop()
            return
        wait = PULL_INTERVAL_MS
        if snap.next_due is not None:
            wait = min(wait, max(MIN_WAIT_MS, int(snap.next_due * 1000)))
        self.timer.start(wait)

    def sync_now(self, only_due: bool = True) -> None:
        """A round of push and pull. ``only_due=False`` is a person asking: every queued
        entry is tried now, and accounts that stopped (a revoked device...) are tried too."""
        space = self._space()
        if space is None or not self._active or not self.accounts:
            return
        if self._syncing:
            self._pending = only_due and (self._pending is not False)
            return
        chosen = [a.id for a in self.accounts
                  if not only_due or a.problem_code not in NEEDS_A_PERSON]  # fmt: skip
        if not chosen:
            return
        self.timer.stop()
        self._syncing = True
        self._progress_text = ""
        self._update_status()
        relay, cancel, guard = self._relay, self._cancel, self.job_guard(space)

        def done(result: object) -> None:
            assert isinstance(result, SyncOutcome)
            self._synced(result)

        def failed(error: BaseException) -> None:
            self._syncing = False
            self.report(error)
            self._after_round()

        self.runner.run_network(
            lambda: sync_jobs.run_sync(space, chosen, only_due=only_due,
                                       progress=relay.pushed.emit, cancelled=cancel),
            on_done=guard(done), on_error=guard(failed))  # fmt: skip

    def _synced(self, outcome: SyncOutcome) -> None:
        self._syncing = False
        self._progress_text = ""
        report = outcome.report
        self._offline = any(a.push.unreachable or (a.pull is not None and a.pull.unreachable)
                            for a in report.accounts)  # fmt: skip
        names = {a.id: a.workspace_name for a in self.accounts}
        notes = []
        if outcome.delivered:
            notes.append(self.tr("Delivered 1 submission.") if outcome.delivered == 1
                         else self.tr("Delivered {n} submissions.").format(n=outcome.delivered))
        for account_id, count in outcome.new_feedback.items():
            org = names.get(account_id, "")
            notes.append(self.tr("New feedback from {org}.").format(org=org) if count == 1
                         else self.tr("{n} new pieces of feedback from {org}.").format(
                             n=count, org=org))  # fmt: skip
        if outcome.review_requests:
            notes.append(self.tr("You are asked to review a colleague's submission: File ▸ "
                                 "Organisations ▸ Review Requests.") if outcome.review_requests == 1
                         else self.tr("You are asked to review {n} colleagues' submissions: File "
                                      "▸ Organisations ▸ Review Requests.").format(
                                          n=outcome.review_requests))  # fmt: skip
        installed = [t for item in report.accounts if item.pull for t in item.pull.templates]
        if installed:
            self._reload_templates(len(installed))
        problems = set(report.problems)
        fresh = problems - self._announced
        self._announced = problems
        if fresh:
            notes.append(as_sentence(sorted(fresh)[0]))
        if notes:
            self.message.emit(" ".join(notes))
        self._after_round()

    def _reload_templates(self, count: int) -> None:
        """Organisations' templates were installed: the editor and the library learn them
        (the one templates dictionary the window shares, updated in place)."""
        space = self._space()
        if space is None:
            return
        guard = self.job_guard(space)

        def done(found: object) -> None:
            assert isinstance(found, dict)
            self.editing.templates.update(found)
            self.library.set_templates(self.editing.templates)
            self.message.emit(self.tr("A new template from your organisation is ready: File ▸ "
                                      "New.") if count == 1 else
                              self.tr("{n} new templates from your organisations are ready: "
                                      "File ▸ New.").format(n=count))  # fmt: skip

        self.runner.run_store(
            lambda: {t.qualified_id: t for t in TemplateLibrary.load().all()},
            on_done=guard(done), on_error=guard(self.report))  # fmt: skip

    def _after_round(self) -> None:
        pending, self._pending = self._pending, None
        self.refresh()
        if pending is not None:
            self.sync_now(only_due=pending)

    def _pushed(self, progress: object) -> None:
        if not isinstance(progress, PushProgress) or not self._active:
            return
        if progress.phase == "uploading" and progress.total > 0:
            percent = int(100 * progress.done / progress.total)
            self._progress_text = self.tr("Sending… {p} %").format(p=percent)
        elif progress.phase == "submitting":
            self._progress_text = self.tr("Sending…")
        self._update_status()
        editor = self.editing.editor
        if editor is not None and editor.record is not None \
                and editor.record.id in progress.asset_ids:  # fmt: skip
            editor.feedback.show_progress(progress.entry_id, progress.phase, progress.done,
                                          progress.total, progress.message)  # fmt: skip

    # --------------------------------------------------------------- connect

    def show_connect(self, address: str = "") -> None:
        if not self._active:
            return
        if self.connect_dialog is not None:
            self.connect_dialog.raise_()
            self.connect_dialog.activateWindow()
            return
        dialog = ConnectDialog(default_device_name(), self.window, address)
        self.connect_dialog = dialog
        dialog.connect_requested.connect(
            lambda url, code, name: self._connect(dialog, url, code, name))
        dialog.finished.connect(lambda _r: self._closed("connect_dialog", dialog))
        dialog.open()

    def _connect(self, dialog: ConnectDialog, url: str, code: str, name: str) -> None:
        space = self._space()
        if space is None:
            return
        guard = self.job_guard(space)

        def done(result: object) -> None:
            assert isinstance(result, AccountView)
            if dialog.isVisible():
                dialog.connected(result)
                self.message.emit(self.tr("Connected to {org}. Nothing is shared until you "
                                          "choose to.").format(org=result.workspace_name))
            else:  # the invite is spent: keeping the account is the honest outcome
                self.message.emit(self.tr(
                    "{org} was connected after all (the server answered after Cancel). "
                    "Disconnect it in Preferences ▸ Organisations if you did not mean to."
                ).format(org=result.workspace_name))  # fmt: skip
            self.refresh(then_sync=True)

        def failed(error: BaseException) -> None:
            if dialog.isVisible():
                dialog.failed(describe(error), _field_to_fix(error))

        self.runner.run_network(lambda: sync_jobs.connect_account(space, url, code, name),
                                on_done=guard(done), on_error=guard(failed))  # fmt: skip

    def disconnect_account(self, account_id: str) -> None:
        space = self._space()
        account = next((a for a in self.accounts if a.id == account_id), None)
        if space is None or account is None:
            return
        text = self.tr(
            "Disconnect from {org}?\n\nThis computer's connection is forgotten, and nothing "
            "more is sent to {org} or received from it. Receipts, feedback and decisions "
            "already in your space are kept. Submissions not yet delivered stay in the outbox "
            "until you connect this workspace again.").format(org=account.label)  # fmt: skip
        if not self.confirm(self.tr("Disconnect"), text, self.tr("&Disconnect")):
            return
        guard = self.job_guard(space)

        def done(waiting: object) -> None:
            text = self.tr("Disconnected from {org}. Receipts and feedback stay in your "
                           "space.").format(org=account.workspace_name)  # fmt: skip
            if isinstance(waiting, int) and waiting:
                text += " " + self.tr("{n} submission(s) not yet delivered wait in the outbox "
                                      "until you connect again.").format(n=waiting)  # fmt: skip
            self.message.emit(text)
            self.refresh()

        self.runner.run_store(lambda: sync_jobs.disconnect_account(space, account_id),
                              on_done=guard(done), on_error=guard(self.report))  # fmt: skip

    def attach_settings(self, dialog: SettingsDialog) -> None:
        """Preferences is open: its Organisations tab lists the accounts and asks here."""
        page = dialog.organisations
        self.settings_page = page
        page.connect_requested.connect(lambda: self.show_connect())
        page.disconnect_requested.connect(self.disconnect_account)
        page.resource_open_requested.connect(self.open_resource)
        page.resource_save_requested.connect(self.save_resource)
        page.set_accounts(self.accounts)
        page.set_resources(self.snapshot.resources if self.snapshot else ())
        dialog.finished.connect(lambda _r: self._closed("settings_page", page))
        if self._wants_organisations_tab:
            self._wants_organisations_tab = False
            dialog.tabs.setCurrentWidget(page)
        self.refresh()

    # ------------------------------------------------ organisations' resources

    def _resource(self, resource_id: str) -> OrganisationResource | None:
        snap = self.snapshot
        return next((r for r in snap.resources if r.id == resource_id), None) if snap else None

    def open_resource(self, resource_id: str) -> None:
        """A link opens in the browser; a document is decrypted into the private folder
        (wiped on lock, like opened attachments) and handed to the system's application."""
        space, resource = self._space(), self._resource(resource_id)
        if space is None or resource is None:
            return
        if resource.kind == "link":
            if resource.url and not QDesktopServices.openUrl(QUrl(resource.url)):
                self.message.emit(self.tr("No web browser could be started for this link."))
            return
        name = document_file_name(resource)
        if Path(name).suffix.lower() in RISKY_SUFFIXES \
                and not self.editing.confirm_risky_open(name):  # fmt: skip
            return
        private, guard = self.editing.private, self.job_guard(space)

        def write() -> Path:
            return private.write(name, [document_content(space, resource_id)[1]])

        def opened(path: object) -> None:
            assert isinstance(path, Path)
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
                self.message.emit(self.tr("No application on this computer opens this kind "
                                          "of file. Save a copy instead."))  # fmt: skip

        self.runner.run_store(write, on_done=guard(opened), on_error=guard(self.report))

    def save_resource(self, resource_id: str, destination: str) -> None:
        space = self._space()
        if space is None or not destination:
            return
        guard = self.job_guard(space)

        def saved(resource: object) -> None:
            assert isinstance(resource, OrganisationResource)
            self.message.emit(self.tr("Saved a copy of “{name}”.").format(name=resource.name))

        self.runner.run_store(lambda: save_document(space, resource_id, Path(destination)),
                              on_done=guard(saved), on_error=guard(self.report))  # fmt: skip

    def _show_organisations(self) -> None:
        self._wants_organisations_tab = True
        self.settings_requested.emit()

    # ------------------------------------------------ outbox and feedback

    def show_outbox(self) -> None:
        if not self._active:
            return
        if self.outbox_view is None:
            view = OutboxView(self.window)
            self.outbox_view = view
            view.retry_requested.connect(self.retry)
            view.discard_requested.connect(self.discard)
            view.sync_requested.connect(lambda: self.sync_now(only_due=False))
            view.finished.connect(lambda _r: self._closed("outbox_view", view))
        if self.snapshot is not None:
            self.outbox_view.set_entries(self.snapshot.entries)
        self.outbox_view.open()
        self.outbox_view.raise_()
        self.refresh()

    def retry(self, entry_ids: str | list[str]) -> None:
        space = self._space()
        ids = [entry_ids] if isinstance(entry_ids, str) else list(entry_ids)
        if space is None or not ids:
            return
        guard = self.job_guard(space)

        def done(_count: object) -> None:
            self.message.emit(self.tr("Queued again; it is being sent."))
            self.refresh()
            self.sync_now(only_due=False)

        self.runner.run_store(lambda: sync_jobs.retry_entries(space, ids), on_done=guard(done),
                              on_error=guard(self.report))  # fmt: skip

    def discard(self, entry_id: str) -> None:
        space = self._space()
        if space is None:
            return
        if not self.confirm(self.tr("Discard"), self.tr(
                "Take this submission out of the outbox? It has not been delivered, and it will "
                "not be sent. Your items stay as they are in your space."),
                self.tr("&Discard")):  # fmt: skip
            return
        guard = self.job_guard(space)

        def done(_result: object) -> None:
            self.message.emit(self.tr("Taken out of the outbox."))
            self.refresh()

        self.runner.run_store(lambda: sync_jobs.discard_entry(space, entry_id),
                              on_done=guard(done), on_error=guard(self.report))  # fmt: skip

    def _editor_opened(self, editor: object) -> None:
        if not isinstance(editor, AssetEditor):
            return
        self.sharing.editor_opened(editor)
        editor.feedback.retry_requested.connect(self.retry)
        editor.feedback.discard_requested.connect(self.discard)
        if editor.record is not None:
            self.refresh()

    # ---------------------------------------------------------------- helpers

    def confirm(self, title: str, text: str, action: str) -> bool:
        """Ask before something that cannot be undone; Cancel is the default. The box sits
        on the dialog that asked, if one did. A space locked while it was open says no."""
        space = self._space()
        parent = QApplication.activeModalWidget() or self.window
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Cancel, parent)  # fmt: skip
        box.setObjectName("sync_confirm")
        go = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go and space is not None and self._space() is space

    def _closed(self, name: str, widget: object) -> None:
        if getattr(self, name) is widget:
            setattr(self, name, None)

    def report(self, error: BaseException) -> None:
        self.message.emit(describe(error))


def _field_to_fix(error: BaseException) -> str:
    if isinstance(error, InviteInvalid):
        return "code"
    if isinstance(error, InvalidServerAddress | ServerUnreachable | UnexpectedAnswer
                  | CertificateRejected):  # fmt: skip
        return "address"
    return ""


def _clock(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return ""
    return moment.strftime("%H:%M")

