"""Preferences: where new spaces go, the theme, and re-measuring the key-derivation cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from app.space import Space
from store.kdf import KdfPolicy
from tests.conftest import PASSPHRASE
from ui import preferences
from ui.main_window import MainWindow
from ui.theme import apply_theme, contrast_ratio, error_style


@pytest.fixture
def restore_theme(qapp: QApplication):  # type: ignore[no-untyped-def]
    palette, style = QPalette(qapp.palette()), qapp.style().name()
    yield
    qapp.setStyle(style)
    qapp.setPalette(palette)


def test_folder_and_theme_persist_and_take_effect(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, kdf_policy: KdfPolicy, qapp: QApplication, restore_theme: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(kdf_policy=kdf_policy, settings=settings)
    qtbot.addWidget(window)
    window.show()
    window.preferences_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    folder = tmp_path / "Backed up"
    folder.mkdir()
    monkeypatch.setattr(dialog, "_ask_folder", lambda start: str(folder))
    qtbot.mouseClick(dialog.choose_folder, Qt.MouseButton.LeftButton)
    assert dialog.space_folder.text() == str(folder)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    dialog.close()

    reopened = MainWindow(kdf_policy=kdf_policy, settings=settings)  # persisted
    qtbot.addWidget(reopened)
    assert preferences.read(settings, preferences.THEME) == "dark"
    reopened.show_create()
    assert reopened.create_page.path.parent == folder
    assert reopened.create_page.path.name == "space.cairn"

    apply_theme(qapp, "light")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 200


def test_error_labels_follow_the_theme(qtbot, qapp: QApplication, restore_theme: None) -> None:  # type: ignore[no-untyped-def]
    apply_theme(qapp, "light")
    label = QLabel("Wrong passphrase")
    qtbot.addWidget(label)
    label.setStyleSheet(error_style())
    apply_theme(qapp, "dark")
    colour = label.styleSheet().split(":")[1].strip(" ;")
    background = qapp.palette().color(QPalette.ColorRole.Window)
    assert contrast_ratio(QColor(colour), background) >= 4.5


def test_bad_values_in_the_settings_file_fall_back_to_defaults(tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue(preferences.IDLE_LOCK_MINUTES.key, "soon")
    settings.setValue(preferences.THEME.key, "purple")
    settings.setValue(preferences.RECENT_SPACES.key, "/one/space.cairn")
    assert preferences.read(settings, preferences.IDLE_LOCK_MINUTES) == 10
    assert preferences.read(settings, preferences.THEME) == "system"
    assert preferences.read(settings, preferences.RECENT_SPACES) == ("/one/space.cairn",)
    settings.setValue(preferences.IDLE_LOCK_MINUTES.key, 100000)
    assert preferences.read(settings, preferences.IDLE_LOCK_MINUTES) == 10


def test_recalibration_from_the_security_page(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow, kdf_policy: KdfPolicy
) -> None:
    window = unlocked
    assert window.space is not None
    path = window.space.path
    salt_before = Space.read_header(path).kdf["salt"]
    window.preferences_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "of memory" in dialog.kdf_cost.text(), timeout=10000)  # read off-thread
    dialog.tabs.setCurrentWidget(dialog.security_page)
    qtbot.keyClicks(dialog.recalibrate_passphrase, "not my passphrase")
    qtbot.mouseClick(dialog.recalibrate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "does not open" in dialog.kdf_cost.text(), timeout=10000)
    assert Space.read_header(path).kdf["salt"] == salt_before  # a typo changes nothing
    qtbot.keyClicks(dialog.recalibrate_passphrase, PASSPHRASE)
    qtbot.keyClick(dialog.recalibrate_passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Each unlock uses" in dialog.kdf_cost.text(), timeout=10000)
    assert dialog.recalibrate_passphrase.text() == ""
    assert Space.read_header(path).kdf["salt"] != salt_before
    window.lock()
    window.runner.wait()
    Space.open(path, PASSPHRASE, kdf_policy=kdf_policy).lock()


def test_locking_closes_preferences(qtbot, unlocked: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window = unlocked
    window.preferences_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    assert dialog.isVisible()
    window.lock_action.trigger()
    assert not dialog.isVisible()
    assert window.settings_dialog is None
