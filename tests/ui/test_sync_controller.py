"""The sync controller in the real window, without a server: what a person sees when the
server is not there, when nothing is connected yet, and when the space locks."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from tests.live_server import free_port
from ui.main_window import MainWindow

WAIT = 20000


def test_the_organisations_menu_is_there_and_only_works_unlocked(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow
) -> None:
    window = unlocked
    menu = window.sync.menu
    file_menu = window.menuBar().actions()[0].menu()
    assert isinstance(file_menu, QMenu)
    assert menu.menuAction() in file_menu.actions()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["&Connect to an Organisation…", "&Share with an Organisation…",
                     "Share &Publicly…", "&Outbox…", "&Review Requests…",
                     "S&ync Now"]  # fmt: skip
    assert all(a.isEnabled() for a in menu.actions())
    assert not window.sync.status_button.isVisible()  # nothing connected, nothing to say
    window.lock()
    assert not any(a.isEnabled() for a in menu.actions() if not a.isSeparator())


def test_an_unreachable_server_is_said_plainly_and_the_dialog_stays(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow
) -> None:
    window = unlocked
    window.sync.connect_action.trigger()
    dialog = window.sync.connect_dialog
    assert dialog is not None
    dialog.address.setText(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    qtbot.keyClicks(dialog.code, "ABCD-EFGH-IJKL")
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)
    assert dialog.progress.isVisible()
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT)
    assert dialog.isVisible()
    assert dialog.status.text().startswith("The server could not be reached.")
    assert dialog.address.isEnabled()
    assert dialog.address.hasSelectedText()  # the address is the thing to check
    assert not dialog.progress.isVisible()
    assert window.sync.accounts == ()
    dialog.cancel_button.click()
    assert window.sync.connect_dialog is None


def test_sharing_before_connecting_asks_to_connect_first(  # type: ignore[no-untyped-def]
    qtbot, unlocked: MainWindow
) -> None:
    window = unlocked
    space = window.space
    assert space is not None
    asset = space.add_asset("builtin/journal", "Week one", {"entry": "first week"})
    window.refresh_library()
    qtbot.waitUntil(lambda: window.library.model.rowCount() == 1, timeout=WAIT)
    window.sync.share_action.trigger()  # nothing chosen yet
    assert window.statusBar().currentMessage() == "Choose one or more items in the library first."
    window.library.table.selectRow(window.library.model.row_of(asset.id))
    window.sync.share_action.trigger()
    qtbot.waitUntil(lambda: window.sync.sharing.disclose_dialog is not None, timeout=WAIT)
    disclose = window.sync.sharing.disclose_dialog
    assert disclose is not None
    assert disclose.no_points.text() == "Connect to an organisation first."
    assert not disclose.confirm_button.isEnabled()
    assert window.sync.connect_dialog is not None  # offered at once

    window.lock()  # closes what shows the space's data, and stops syncing
    assert window.sync.sharing.disclose_dialog is None
    assert window.sync.connect_dialog is None
    assert not disclose.isVisible()
    assert not window.sync.timer.isActive()
    assert not window.sync.active
