"""`cairn FILE` (a file manager's Open with Cairn): a space to unlock, an archive to restore."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.space import Space
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE
from ui.app import open_file
from ui.main_window import MainWindow


def test_a_space_opens_on_the_unlock_page_an_archive_on_restore(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    space, _ = Space.create(tmp_path / "mine.cairn", PASSPHRASE, kdf_policy=kdf_policy)
    space.lock()
    archive = tmp_path / "me.cairn-archive"
    archive.write_bytes(b"age-encryption.org/v1\n-> scrypt ...")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(kdf_policy=kdf_policy, settings=settings)
    qtbot.addWidget(window)
    window.show()
    assert window.stack.currentWidget() is window.welcome

    open_file(window, tmp_path / "mine.cairn")
    assert window.stack.currentWidget() is window.unlock_page
    assert Path(window.unlock_page.current_path()) == (tmp_path / "mine.cairn").resolve()

    open_file(window, archive)
    assert window.stack.currentWidget() is window.restore_page
