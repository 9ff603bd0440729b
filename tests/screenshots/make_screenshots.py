#!/usr/bin/env python3
"""Render the main screens offscreen to PNG files (`make screenshots`).

Usage: make_screenshots.py OUTPUT_FOLDER. Uses the demo space, so the pictures
show realistic content; nothing of the person's own settings is touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
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
    window.lock()
    settle(app, window)
    print(f"wrote {len(list(out.glob('*.png')))} screenshots to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
