"""Starting the desktop app (and the throwaway demo space)."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app.private_files import PrivateFolder
from ui import preferences
from ui.main_window import MAX_RECENT, MainWindow, is_archive
from ui.theme import apply_theme

#: packaging/linux/<id>.desktop, and the AppStream id.
DESKTOP_FILE_ID = "org.cairn_learning.Cairn"


def open_file(window: MainWindow, path: Path) -> None:
    """Show a file given on the command line (a file manager's Open): an archive
    goes to Restore, anything else to Unlock, first in the list of spaces."""
    if is_archive(path):
        window.show_restore(path)
        return
    chosen = str(path.resolve())
    recent = [chosen, *(str(p) for p in window.recent_spaces() if str(p) != chosen)]
    preferences.write(window.settings, preferences.RECENT_SPACES, tuple(recent[:MAX_RECENT]))
    window.show_start()


def run(argv: list[str] | None = None, *, demo: bool = False, open_path: Path | None = None
        ) -> int:  # fmt: skip
    """Start the desktop app, on `open_path` if given (a space, or an archive to
    restore); returns the exit code of the event loop."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(
        argv if argv is not None else sys.argv)  # fmt: skip
    app.setApplicationName("Cairn")
    app.setOrganizationName("Cairn")
    # On Wayland, the window's app id: the desktop file gives it its name and icon.
    app.setDesktopFileName(DESKTOP_FILE_ID)
    # Ctrl+C or a kill quits cleanly (saving, locking, removing the demo): Python
    # handles signals only when it runs, so a short timer gives it the chance.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: QApplication.closeAllWindows())
    heartbeat = QTimer(app)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)
    PrivateFolder.sweep_stale()  # files opened before a crash are not left decrypted
    if not demo:
        window = MainWindow()
        apply_theme(app, preferences.read(window.settings, preferences.THEME))
        window.show()
        if open_path is not None:
            open_file(window, open_path)
        return int(app.exec())

    from app.demo import DEMO_PASSPHRASE, create_demo_space

    folder = Path(tempfile.mkdtemp(prefix="cairn-demo-"))
    try:
        path = folder / "demo.cairn"
        print("Creating a demo space (it is deleted when you close Cairn)…", flush=True)
        create_demo_space(path).lock()
        print(f"Demo space: {path}\nPassphrase: {DEMO_PASSPHRASE}", flush=True)
        # The demo never touches the person's own settings or recent spaces.
        settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        settings.setValue("spaces/recent", [str(path)])
        window = MainWindow(settings=settings)
        apply_theme(app, "system")
        window.setWindowTitle(window.tr("Cairn (demo)"))
        window.show()
        return int(app.exec())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
