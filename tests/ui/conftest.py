"""A real window on a real (cheap-KDF) space, unlocked through the unlock page."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.space import Space
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE
from ui.main_window import MainWindow


@pytest.fixture
def unlocked(qtbot, tmp_path: Path, kdf_policy: KdfPolicy):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.cairn"
    Space.create(path, PASSPHRASE, kdf_policy=kdf_policy)[0].lock()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("spaces/recent", [str(path)])
    window = MainWindow(kdf_policy=kdf_policy, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.unlock_space(str(path), PASSPHRASE)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.library, timeout=10000)
    yield window
    window.lock()
    window.runner.wait()
