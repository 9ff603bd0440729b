"""The main window: it only wires. Pages request; the window decides and runs
slow work (key derivation, listing, search) on the task runner."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.dashboard import Dashboard, build_dashboard
from app.forms.library import TemplateLibrary
from app.forms.model import Template
from app.portable import NewSpace, import_portable
from app.space import Space
from store.kdf import PRODUCTION_POLICY, KdfPolicy
from store.records import AssetRecord
from store.search import SearchHit
from ui import preferences, transfers
from ui.capture_control import CaptureControl
from ui.editing import EditingController
from ui.editor import AssetEditor
from ui.first_run import CreateSpacePage, RecoveryKeyPage, RestoreSpacePage, WelcomePage
from ui.icons import app_icon, icon
from ui.library import LibraryPage
from ui.messages import describe
from ui.preferences import default_space_path
from ui.settings_dialog import GeneralSettings, SettingsDialog
from ui.sync_controller import SyncController
from ui.tasks import TaskRunner
from ui.theme import apply_theme
from ui.transfer_dialog import ExportDialog, ImportDialog
from ui.unlock import RecoverPage, UnlockPage

MAX_RECENT = 8
_ACTIVITY = {
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
    QEvent.Type.Wheel, QEvent.Type.TouchBegin,
}  # fmt: skip


def is_archive(path: Path) -> bool:
    """A portable archive (age-encrypted), as opposed to a space (SQLite)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(AGE_MAGIC)) == AGE_MAGIC
    except OSError:
        return False


AGE_MAGIC = b"age-encryption.org/v1"


class MainWindow(QMainWindow):
    """Welcome, create, unlock and recover, then the library; Ctrl+L locks."""

    def __init__(
        self,
        *,
        kdf_policy: KdfPolicy = PRODUCTION_POLICY,
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowTitle(self.tr("Cairn"))
        self.setWindowIcon(app_icon())
        self.kdf_policy = kdf_policy
        self.settings = settings if settings is not None else QSettings("Cairn", "Cairn")
        self.space: Space | None = None
        self.runner = TaskRunner(self)
        self.templates = {t.qualified_id: t for t in TemplateLibrary.load().all()}

        self.welcome = WelcomePage(self)
        self.create_page = CreateSpacePage(default_space_path(self.settings), self)
        self.restore_page = RestoreSpacePage(default_space_path(self.settings), self)
        self.recovery_key_page = RecoveryKeyPage(self)
        self.unlock_page = UnlockPage(self)
        self.recover_page = RecoverPage(self)
        self.library = LibraryPage(self)
        self.library.set_templates(self.templates)
        self.editing = EditingController(self.runner, self.templates, lambda: self.space, self)
        self.capture = CaptureControl(self.runner, lambda: self.space, self)
        self.sync = SyncController(self.runner, lambda: self.space, self.editing, self.library,
                                   self)  # fmt: skip
        self.settings_dialog: SettingsDialog | None = None
        self.transfer_dialog: ExportDialog | ImportDialog | None = None
        self.stack = QStackedWidget(self)
        for page in (self.welcome, self.create_page, self.restore_page, self.recovery_key_page,
                     self.unlock_page,
                     self.recover_page, self.library):  # fmt: skip
            self.stack.addWidget(page)
        self._build_actions()

        self.welcome.create_requested.connect(self.show_create)
        self.welcome.open_requested.connect(self._open_existing)
        self.welcome.restore_requested.connect(self._choose_archive)
        self.restore_page.back_requested.connect(self.show_start)
        self.restore_page.restore_requested.connect(self.restore_space)
        self.create_page.back_requested.connect(self.show_start)
        self.create_page.create_requested.connect(self.create_space)
        self.recovery_key_page.continue_requested.connect(self._recovery_key_done)
        self.unlock_page.unlock_requested.connect(self.unlock_space)
        self.unlock_page.recover_requested.connect(self._show_recover)
        self.unlock_page.create_requested.connect(self.show_create)
        self.recover_page.back_requested.connect(lambda: self._show(self.unlock_page))
        self.recover_page.recover_requested.connect(self.recover_space)
        self.library.search_requested.connect(self.search)
        self.library.open_requested.connect(self.editing.open_asset)
        self.editing.editor_opened.connect(self._editor_opened)
        self.editing.editor_closed.connect(self._editor_closed)
        self.editing.library_changed.connect(self.refresh_library)
        self.editing.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.library.link_captured_requested.connect(self.editing.link_to_plans)
        self.library.reflect_requested.connect(self.editing.reflect_on)
        self.library.reviewed_requested.connect(self.editing.mark_reviewed)
        self.capture.captured.connect(self._captured)
        self.capture.notice.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.capture.library_changed.connect(self.refresh_library)
        # Built only when shown: it reads every asset, too much to redo on each autosave.
        self.library.dashboard_shown.connect(self.refresh_dashboard)
        self.sync.message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.sync.settings_requested.connect(self.show_settings)
        self.statusBar().addPermanentWidget(self.sync.status_button)

        self.idle_timer = QTimer(self)
        self.idle_timer.setObjectName("idle_timer")
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(self._idle_timeout)
        self.set_idle_lock(int(preferences.read(self.settings, preferences.IDLE_LOCK_MINUTES))
                           * 60_000)  # fmt: skip
        application = QApplication.instance()
        if application is not None:
            application.installEventFilter(self)

        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.sync.banner)  # a problem that stopped sync, when there is one
        column.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.resize(1100, 720)
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.show_start()

    # ---------------------------------------------------------------- actions

    def _build_actions(self) -> None:
        self.new_action = QAction(icon("new"), self.tr("&New…"), self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.setEnabled(False)
        self.new_action.triggered.connect(self.editing.new_asset)
        self.save_action = QAction(icon("save"), self.tr("&Save"), self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setEnabled(False)
        self.save_action.triggered.connect(self.editing.save_editor)
        self.undo_action = QAction(icon("undo"), self.tr("&Undo"), self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setEnabled(False)
        self.undo_action.triggered.connect(self._undo)
        self.redo_action = QAction(icon("redo"), self.tr("&Redo"), self)
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        self.redo_action.setEnabled(False)
        self.redo_action.triggered.connect(self._redo)
        self.export_action = QAction(self.tr("&Export…"), self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setEnabled(False)
        self.export_action.triggered.connect(self.show_export)
        self.import_action = QAction(self.tr("&Import…"), self)
        self.import_action.setEnabled(False)
        self.import_action.triggered.connect(self.show_import)
        self.restore_action = QAction(self.tr("&Restore a Space from an Archive…"), self)
        self.restore_action.triggered.connect(self._choose_archive)
        self.lock_action = QAction(icon("lock"), self.tr("&Lock"), self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.setEnabled(False)
        self.lock_action.triggered.connect(self.lock)
        self.find_action = QAction(icon("search"), self.tr("&Find"), self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.setEnabled(False)
        self.find_action.triggered.connect(self._focus_search)
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.preferences_action = QAction(icon("settings"), self.tr("&Preferences…"), self)
        self.preferences_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.preferences_action.triggered.connect(self.show_settings)
        self.about_action = QAction(icon("about"), self.tr("&About Cairn"), self)
        self.about_action.triggered.connect(self._about)
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.restore_action)
        file_menu.addSeparator()
        file_menu.addMenu(self.sync.menu)
        file_menu.addSeparator()
        file_menu.addAction(self.lock_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = self.menuBar().addMenu(self.tr("&Edit"))
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.find_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.preferences_action)
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        help_menu.addAction(self.about_action)

    # ------------------------------------------------------------------ pages

    def _show(self, page: QWidget) -> None:
        self.stack.setCurrentWidget(page)
        unlocked = page is self.library or (self.editor is not None and page is self.editor)
        self.lock_action.setEnabled(unlocked)
        self.new_action.setEnabled(unlocked)
        self.export_action.setEnabled(unlocked)
        self.import_action.setEnabled(unlocked)
        self.find_action.setEnabled(page is self.library)
        self.save_action.setEnabled(self.editor is not None and page is self.editor)
        self._update_undo_actions()

    @property
    def editor(self) -> AssetEditor | None:
        return self.editing.editor

    def open_editor(self, template: Template, record: AssetRecord | None) -> None:
        self.editing.open_editor(template, record)

    def _editor_opened(self, editor: AssetEditor) -> None:
        editor.undo_changed.connect(self._update_undo_actions)
        self.stack.addWidget(editor)
        self._show(editor)
        editor.title.setFocus()

    def _editor_closed(self) -> None:
        was_shown = isinstance(self.stack.currentWidget(), AssetEditor)
        for index in reversed(range(self.stack.count())):
            widget = self.stack.widget(index)
            if isinstance(widget, AssetEditor):
                self.stack.removeWidget(widget)
        if was_shown and self.space is not None:
            self._show(self.library)
            self.library.table.setFocus()
        self._update_undo_actions()

    def _undo(self) -> None:
        if self.editor is not None:
            self.editor.undo()

    def _redo(self) -> None:
        if self.editor is not None:
            self.editor.redo()

    def _update_undo_actions(self) -> None:
        editor = self.editor
        shown = editor is not None and self.stack.currentWidget() is editor
        self.undo_action.setEnabled(shown and editor is not None and editor.can_undo)
        self.redo_action.setEnabled(shown and editor is not None and editor.can_redo)

    def recent_spaces(self) -> list[Path]:
        paths = preferences.read(self.settings, preferences.RECENT_SPACES)
        return [Path(p) for p in paths if Path(p).is_file()]

    def _remember(self, path: Path) -> None:
        recent = [str(path.resolve())]
        recent += [str(p) for p in self.recent_spaces() if str(p) != recent[0]]
        preferences.write(self.settings, preferences.RECENT_SPACES, tuple(recent[:MAX_RECENT]))

    def show_start(self) -> None:
        recent = self.recent_spaces()
        if recent:
            self.unlock_page.set_spaces(recent, recent[0])
            self.unlock_page.reset()
            self._show(self.unlock_page)
        else:
            self._show(self.welcome)

    def show_create(self) -> None:
        self.create_page.fields.clear()
        self.create_page.set_path(default_space_path(self.settings))
        self.create_page.set_busy(False)
        self._show(self.create_page)
        self.create_page.fields.passphrase.setFocus()

    def _open_existing(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open a space"), "", self.tr("Cairn spaces (*.cairn);;All files (*)")
        )
        if chosen and is_archive(Path(chosen)):
            self.show_restore(Path(chosen))  # an exported archive, not a space: restore it
        elif chosen:
            self.unlock_page.set_spaces([Path(chosen), *self.recent_spaces()], Path(chosen))
            self.unlock_page.reset()
            self._show(self.unlock_page)

    def _choose_archive(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, self.tr("Restore from a portable archive"), "",
            self.tr("Cairn archives (*.cairn-archive *.cairn);;All files (*)"))  # fmt: skip
        if chosen:
            self.show_restore(Path(chosen))

    def show_restore(self, archive: Path) -> None:
        if self.space is not None:
            self.lock()  # restoring makes another space: this one is saved and locked first
        self.restore_page.set_path(default_space_path(self.settings))
        self.restore_page.start(archive)
        self._show(self.restore_page)
        self.restore_page.archive_passphrase.setFocus()

    def restore_space(self, path: str, passphrase: str, archive: str, archive_passphrase: str
                      ) -> None:  # fmt: skip
        self.restore_page.set_busy(True, self.tr("Restoring your space from the archive…"))
        policy = self.kdf_policy

        def restore() -> tuple[Space, str]:
            report = import_portable(Path(archive), NewSpace(Path(path), passphrase, policy),
                                     archive_passphrase)  # fmt: skip
            space = Space.open(Path(path), passphrase, kdf_policy=policy)
            return space, report.recovery_key or ""

        def done(result: object) -> None:
            self.restore_page.set_busy(False)
            self.restore_page.archive_passphrase.clear()
            self._created(result)

        self.runner.run_store(
            restore, on_done=done,
            on_error=lambda error: self.restore_page.set_busy(False, describe(error)))  # fmt: skip

    def _show_recover(self, path: str) -> None:
        self.recover_page.start(path)
        self._show(self.recover_page)

    # ------------------------------------------------------ create and unlock

    def create_space(self, path: str, passphrase: str) -> None:
        self.create_page.set_busy(True, self.tr("Creating your space and its keys…"))
        policy = self.kdf_policy
        self.runner.run_store(
            lambda: Space.create(Path(path), passphrase, kdf_policy=policy),
            on_done=self._created,
            on_error=lambda error: self.create_page.set_busy(False, describe(error)),
        )

    def _created(self, result: object) -> None:
        assert isinstance(result, tuple)
        space, recovery_key = result
        assert isinstance(space, Space)
        assert isinstance(recovery_key, str)
        self.create_page.set_busy(False)
        self.create_page.fields.clear()
        self.restore_page.fields.clear()
        self.space = space
        self._remember(space.path)
        if not recovery_key:  # nothing new to show
            self._enter_library()
            return
        self.recovery_key_page.show_key(recovery_key)
        self._show(self.recovery_key_page)
        self.recovery_key_page.retype.setFocus()

    def _recovery_key_done(self) -> None:
        self.recovery_key_page.forget_key()
        self._enter_library()

    def unlock_space(self, path: str, passphrase: str) -> None:
        self.unlock_page.set_busy(True)
        policy = self.kdf_policy
        self.runner.run_store(
            lambda: Space.open(Path(path), passphrase, kdf_policy=policy),
            on_done=self._unlocked,
            on_error=self._unlock_failed,
        )

    def _unlocked(self, space: object) -> None:
        assert isinstance(space, Space)
        self.space = space
        self.unlock_page.reset()
        self._remember(space.path)
        self._enter_library()

    def _unlock_failed(self, error: BaseException) -> None:
        self.unlock_page.set_busy(False)
        self.unlock_page.show_error(describe(error))

    def recover_space(self, path: str, recovery_key: str, new_passphrase: str) -> None:
        self.recover_page.set_busy(True)
        policy = self.kdf_policy

        def recover() -> Space:
            space = Space.open_with_recovery_key(Path(path), recovery_key, kdf_policy=policy,
                                                 index="background")  # fmt: skip
            try:
                space.change_passphrase(new_passphrase)
            except BaseException:
                space.lock()
                raise
            return space

        def failed(error: BaseException) -> None:
            self.recover_page.set_busy(False)
            self.recover_page.error.setText(describe(error))

        self.runner.run_store(recover, on_done=self._unlocked, on_error=failed)

    # ---------------------------------------------------------------- library

    def _enter_library(self) -> None:
        self._start_capture()
        self.sync.start()
        self._show(self.library)
        self._restart_idle_timer()
        self.refresh_library()
        self.library.search.setFocus()

    def refresh_library(self) -> None:
        space = self.space
        if space is None:
            return
        self.runner.run_store(
            lambda: space.list_assets()[0],
            on_done=self._listed,
            on_error=lambda error: self.statusBar().showMessage(describe(error), 8000),
        )

    def _listed(self, summaries: object) -> None:
        if self.space is not None:  # locked meanwhile: show nothing
            self.library.set_assets(summaries)  # type: ignore[arg-type]
            self.editing.set_summaries(summaries)  # type: ignore[arg-type]

    def refresh_dashboard(self) -> None:
        space, templates = self.space, self.templates
        if space is None:
            return
        self.runner.run_store(
            lambda: build_dashboard(list(space.iter_assets()), templates),
            on_done=self._dashboard_ready,
        )

    def _dashboard_ready(self, board: object) -> None:
        if self.space is not None and isinstance(board, Dashboard):
            self.library.dashboard.set_dashboard(board)

    def search(self, query: str) -> None:
        space = self.space
        if space is None:
            return

        def run() -> list[tuple[str, str]]:
            hits: list[SearchHit] = space.search(query)
            return [(hit.asset_id, hit.snippet) for hit in hits]

        # Searches run beside store jobs: the index has its own lock.
        self.runner.run_network(
            run,
            on_done=lambda hits: self._searched(query, hits),
            on_error=lambda error: self.statusBar().showMessage(describe(error), 8000),
        )

    def _searched(self, query: str, hits: object) -> None:
        if self.space is not None:
            self.library.show_search_results(query, hits)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- settings

    def show_settings(self) -> None:
        current = GeneralSettings(
            round(self.idle_timer.interval() / 60_000),
            preferences.default_space_folder(self.settings),
            preferences.read(self.settings, preferences.THEME),
            tuple(preferences.inbox_folders(self.settings)),
            str(preferences.read(self.settings, preferences.INBOX_IGNORE)),
        )
        dialog = SettingsDialog(current, self.space is not None, self)
        self.settings_dialog = dialog
        dialog.idle_minutes.valueChanged.connect(self._idle_minutes_changed)
        dialog.space_folder_changed.connect(
            lambda folder: preferences.write(self.settings, preferences.SPACE_FOLDER, folder))
        dialog.theme_changed.connect(self._theme_changed)
        dialog.inbox_folders_changed.connect(self._inbox_folders_changed)
        dialog.inbox_ignore_changed.connect(self._inbox_ignore_changed)
        dialog.change_passphrase_requested.connect(self._change_passphrase)
        dialog.new_recovery_key_requested.connect(self._new_recovery_key)
        dialog.recalibrate_requested.connect(self._recalibrate)
        self.sync.attach_settings(dialog)
        if self.space is not None:  # a file read: not on the GUI thread
            path = self.space.path
            self.runner.run_store(lambda: Space.read_header(path).kdf,
                                  on_done=lambda kdf: self._show_kdf_cost(dialog, kdf))  # fmt: skip
        dialog.open()

    def _show_kdf_cost(self, dialog: SettingsDialog, kdf: object) -> None:
        if self.settings_dialog is dialog and isinstance(kdf, dict) \
                and isinstance(kdf.get("m"), int) and isinstance(kdf.get("t"), int):  # fmt: skip
            dialog.show_kdf_cost(kdf["m"], kdf["t"], None)

    def _idle_minutes_changed(self, minutes: int) -> None:
        preferences.write(self.settings, preferences.IDLE_LOCK_MINUTES, minutes)
        self.set_idle_lock(minutes * 60_000)

    def _start_capture(self) -> None:
        self.capture.start(preferences.inbox_folders(self.settings),
                           preferences.inbox_ignore(self.settings))  # fmt: skip

    def _inbox_folders_changed(self, folders: list[tuple[Path, str]]) -> None:
        preferences.set_inbox_folders(self.settings, folders)
        if self.space is not None:
            self._start_capture()

    def _inbox_ignore_changed(self, patterns: str) -> None:
        if patterns != preferences.read(self.settings, preferences.INBOX_IGNORE):
            preferences.write(self.settings, preferences.INBOX_IGNORE, patterns)
            if self.space is not None:
                self._start_capture()

    def _captured(self, count: int, title: str) -> None:
        text = (self.tr("New evidence from your inbox folder: “{title}”. See Captured.")
                .format(title=title) if count == 1 else
                self.tr("{count} new pieces of evidence from your inbox folders. See Captured.")
                .format(count=count))  # fmt: skip
        self.statusBar().showMessage(text, 15000)

    def _theme_changed(self, theme: str) -> None:
        preferences.write(self.settings, preferences.THEME, theme)
        application = QApplication.instance()
        if isinstance(application, QApplication):
            apply_theme(application, theme)

    def _recalibrate(self, passphrase: str) -> None:
        space, dialog = self.space, self.settings_dialog
        if space is None or dialog is None:
            return
        seconds = None if self.kdf_policy.fixed else self.kdf_policy.target_seconds

        def done(result: object) -> None:
            assert isinstance(result, tuple)
            new = result[1]
            dialog.recalibrated(None, new.memory_kib, new.iterations, seconds)

        self.runner.run_store(
            lambda: space.recalibrate(passphrase),
            on_done=done,
            on_error=lambda error: dialog.recalibrated(describe(error)),
        )

    def _change_passphrase(self, passphrase: str) -> None:
        space, dialog = self.space, self.settings_dialog
        if space is None or dialog is None:
            return
        self.runner.run_store(
            lambda: space.change_passphrase(passphrase),
            on_done=lambda _r: dialog.passphrase_changed(None),
            on_error=lambda error: dialog.passphrase_changed(describe(error)),
        )

    def _new_recovery_key(self) -> None:
        space, dialog = self.space, self.settings_dialog
        if space is None or dialog is None:
            return
        self.runner.run_store(
            space.replace_recovery_key,
            on_done=lambda key: dialog.show_new_key(str(key)),
            on_error=lambda error: self.statusBar().showMessage(describe(error), 8000),
        )

    # ---------------------------------------------------------- export, import

    def show_export(self) -> None:
        tags = sorted({t for s in self.library.all_summaries() for t in s.tags}, key=str.casefold)
        dialog = ExportDialog(tags, self.library.chosen(), self)
        self.transfer_dialog = dialog
        dialog.export_requested.connect(self._export)
        dialog.open()

    def _export(self, fmt: str, destination: str, scope: str, passphrase: str, title: str
                ) -> None:  # fmt: skip
        space, dialog = self.space, self.transfer_dialog
        if space is None or not isinstance(dialog, ExportDialog):
            return
        progress = dialog.progress
        self.runner.run_store(
            lambda: transfers.export(space, fmt, Path(destination), scope, passphrase, title,
                                     progress),  # fmt: skip
            on_done=lambda report: dialog.job_done(None, transfers.summary(report)),
            on_error=lambda error: dialog.job_done(describe(error)),
        )

    def show_import(self) -> None:
        dialog = ImportDialog(self)
        self.transfer_dialog = dialog
        dialog.import_requested.connect(self._import)
        dialog.open()

    def _import(self, fmt: str, source: str, passphrase: str) -> None:
        space, dialog = self.space, self.transfer_dialog
        if space is None or not isinstance(dialog, ImportDialog):
            return
        progress = dialog.progress

        def done(report: object) -> None:
            dialog.job_done(None, transfers.summary(report))
            self.refresh_library()

        self.runner.run_store(
            lambda: transfers.import_into(space, fmt, Path(source), passphrase, progress),
            on_done=done,
            on_error=lambda error: dialog.job_done(describe(error)),
        )

    # --------------------------------------------------------------- idle lock

    def set_idle_lock(self, milliseconds: int) -> None:
        """Lock after this long without keyboard or mouse input; 0 turns it off."""
        self.idle_timer.setInterval(max(0, milliseconds))
        self._restart_idle_timer()

    def _restart_idle_timer(self) -> None:
        if self.space is not None and self.idle_timer.interval() > 0:
            self.idle_timer.start()
        else:
            self.idle_timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY and self.space is not None:
            self.idle_timer.start()
        return False

    def _idle_timeout(self) -> None:
        if self.space is not None:
            self.lock()
            self.statusBar().showMessage(self.tr("Locked after a period of inactivity."), 10000)

    def _focus_search(self) -> None:
        self.library.search.setFocus()
        self.library.search.selectAll()

    # ------------------------------------------------------------------- lock

    def lock(self) -> None:
        """Forget everything decrypted and return to the unlock screen."""
        self.capture.stop()
        self.sync.stop()
        self.editing.lock()
        for dialog in (self.settings_dialog, self.transfer_dialog):
            if dialog is not None:
                if isinstance(dialog, ExportDialog | ImportDialog):
                    dialog.progress.cancel.set()  # a job under way stops and keeps nothing
                dialog.close()  # they act on the space
        self.settings_dialog = self.transfer_dialog = None
        space, self.space = self.space, None
        self.idle_timer.stop()
        self.library.clear()
        self.recovery_key_page.forget_key()
        if space is not None:
            self.runner.run_store(space.lock)
        self.show_start()

    def closeEvent(self, event: QCloseEvent) -> None:
        application = QApplication.instance()
        if application is not None:
            application.removeEventFilter(self)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.lock()
        self.runner.wait()
        self.settings.sync()
        super().closeEvent(event)

    def _about(self) -> None:
        try:
            version = metadata.version("cairn")
        except metadata.PackageNotFoundError:
            version = "unknown"
        QMessageBox.about(
            self,
            self.tr("About Cairn"),
            self.tr(
                "<h3>Cairn {version}</h3><p>Your personal learning space: plans, reflections "
                "and evidence, in one encrypted file that belongs to you.</p>"
            ).format(version=version),
        )
