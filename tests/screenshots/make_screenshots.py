#!/usr/bin/env python3
"""Render the main screens offscreen to PNG files (`make screenshots`).

Usage: make_screenshots.py OUTPUT_FOLDER. Uses the demo space, so the pictures
show realistic content; nothing of the person's own settings is touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.demo import DEMO_PASSPHRASE, create_demo_space  # noqa: E402
from tests.support import TEST_KDF_POLICY  # noqa: E402
from ui.main_window import MainWindow  # noqa: E402
from ui.theme import apply_theme  # noqa: E402


def settle(app: QApplication, window: MainWindow) -> None:
    for _ in range(20):
        window.runner.wait()
        app.processEvents()


def settle_until(app: QApplication, window: MainWindow, done: Callable[[], bool]) -> None:
    """Let jobs run (network ones included) until ``done``; then settle."""
    deadline = time.monotonic() + 60
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the screen did not get ready within a minute")
        window.runner.wait(50)
        app.processEvents()
    settle(app, window)


def sync_screens(app: QApplication, window: MainWindow, work: Path, out: Path) -> None:
    """Connect the demo space to a real workspace server (started here), share with the
    preview, and bring a reviewer's feedback home: sync-connect, -preview, -feedback."""
    from sync.server import directory, reviews
    from tests.live_server import running_server

    assert window.space is not None
    by_title = {s.title: s.id for s in window.space.list_assets()[0]}
    with running_server(work / "server", "sqlite") as server:
        with server.session() as session:
            workspace = directory.create_workspace(session, "Northwind Support")
            directory.create_point(session, workspace, "Q3 evidence", "open",
                                   datetime.now(UTC) + timedelta(days=24))  # fmt: skip
            directory.create_point(session, workspace, "Annual review", "locked", None)
            _, code = directory.create_invite(session, workspace, "sam@example.org")
            session.commit()
        window.sync.show_connect()
        dialog = window.sync.connect_dialog
        assert dialog is not None
        dialog.address.setText("https://cairn.northwind.example")
        dialog.code.setText(code)
        dialog.device.setText("Sam's laptop")
        settle(app, window)
        dialog.grab().save(str(out / "sync-connect.png"))
        dialog.address.setText(server.url)
        dialog.connect_button.click()
        settle_until(app, window, lambda: not window.sync.syncing and any(
            a.last_sync for a in window.sync.accounts))  # fmt: skip

        sharing = window.sync.sharing
        sharing.share_with_organisation([by_title["Whiteboard after the stand-up workshop"]])
        settle_until(app, window, lambda: window.sync.sharing.disclose_dialog is not None)
        disclose = window.sync.sharing.disclose_dialog
        assert disclose is not None
        disclose.points.setCurrentRow(0)
        settle_until(app, window, lambda: disclose.preview.shown is not None)
        disclose.grab().save(str(out / "sync-preview.png"))
        disclose.reject()

        plan = by_title["Run stand-ups that end on time"]
        window.sync.sharing.share_with_organisation([plan])
        settle_until(app, window, lambda: window.sync.sharing.disclose_dialog is not None)
        disclose = window.sync.sharing.disclose_dialog
        assert disclose is not None
        disclose.points.setCurrentRow(0)
        settle_until(app, window, disclose.confirm_button.isEnabled)
        disclose.confirm_button.click()
        settle_until(app, window, lambda: window.library.model.badges.get(plan) == "delivered")
        assert window.sync.snapshot is not None
        submission_id = window.sync.snapshot.entries[0].submission_id
        with server.session() as session:
            submission = reviews.submission_or_404(session, submission_id)
            reviewer = directory.user_for_email(session, "alex.morgan@northwind.example")
            reviews.add_feedback(session, submission, reviewer, "reviewer", "comment", text=(
                "Good plan. The parking lot is a nice touch; add a date to check in with Sam "
                "after the first week."))  # fmt: skip
            reviews.add_feedback(session, submission, reviewer, "reviewer", "decision",
                                 text="Well evidenced: the whiteboard photo shows the new format "
                                      "working.", decision="validated", rating=4)  # fmt: skip
            session.commit()
        window.sync.sync_now(only_due=False)
        settle_until(app, window, lambda: window.library.model.badges.get(plan) == "validated")
        window.editing.open_asset(plan)
        settle_until(app, window, lambda: window.editor is not None
                     and bool(window.editor.feedback.cards))  # fmt: skip
        assert window.editor is not None
        window.editor.show_feedback_tab()
        settle(app, window)
        window.grab().save(str(out / "sync-feedback.png"))
        window.editing.leave_editor()
        settle(app, window)


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cairn-shots-"))
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")
    app = QApplication([])
    apply_theme(app, "light")
    space_path = work / "demo.cairn"
    create_demo_space(space_path, TEST_KDF_POLICY).lock()

    def window_with(recent: list[Path]) -> MainWindow:
        settings = QSettings(str(work / f"settings-{len(recent)}.ini"), QSettings.Format.IniFormat)
        settings.setValue("spaces/recent", [str(p) for p in recent])
        window = MainWindow(kdf_policy=TEST_KDF_POLICY, settings=settings)
        window.resize(1180, 760)
        window.show()
        return window

    shots: dict[str, MainWindow] = {}
    welcome = window_with([])
    settle(app, welcome)
    welcome.grab().save(str(out / "welcome.png"))
    shots["welcome"] = welcome

    window = window_with([space_path])
    settle(app, window)
    window.grab().save(str(out / "unlock.png"))
    window.unlock_space(str(space_path), DEMO_PASSPHRASE)
    settle(app, window)
    window.grab().save(str(out / "dashboard.png"))
    window.library.sidebar.setCurrentRow(1)
    settle(app, window)
    window.grab().save(str(out / "library.png"))
    assert window.space is not None
    by_title = {s.title: s.id for s in window.space.list_assets()[0]}
    for name, title in (("editor-plan", "Run stand-ups that end on time"),
                        ("editor-reflection", "A tough client call about scope"),
                        ("editor-evidence", "Whiteboard after the stand-up workshop")):  # fmt: skip
        window.editing.open_asset(by_title[title])
        settle(app, window)
        window.grab().save(str(out / f"{name}.png"))
        window.editing.leave_editor()
        settle(app, window)
    window.show_settings()
    settle(app, window)
    assert window.settings_dialog is not None
    window.settings_dialog.grab().save(str(out / "settings.png"))
    window.settings_dialog.tabs.setCurrentWidget(window.settings_dialog.security_page)
    settle(app, window)
    window.settings_dialog.grab().save(str(out / "settings-security.png"))
    window.settings_dialog.close()
    apply_theme(app, "dark")
    settle(app, window)
    window.grab().save(str(out / "library-dark.png"))
    apply_theme(app, "light")
    sync_screens(app, window, work, out)
    window.lock()
    settle(app, window)
    print(f"wrote {len(list(out.glob('*.png')))} screenshots to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
