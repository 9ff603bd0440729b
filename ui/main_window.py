"""The main window: it only wires. Pages request; the window decides and runs
slow work (key derivation, listing, search) on the task runner."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import platformdirs
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from app.dashboard import Dashboard, build_dashboard
from app.forms.library import TemplateLibrary
from app.forms.model import Template
from app.forms.render import to_html
from app.space import Space
from store.kdf import PRODUCTION_POLICY, KdfPolicy
from store.records import AssetRecord
from store.search import SearchHit
from ui.editor import AssetEditor, TemplatePicker
from ui.first_run import CreateSpacePage, RecoveryKeyPage, WelcomePage
from ui.history import HistoryDialog
from ui.library import LibraryPage
from ui.messages import describe
from ui.settings_dialog import SettingsDialog
from ui.tasks import TaskRunner
from ui.unlock import RecoverPage, UnlockPage

MAX_RECENT = 8
DEFAULT_IDLE_LOCK_MINUTES = 10
_ACTIVITY = {
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
    QEvent.Type.Wheel, QEvent.Type.TouchBegin,
}  # fmt: skip


def default_space_path() -> Path:
    """The space in the platform's user data folder (a fresh name if one is there)."""
    folder = Path(platformdirs.user_data_dir("cairn", appauthor=False))
    candidate = folder / "space.cairn"
    number = 2
    while candidate.exists():
        candidate = folder / f"space-{number}.cairn"
        number += 1
    return candidate


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
        self.kdf_policy = kdf_policy
        self.settings = settings if settings is not None else QSettings("Cairn", "Cairn")
        self.space: Space | None = None
        self.runner = TaskRunner(self)
        self.templates = {t.qualified_id: t for t in TemplateLibrary.load().all()}

        self.welcome = WelcomePage(self)
        self.create_page = CreateSpacePage(default_space_path(), self)
        self.recovery_key_page = RecoveryKeyPage(self)
        self.unlock_page = UnlockPage(self)
        self.recover_page = RecoverPage(self)
        self.library = LibraryPage(self)
        self.library.set_templates(self.templates)
        self.editor: AssetEditor | None = None
        self.history_dialog: HistoryDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.stack = QStackedWidget(self)
        for page in (self.welcome, self.create_page, self.recovery_key_page, self.unlock_page,
                     self.recover_page, self.library):  # fmt: skip
            self.stack.addWidget(page)
        self._build_actions()

        self.welcome.create_requested.connect(self.show_create)
        self.welcome.open_requested.connect(self._open_existing)
        self.create_page.back_requested.connect(self.show_start)
        self.create_page.create_requested.connect(self.create_space)
        self.recovery_key_page.continue_requested.connect(self._recovery_key_done)
        self.unlock_page.unlock_requested.connect(self.unlock_space)
        self.unlock_page.recover_requested.connect(self._show_recover)
        self.unlock_page.create_requested.connect(self.show_create)
        self.recover_page.back_requested.connect(lambda: self._show(self.unlock_page))
        self.recover_page.recover_requested.connect(self.recover_space)
        self.library.search_requested.connect(self.search)
        self.library.open_requested.connect(self.open_asset)
        # Built only when shown: it reads every asset, too much to redo on each autosave.
        self.library.dashboard_shown.connect(self.refresh_dashboard)

        self.idle_timer = QTimer(self)
        self.idle_timer.setObjectName("idle_timer")
        self.idle_timer.setSingleShot(True)
        self.idle_timer.timeout.connect(self._idle_timeout)
        minutes = self.settings.value("security/idle_lock_minutes", DEFAULT_IDLE_LOCK_MINUTES)
        try:
            idle_minutes = float(str(minutes))
        except ValueError:
            idle_minutes = DEFAULT_IDLE_LOCK_MINUTES
        self.set_idle_lock(int(idle_minutes * 60_000))
        application = QApplication.instance()
        if application is not None:
            application.installEventFilter(self)

        self.setCentralWidget(self.stack)
        self.resize(1100, 720)
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        self.show_start()

    # ---------------------------------------------------------------- actions

    def _build_actions(self) -> None:
        self.new_action = QAction(self.tr("&New…"), self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_action.setEnabled(False)
        self.new_action.triggered.connect(self.new_asset)
        self.save_action = QAction(self.tr("&Save"), self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.setEnabled(False)
        self.save_action.triggered.connect(self._save_editor)
        self.lock_action = QAction(self.tr("&Lock"), self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.lock_action.setEnabled(False)
        self.lock_action.triggered.connect(self.lock)
        self.find_action = QAction(self.tr("&Find"), self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.setEnabled(False)
        self.find_action.triggered.connect(self._focus_search)
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.preferences_action = QAction(self.tr("&Preferences…"), self)
        self.preferences_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.preferences_action.triggered.connect(self.show_settings)
        self.about_action = QAction(self.tr("&About Cairn"), self)
        self.about_action.triggered.connect(self._about)
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.save_action)
        file_menu.addSeparator()
        file_menu.addAction(self.lock_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = self.menuBar().addMenu(self.tr("&Edit"))
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
        self.find_action.setEnabled(page is self.library)
        self.save_action.setEnabled(self.editor is not None and page is self.editor)

    def recent_spaces(self) -> list[Path]:
        stored = self.settings.value("spaces/recent", [])
        if isinstance(stored, str):
            paths = [stored]
        elif isinstance(stored, list | tuple):
            paths = [str(p) for p in stored]
        else:
            paths = []
        return [Path(p) for p in paths if Path(p).is_file()]

    def _remember(self, path: Path) -> None:
        recent = [str(path.resolve())]
        recent += [str(p) for p in self.recent_spaces() if str(p) != recent[0]]
        self.settings.setValue("spaces/recent", recent[:MAX_RECENT])
        self.settings.sync()

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
        self.create_page.set_path(default_space_path())
        self.create_page.set_busy(False)
        self._show(self.create_page)
        self.create_page.fields.passphrase.setFocus()

    def _open_existing(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open a space"), "", self.tr("Cairn spaces (*.cairn);;All files (*)")
        )
        if chosen:
            self.unlock_page.set_spaces([Path(chosen), *self.recent_spaces()], Path(chosen))
            self.unlock_page.reset()
            self._show(self.unlock_page)

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
        self.space = space
        self._remember(space.path)
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

    # ----------------------------------------------------------------- editor

    def _save_editor(self) -> None:
        if self.editor is not None:
            self.editor.save_now()

    def new_asset(self) -> None:
        ordered = sorted(self.templates.values(), key=lambda t: (t.source != "builtin", t.name))
        template, accepted = TemplatePicker.get_template(ordered, self)
        if accepted and template is not None:
            self.open_editor(template, None)

    def open_asset(self, asset_id: str) -> None:
        space = self.space
        if space is None:
            return
        self.runner.run_store(
            lambda: space.get_asset(asset_id),
            on_done=self._asset_loaded,
            on_error=lambda error: self.statusBar().showMessage(describe(error), 8000),
        )

    def _asset_loaded(self, record: object) -> None:
        assert isinstance(record, AssetRecord)
        template = self.templates.get(record.template_id)
        if template is None:
            self.statusBar().showMessage(
                self.tr("The template of “{title}” is not installed, so it cannot be edited here.")
                .format(title=record.title), 8000)  # fmt: skip
            return
        self.open_editor(template, record)

    def open_editor(self, template: Template, record: AssetRecord | None) -> None:
        self._close_editor()
        editor = AssetEditor(template, record, self)
        editor.save_requested.connect(self._save_asset)
        editor.close_requested.connect(self._leave_editor)
        editor.history_requested.connect(self.show_history)
        self.editor = editor
        self.stack.addWidget(editor)
        self._show(editor)
        editor.title.setFocus()

    def _save_asset(self, title: str, values: dict, tags: list) -> None:  # type: ignore[type-arg]
        space, editor = self.space, self.editor
        if space is None or editor is None:
            return
        template, record = editor.template, editor.record

        def save() -> AssetRecord:
            if record is None:
                return space.add_asset(template.qualified_id, title, values, tags,
                                       template_version=template.version)  # fmt: skip
            return space.edit_asset(record.id, title=title, fields=values, tags=tags,
                                    template_version=template.version)  # fmt: skip

        def done(saved: object) -> None:
            assert isinstance(saved, AssetRecord)
            if self.editor is editor:
                editor.saved(saved)
            self.refresh_library()

        self.runner.run_store(
            save, on_done=done, on_error=lambda error: editor.save_failed(describe(error))
        )

    def show_history(self) -> None:
        space, editor = self.space, self.editor
        if space is None or editor is None or editor.record is None:
            return
        asset_id = editor.record.id
        self.runner.run_store(
            lambda: space.history(asset_id),
            on_done=lambda versions: self._open_history(asset_id, versions),
            on_error=lambda error: self.statusBar().showMessage(describe(error), 8000),
        )

    def _open_history(self, asset_id: str, versions: object) -> None:
        space, editor = self.space, self.editor
        if space is None or editor is None:
            return
        template = editor.template
        dialog = HistoryDialog(editor.title.text(), versions, self)  # type: ignore[arg-type]
        self.history_dialog = dialog

        def render(version: int) -> None:
            self.runner.run_store(
                lambda: to_html(space.get_version(asset_id, version), template),
                on_done=lambda html: dialog.show_version(version, str(html)),
            )

        def restore(version: int) -> None:
            self.runner.run_store(
                lambda: space.restore_version(asset_id, version),
                on_done=self._restored,
                on_error=lambda error: self.statusBar().showMessage(describe(error), 8000),
            )

        dialog.version_requested.connect(render)
        dialog.restore_requested.connect(restore)
        first = dialog.selected_version()
        if first is not None:
            render(first)
        dialog.open()

    def _restored(self, record: object) -> None:
        assert isinstance(record, AssetRecord)
        if self.editor is not None and self.editor.record is not None \
                and self.editor.record.id == record.id:  # fmt: skip
            self.editor.reload(record)
        self.statusBar().showMessage(
            self.tr("Restored as version {n}.").format(n=record.version), 8000
        )
        self.refresh_library()

    def _leave_editor(self) -> None:
        editor = self.editor
        if editor is not None and editor.dirty:
            editor.save_now()
            if editor.show_problems():
                return  # stay: the person sees what to fix before anything is lost
        self._close_editor()
        self._show(self.library)
        self.library.table.setFocus()

    def _close_editor(self) -> None:
        if self.editor is not None:
            self.stack.removeWidget(self.editor)
            self.editor.deleteLater()
            self.editor = None

    # ---------------------------------------------------------------- settings

    def show_settings(self) -> None:
        minutes = round(self.idle_timer.interval() / 60_000)
        dialog = SettingsDialog(minutes, self.space is not None, self)
        self.settings_dialog = dialog
        dialog.idle_minutes.valueChanged.connect(self._idle_minutes_changed)
        dialog.change_passphrase_requested.connect(self._change_passphrase)
        dialog.new_recovery_key_requested.connect(self._new_recovery_key)
        dialog.open()

    def _idle_minutes_changed(self, minutes: int) -> None:
        self.settings.setValue("security/idle_lock_minutes", minutes)
        self.settings.sync()
        self.set_idle_lock(minutes * 60_000)

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
        if self.editor is not None and self.editor.dirty and not self.editor.show_problems():
            self.editor.save_now()  # queued before the lock below: store jobs run in order
        self._close_editor()
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
