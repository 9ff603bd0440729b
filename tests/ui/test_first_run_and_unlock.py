"""The desktop app's first run, unlock, recovery, lock and library, driven as a person would."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer

from app.space import Space
from store.kdf import PRODUCTION_POLICY, KdfPolicy
from tests.conftest import PASSPHRASE
from tests.support import raw_db
from ui.main_window import MainWindow


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, kdf_policy: KdfPolicy, settings: QSettings):  # type: ignore[no-untyped-def]
    main = MainWindow(kdf_policy=kdf_policy, settings=settings)
    qtbot.addWidget(main)
    main.show()
    yield main
    main.lock()
    main.runner.wait()


def _create_through_the_ui(qtbot, window: MainWindow, path: Path) -> str:  # type: ignore[no-untyped-def]
    assert window.stack.currentWidget() is window.welcome
    qtbot.mouseClick(window.welcome.create_button, Qt.MouseButton.LeftButton)
    page = window.create_page
    assert window.stack.currentWidget() is page
    page.set_path(path)
    assert not page.create_button.isEnabled()
    qtbot.keyClicks(page.fields.passphrase, PASSPHRASE)
    qtbot.keyClicks(page.fields.confirm, PASSPHRASE[:-1])
    assert not page.create_button.isEnabled()
    assert page.fields.mismatch.text()
    qtbot.keyClicks(page.fields.confirm, PASSPHRASE[-1])
    assert page.create_button.isEnabled()
    qtbot.mouseClick(page.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.recovery_key_page, timeout=10000)
    return window.recovery_key_page._key


def test_first_run_creates_a_space_and_shows_the_recovery_key_once(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path, kdf_policy: KdfPolicy
) -> None:
    path = tmp_path / "mine.cairn"
    key = _create_through_the_ui(qtbot, window, path)
    assert path.is_file()
    keys = window.recovery_key_page
    shown = keys.key_label.text().replace("\n", "  ").split()
    assert "-".join(shown) == key
    assert not keys.continue_button.isEnabled()
    qtbot.keyClicks(keys.retype, key[:20])
    assert not keys.continue_button.isEnabled()
    keys.retype.setText(key.lower().replace("-", " "))  # typed loosely still matches
    assert keys.continue_button.isEnabled()
    qtbot.mouseClick(keys.continue_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.library
    assert keys.key_label.text() == ""  # not kept on screen
    qtbot.waitUntil(lambda: window.library.content.currentWidget() is window.library.empty)
    assert "Your space is empty" in window.library.empty.text()
    # The key really opens the space.
    Space.open_with_recovery_key(path, key, kdf_policy=kdf_policy).lock()


def test_recovery_key_can_be_saved_to_a_private_file(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    key = _create_through_the_ui(qtbot, window, tmp_path / "s.cairn")
    target = tmp_path / "key.txt"
    window.recovery_key_page.save_to(target)
    assert key in target.read_text()
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"


@pytest.fixture
def existing(tmp_path: Path, kdf_policy: KdfPolicy, settings: QSettings) -> Path:
    path = tmp_path / "existing.cairn"
    space, _ = Space.create(path, PASSPHRASE, kdf_policy=kdf_policy)
    space.add_asset("builtin/smart-plan", "Run better stand-ups", {"specific": "timebox"},
                    ["facilitation"])  # fmt: skip
    space.add_asset("builtin/reflection", "A tough client call", {"description": "scope creep"})
    space.add_asset("builtin/journal", "First week", {"entry": "shadowed the support team"})
    space.lock()
    settings.setValue("spaces/recent", [str(path)])
    return path


def _unlock(qtbot, window: MainWindow, passphrase: str) -> None:  # type: ignore[no-untyped-def]
    page = window.unlock_page
    page.passphrase.clear()
    qtbot.keyClicks(page.passphrase, passphrase)
    qtbot.keyClick(page.passphrase, Qt.Key.Key_Return)


def test_unlock_wrong_then_right_passphrase(qtbot, existing: Path, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    assert window.stack.currentWidget() is window.unlock_page
    assert window.unlock_page.current_path() == str(existing.resolve())
    _unlock(qtbot, window, "not it")
    qtbot.waitUntil(lambda: window.unlock_page.error.text() != "", timeout=10000)
    assert "does not open this space" in window.unlock_page.error.text()
    assert window.stack.currentWidget() is window.unlock_page
    _unlock(qtbot, window, PASSPHRASE)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 3, timeout=10000)
    assert window.stack.currentWidget() is window.library
    titles = {window.library.model.index(r, 0).data() for r in range(3)}
    assert titles == {"Run better stand-ups", "A tough client call", "First week"}
    templates = {window.library.model.index(r, 1).data() for r in range(3)}
    assert templates == {"SMART action plan", "Structured reflection (Gibbs)", "Journal entry"}


def test_a_damaged_file_is_not_called_a_wrong_passphrase(  # type: ignore[no-untyped-def]
    qtbot, existing: Path, window: MainWindow
) -> None:
    db = raw_db(existing)
    wrapped = bytearray(
        db.execute("SELECT wrapped FROM keyslot WHERE kind='passphrase'").fetchone()[0]
    )
    wrapped[15] ^= 1
    db.execute("UPDATE keyslot SET wrapped=? WHERE kind='passphrase'", (bytes(wrapped),))
    db.close()
    _unlock(qtbot, window, PASSPHRASE)
    qtbot.waitUntil(lambda: window.unlock_page.error.text() != "", timeout=10000)
    assert "damaged" in window.unlock_page.error.text()
    assert "passphrase is fine" in window.unlock_page.error.text()


def test_search_as_you_type_and_the_sidebar_filter(
    qtbot, existing: Path, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    _unlock(qtbot, window, PASSPHRASE)
    library = window.library
    qtbot.waitUntil(lambda: library.model.rowCount() == 3, timeout=10000)
    qtbot.keyClicks(library.search, "scope")
    qtbot.waitUntil(lambda: library.model.rowCount() == 1, timeout=10000)
    assert library.model.index(0, 0).data() == "A tough client call"
    library.search.clear()
    qtbot.waitUntil(lambda: library.model.rowCount() == 3)
    library.sidebar.setCurrentRow(2)  # Plans
    assert library.model.rowCount() == 1
    assert library.model.index(0, 0).data() == "Run better stand-ups"
    library.sidebar.setCurrentRow(5)  # Evidence: none yet
    assert library.content.currentWidget() is library.empty
    assert library.empty.text() == "Nothing of this kind yet."


def test_lock_clears_everything_and_returns_to_unlock(
    qtbot, existing: Path, window: MainWindow
) -> None:  # type: ignore[no-untyped-def]
    _unlock(qtbot, window, PASSPHRASE)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 3, timeout=10000)
    assert window.lock_action.isEnabled()
    space = window.space
    assert space is not None
    window.lock_action.trigger()
    assert window.stack.currentWidget() is window.unlock_page
    assert window.library.model.rowCount() == 0
    assert window.space is None
    qtbot.waitUntil(lambda: space._store.is_locked, timeout=5000)
    assert not window.lock_action.isEnabled()


def test_forgot_passphrase_recovers_with_the_key(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, kdf_policy: KdfPolicy, settings: QSettings, window: MainWindow
) -> None:
    path = tmp_path / "forgotten.cairn"
    space, key = Space.create(path, "long forgotten words", kdf_policy=kdf_policy)
    space.add_asset("builtin/journal", "Still here", {"entry": "x"})
    space.lock()
    settings.setValue("spaces/recent", [str(path)])
    window.show_start()
    qtbot.mouseClick(window.unlock_page.forgot_button, Qt.MouseButton.LeftButton)
    page = window.recover_page
    assert window.stack.currentWidget() is page
    qtbot.keyClicks(page.key, "AAAA-" + key[5:])  # one group wrong: refused
    qtbot.keyClicks(page.fields.passphrase, "new and remembered")
    qtbot.keyClicks(page.fields.confirm, "new and remembered")
    qtbot.mouseClick(page.recover_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.error.text() != "", timeout=10000)
    assert "recovery key" in page.error.text()
    page.key.setText(key)
    qtbot.mouseClick(page.recover_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=10000)
    window.lock()
    window.runner.wait()
    Space.open(path, "new and remembered", kdf_policy=kdf_policy).lock()


def test_unlocking_never_blocks_the_event_loop(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, settings: QSettings
) -> None:
    """Key derivation (real Argon2id at the floor) runs while a timer keeps firing."""
    floor = KdfPolicy(fixed=(PRODUCTION_POLICY.min_memory_kib, PRODUCTION_POLICY.min_iterations, 1))
    path = tmp_path / "real.cairn"
    Space.create(path, PASSPHRASE, kdf_policy=floor)[0].lock()
    settings.setValue("spaces/recent", [str(path)])
    main = MainWindow(kdf_policy=floor, settings=settings)
    qtbot.addWidget(main)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    started = time.monotonic()
    main.unlock_space(str(path), PASSPHRASE)
    assert main.unlock_page.progress.isVisible() or not main.isVisible()
    qtbot.waitUntil(lambda: main.space is not None, timeout=20000)
    elapsed = time.monotonic() - started
    timer.stop()
    gaps = [b - a for a, b in zip([started, *ticks], ticks, strict=False)]
    assert elapsed > 0.1, "derivation was too quick to show anything"
    assert max(gaps) < 0.1, f"the GUI thread stalled for {max(gaps):.3f} s"
    main.lock()
    main.runner.wait()


def test_idle_lock_clears_the_views(qtbot, existing: Path, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.set_idle_lock(400)
    _unlock(qtbot, window, PASSPHRASE)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 3, timeout=10000)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.unlock_page, timeout=5000)
    assert window.space is None
    assert window.library.model.rowCount() == 0
    assert "inactivity" in window.statusBar().currentMessage()


def test_activity_postpones_the_idle_lock(qtbot, existing: Path, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.set_idle_lock(600)
    _unlock(qtbot, window, PASSPHRASE)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 3, timeout=10000)
    for _ in range(4):  # keep typing for longer than the timeout
        qtbot.wait(300)
        qtbot.keyClick(window.library.search, Qt.Key.Key_A)
    assert window.space is not None
    assert window.stack.currentWidget() is window.library


def test_settings_persist_and_security_actions_work(  # type: ignore[no-untyped-def]
    qtbot, existing: Path, window: MainWindow, settings: QSettings, kdf_policy: KdfPolicy
) -> None:
    _unlock(qtbot, window, PASSPHRASE)
    qtbot.waitUntil(lambda: window.space is not None, timeout=10000)
    window.preferences_action.trigger()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.idle_minutes.setValue(3)
    assert window.idle_timer.interval() == 3 * 60_000
    assert int(settings.value("security/idle_lock_minutes")) == 3
    reopened = MainWindow(kdf_policy=kdf_policy, settings=settings)  # settings persisted
    qtbot.addWidget(reopened)
    assert reopened.idle_timer.interval() == 3 * 60_000

    dialog.tabs.setCurrentWidget(dialog.security_page)
    qtbot.keyClicks(dialog.passphrase.passphrase, "a changed passphrase")
    qtbot.keyClicks(dialog.passphrase.confirm, "a changed passphrase")
    qtbot.mouseClick(dialog.change_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "has been changed" in dialog.security_status.text(), timeout=10000)
    qtbot.mouseClick(dialog.new_key_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.key_page.isVisible(), timeout=10000)
    new_key = dialog.key_page._key
    dialog.key_page.retype.setText(new_key)
    qtbot.mouseClick(dialog.key_page.continue_button, Qt.MouseButton.LeftButton)
    assert not dialog.key_page.isVisible()
    window.lock()
    window.runner.wait()
    Space.open(existing, "a changed passphrase", kdf_policy=kdf_policy).lock()
    Space.open_with_recovery_key(existing, new_key, kdf_policy=kdf_policy).lock()


def test_tab_from_the_passphrase_goes_to_unlock(qtbot, existing: Path, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    page = window.unlock_page
    assert page.passphrase.nextInFocusChain() is page.unlock_button
    assert page.spaces.nextInFocusChain() is page.passphrase
